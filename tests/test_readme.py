"""README's commands as written, and those of the docs pages: every shell line names something that exists from a fresh
shell, and the cheap ones run. README is a front page: at most 150 lines, its links resolve, its results are the records'."""
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT/'README.md'
README_MAX_LINES = 150
# the docs pages: the notebooks of nbs/ that are neither module notebooks (numbered) nor the front page (README renders it)
PAGES = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name[0].isdigit() and p.name != 'index.ipynb')
EXTERNAL = {'mkdir', 'sbatch', 'for', 'do', 'done', 'cd', 'grep'}  # the shell's and the cluster's, not the project's


def bash_lines(text:str) -> list[str]:
    "The command lines of every ```bash block, continuations joined, comments dropped."
    lines = []
    for block in re.findall(r'```bash\n(.*?)```', text, re.S):
        for cmd in re.sub(r'\\\n\s*', '', block).splitlines():
            cmd = re.sub(r'(^|\s)#.*$', '', cmd).strip()
            if cmd: lines.append(cmd)
    return lines


def markdown_of(path:Path) -> str:
    "The markdown a reader sees: README as it is, a notebook's markdown cells."
    if path.suffix != '.ipynb': return path.read_text()
    return '\n\n'.join(''.join(c['source']) for c in json.loads(path.read_text())['cells'] if c['cell_type'] == 'markdown')


def page_lines() -> dict[str, list[str]]:
    "Every page's shell lines: README's and each docs page's."
    return {p.relative_to(ROOT).as_posix(): bash_lines(markdown_of(p)) for p in [README, *PAGES]}


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


def test_docs_pages_found():
    names = [p.name for p in PAGES]
    assert {'guide.ipynb', 'benchmarks.ipynb', 'developing.ipynb'} <= set(names), names
    assert all(bash_lines(markdown_of(ROOT/'nbs'/n)) for n in ('guide.ipynb', 'benchmarks.ipynb', 'developing.ipynb'))


def test_every_readme_command_exists_from_a_fresh_shell():
    "No line of README or of a docs page relies on an activated environment: project programs are `.venv/bin/...` or make targets, and the files they name exist."
    pages = page_lines()
    assert len(pages['README.md']) >= 4 and sum(map(len, pages.values())) > 8, pages
    targets, bad = make_targets(), []
    for page, lines in pages.items():
        for cmd in lines:
            for prog in programs(cmd):
                if prog == 'make':
                    target = shlex.split(cmd)[1]
                    if target not in targets: bad.append(f'{page}: {cmd!r}: no make target {target!r}')
                elif prog.startswith('.venv/bin/'):
                    if not (ROOT/prog).exists(): bad.append(f'{page}: {cmd!r}: {prog} is not installed by make env')
                elif prog not in EXTERNAL: bad.append(f'{page}: {cmd!r}: {prog!r} is not on the PATH of a fresh shell (write .venv/bin/{prog} or a make target)')
            for arg in shlex.split(cmd):
                if re.match(r'^(nbs|configs|bench)/\S+\.(ipynb|yaml|py)$', arg) and not (ROOT/arg).exists(): bad.append(f'{page}: {cmd!r}: {arg} does not exist')
    assert not bad, '\n'.join(bad)


def test_readme_is_a_front_page():
    "README stays a front page: the two set-up commands first, at most 150 lines; the rest lives on the docs pages."
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES, f'README.md has {len(text.splitlines())} lines (at most {README_MAX_LINES}): move detail to a docs page'
    assert bash_lines(text)[:2] == ['make demo', 'make test'], bash_lines(text)[:2]


def test_readme_links_resolve():
    "README's relative links and pictures (written relative to nbs/ in nbs/index.ipynb, rewritten by .ci/readme.py) point at files."
    links = re.findall(r'\]\(([^)\s]+)\)', README.read_text())
    local = [l.split('#')[0] for l in links if not re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:|^#', l)]
    assert any(l.endswith('.ipynb') for l in local) and any(l.endswith('.png') for l in local), local
    missing = [l for l in local if not (ROOT/l).exists()]
    assert not missing, missing


def test_readme_dry_run_runs_as_written(tmp_path):
    "The dry-run lines of README and the docs pages, run verbatim in a clean shell from a project folder: they print the stages' commands and train nothing."
    for name in ('nbs', 'configs', 'bassl', 'settings.ini', '.venv'): (tmp_path/name).symlink_to(ROOT/name)  # the project, runs elsewhere
    pages = page_lines()
    lines = list(dict.fromkeys(l for ls in pages.values() for l in ls))  # a line shown on two pages runs once
    dry = [l for l in lines if 'dry_run True' in l]
    assert dry, 'neither README nor a docs page shows a dry run'
    script = '\n'.join([l for l in lines if l.startswith('mkdir -p runs/') and any(l.split()[-1] + '/' in d for d in dry)] + dry)
    env = {'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path), 'LANG': 'C.UTF-8'}  # no venv on PATH, nothing inherited
    r = subprocess.run(['bash', '-euc', script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = (tmp_path/'runs'/'bassl'/'pipeline.ipynb').read_text()
    assert '-m bassl.cli pretrain' in out and '-m bassl.cli finetune' in out, out[-3000:]
    assert not (tmp_path/'runs'/'bassl'/'pretrain'/'checkpoints').exists()  # a dry run trains nothing


def test_readme_results_are_their_records():
    "README's result table is what the front page's committed study record renders (bassl.study.results_markdown), digit for digit."
    from bassl.study import FRONT_PAGE, RESULTS, results_markdown, results_records
    assert FRONT_PAGE in [p.stem for p in results_records()], f"no record {FRONT_PAGE}.json in {RESULTS}"
    assert results_markdown(names=[FRONT_PAGE]) in README.read_text()


def test_readme_demo_time_is_its_record():
    "The demo's time in README is what its committed record (results/demo.json) says, beside that machine's yardstick."
    from bassl.study import demo_time
    line = demo_time()
    assert 'yardstick' in line and line in README.read_text(), line
