"README's commands as written: every shell line names something that exists from a fresh shell, and the cheap ones run."
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT/'README.md'
EXTERNAL = {'mkdir', 'sbatch', 'for', 'do', 'done', 'cd', 'grep'}  # the shell's and the cluster's, not the project's


def bash_lines(text:str) -> list[str]:
    "The command lines of every ```bash block, continuations joined, comments dropped."
    lines = []
    for block in re.findall(r'```bash\n(.*?)```', text, re.S):
        for cmd in re.sub(r'\\\n\s*', '', block).splitlines():
            cmd = re.sub(r'(^|\s)#.*$', '', cmd).strip()
            if cmd: lines.append(cmd)
    return lines


def make_targets() -> set[str]:
    return set(re.findall(r'^([a-z][a-z-]*):', (ROOT/'Makefile').read_text(), re.M))


def programs(cmd:str) -> list[str]:
    "The programs a line runs: its first word, and that of each command in a `--wrap` string or after `;`/`&&`/`do`."
    words = shlex.split(cmd)
    found, start = [], True
    for w in words:
        if start and w not in ('do',): found.append(w); start = False
        if w in (';', '&&', '||', 'do') or w.endswith(';'): start = True
    for i, w in enumerate(words):
        if w == '--wrap': found += programs(words[i + 1])
    return found


def test_bash_lines_parsed():
    text = "```bash\nmake demo   # a comment\nsbatch --wrap \\\n  \".venv/bin/papermill a.ipynb b.ipynb\"\n```\n```python\nx = 1\n```"
    assert bash_lines(text) == ['make demo', 'sbatch --wrap ".venv/bin/papermill a.ipynb b.ipynb"']
    assert programs(bash_lines(text)[1]) == ['sbatch', '.venv/bin/papermill']


def test_every_readme_command_exists_from_a_fresh_shell():
    "No line relies on an activated environment: project programs are `.venv/bin/...` or make targets, and the files they name exist."
    lines = bash_lines(README.read_text())
    assert len(lines) > 8, lines
    targets, bad = make_targets(), []
    for cmd in lines:
        for prog in programs(cmd):
            if prog == 'make':
                target = shlex.split(cmd)[1]
                if target not in targets: bad.append(f'{cmd!r}: no make target {target!r}')
            elif prog.startswith('.venv/bin/'):
                if not (ROOT/prog).exists(): bad.append(f'{cmd!r}: {prog} is not installed by make env')
            elif prog not in EXTERNAL: bad.append(f'{cmd!r}: {prog!r} is not on the PATH of a fresh shell (write .venv/bin/{prog} or a make target)')
        for arg in shlex.split(cmd):
            if re.match(r'^(nbs|configs|bench)/\S+\.(ipynb|yaml|py)$', arg) and not (ROOT/arg).exists(): bad.append(f'{cmd!r}: {arg} does not exist')
    assert not bad, '\n'.join(bad)


def test_readme_dry_run_runs_as_written(tmp_path):
    "README's dry-run lines, run verbatim in a clean shell from a project folder: they print the stages' commands and train nothing."
    for name in ('nbs', 'configs', 'bassl', 'settings.ini', '.venv'): (tmp_path/name).symlink_to(ROOT/name)  # the project, runs elsewhere
    lines = bash_lines(README.read_text())
    dry = [l for l in lines if 'dry_run True' in l]
    assert dry, 'README shows no dry run'
    script = '\n'.join([l for l in lines if l.startswith('mkdir -p runs/') and any(l.split()[-1] + '/' in d for d in dry)] + dry)
    env = {'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path), 'LANG': 'C.UTF-8'}  # no venv on PATH, nothing inherited
    r = subprocess.run(['bash', '-euc', script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = (tmp_path/'runs'/'bassl'/'pipeline.ipynb').read_text()
    assert '-m bassl.cli pretrain' in out and '-m bassl.cli finetune' in out, out[-3000:]
    assert not (tmp_path/'runs'/'bassl'/'pretrain'/'checkpoints').exists()  # a dry run trains nothing


def test_readme_results_are_their_records():
    "README's result tables are what the committed study records in results/ render (bassl.study.results_markdown), digit for digit."
    from bassl.study import RESULTS, results_markdown, results_records
    assert results_records(), f"no study record in {RESULTS}"
    assert results_markdown() in README.read_text()
