"Project wiring that notebooks cannot check on themselves: nbdev settings, cleaning, test flags."
import json
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def settings():
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    return cfg['DEFAULT']


def test_test_flags_declared():
    assert set(settings()['tst_flags'].split()) == {'slow', 'cuda', 'multigpu'}


def test_nbdev_clean_keeps_papermill_parameters_tag(tmp_path):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': 7, 'id': 'abc', 'outputs': [],
                     'metadata': {'tags': ['parameters'], 'scrolled': True}, 'source': ['epochs = 1']}],
          'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    # inside the project, so that nbdev reads its settings.ini
    path = ROOT/'nbs'/'_tmp_clean_check.ipynb'
    try:
        path.write_text(json.dumps(nb))
        subprocess.run([str(BIN/'nbdev_clean'), '--fname', str(path)], cwd=ROOT, check=True, capture_output=True)
        cell = json.loads(path.read_text())['cells'][0]
    finally:
        path.unlink(missing_ok=True)
    assert cell['metadata'] == {'tags': ['parameters']}  # the tag stays, other cell metadata goes
    assert cell['execution_count'] is None


def test_slow_cells_skipped_unless_asked(tmp_path):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'metadata': {}, 'outputs': [],
                     'source': ['#| slow\n', 'raise RuntimeError("slow cell ran")']}],
          'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    path = ROOT/'nbs'/'_tmp_flag_check.ipynb'  # nbdev skips files starting with '_' only when globbing
    try:
        path.write_text(json.dumps(nb))
        default = subprocess.run([str(BIN/'nbdev_test'), '--path', str(path)], cwd=ROOT, capture_output=True, text=True)
        forced = subprocess.run([str(BIN/'nbdev_test'), '--path', str(path), '--flags', 'slow'], cwd=ROOT, capture_output=True, text=True)
    finally:
        path.unlink(missing_ok=True)
    assert default.returncode == 0, default.stderr
    assert forced.returncode != 0 and 'slow cell ran' in forced.stderr + forced.stdout


def module_order(pkg:Path) -> dict[str, tuple[int, str]]:
    "Each module of the package `pkg` -> the number of the notebook that exports it, as `(29, '')` or `(4, 'a')`."
    import re
    order = {}
    for p in pkg.rglob('*.py'):
        m = re.search(r'File to edit: .*?nbs/(\d+)([a-z]?)_', p.read_text(errors='ignore')[:400])
        if m: order['.'.join(p.relative_to(pkg.parent).with_suffix('').parts)] = (int(m.group(1)), m.group(2))
    return order


def import_edges(pkg:Path) -> set[tuple[str, str]]:
    "(module, module it imports) for every import in the package `pkg` (module level or inside a function) of one of its own modules."
    import ast
    order = module_order(pkg)
    edges = set()
    for mod in sorted(order):
        here = mod.split('.')[:-1]
        for node in ast.walk(ast.parse((pkg.parent/Path(*mod.split('.'))).with_suffix('.py').read_text())):
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                target = '.'.join(base + (node.module.split('.') if node.module else []))
                names = [target] + [f'{target}.{a.name}' for a in node.names]
            elif isinstance(node, ast.Import): names = [a.name for a in node.names]
            else: continue
            edges |= {(mod, t) for t in names if t in order}
    return edges


def upward_imports(pkg:Path) -> list[str]:
    "Every import in the package `pkg` (module level or inside a function) that reaches a module exported by a later notebook."
    order = module_order(pkg)
    return sorted(f'{m} (notebook {order[m][0]}{order[m][1]}) imports {t} (notebook {order[t][0]}{order[t][1]})'
                  for m, t in import_edges(pkg) if order[t] > order[m])


def upward_folder_imports(pkg:Path) -> list[str]:
    "Every import by a module in a folder of `pkg` (`data/`, `models/`, ...) of a module in another folder whose notebooks start later: each folder is one layer."
    order, first = module_order(pkg), {}
    folder = lambda m: m.rsplit('.', 1)[0] if m.count('.') > 1 else None   # 'bassl.models.crn' -> 'bassl.models'; a top-level module: None
    for m, n in order.items():
        if (f := folder(m)) is not None: first[f] = min(first.get(f, n), n)
    n = lambda f: f'{first[f][0]}{first[f][1]}'
    return sorted(f'{m} ({folder(m)}, from notebook {n(folder(m))}) imports {t} ({folder(t)}, from notebook {n(folder(t))})'
                  for m, t in import_edges(pkg) if folder(m) and folder(t) and folder(t) != folder(m) and first[folder(t)] > first[folder(m)])


def test_upward_imports_found(tmp_path):
    pkg = tmp_path/'lib'; (pkg/'sub').mkdir(parents=True)
    head = lambda nb: f'# AUTOGENERATED! DO NOT EDIT! File to edit: ../nbs/{nb}.ipynb.\n'
    (pkg/'low.py').write_text(head('01_low') + 'def f():\n    from .sub.high import g\n')   # lazy, inside a function: still an edge
    (pkg/'sub'/'high.py').write_text(head('05_sub.high') + 'from ..low import f\n')       # downward: fine
    (pkg/'mid.py').write_text(head('03a_mid') + 'import lib.sub.high\n')
    assert upward_imports(pkg) == ['lib.low (notebook 1) imports lib.sub.high (notebook 5)',
                                   'lib.mid (notebook 3a) imports lib.sub.high (notebook 5)']


def test_layers_in_notebook_order():
    "No module of bassl imports one exported by a later notebook: reading the notebooks in order is reading the layers bottom up."
    assert upward_imports(ROOT/'bassl') == []


def test_upward_folder_imports_found(tmp_path):
    head = lambda nb: f'# AUTOGENERATED! DO NOT EDIT! File to edit: ../../nbs/{nb}.ipynb.\n'
    for d in ('models', 'pretext'): (tmp_path/'lib'/d).mkdir(parents=True)
    (tmp_path/'lib'/'models'/'enc.py').write_text(head('10_models.enc'))
    (tmp_path/'lib'/'pretext'/'loss.py').write_text(head('14_pretext.loss') + 'from ..models.enc import f\n')     # a later folder reads an earlier one: fine
    (tmp_path/'lib'/'models'/'ckpt.py').write_text(head('16_models.ckpt') + 'from ..pretext.loss import g\n')    # later by number, yet models/ reaches up
    (tmp_path/'lib'/'config.py').write_text(head('20_config').replace('../../', '../') + 'from .models.ckpt import h\n')  # top-level modules: by number only
    assert upward_imports(tmp_path/'lib') == []
    assert upward_folder_imports(tmp_path/'lib') == [
        'lib.models.ckpt (lib.models, from notebook 10) imports lib.pretext.loss (lib.pretext, from notebook 14)']


def test_folders_are_layers():
    "A folder of bassl (data/, models/, pretext/, train/) imports nothing from a folder that starts later: models/ never reads pretext/."
    assert upward_folder_imports(ROOT/'bassl') == []


def upward_test_imports(pkg:Path, nbs:Path) -> list[str]:
    "Every import in a numbered notebook's cells (its tests included) of a module exported by a later notebook."
    import ast, re
    order, found = module_order(pkg), []
    for nb in sorted(nbs.glob('*.ipynb')):
        if not (m := re.match(r'(\d+)([a-z]?)_', nb.name)): continue
        n = (int(m.group(1)), m.group(2))
        for cell in json.loads(nb.read_text())['cells']:
            if cell['cell_type'] != 'code': continue
            code = ''.join(l for l in ''.join(cell['source']).splitlines(keepends=True) if not l.lstrip().startswith(('%', '!')))
            try: tree = ast.parse(code)
            except SyntaxError: continue
            for node in ast.walk(tree):
                names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                        [a.name for a in node.names] if isinstance(node, ast.Import) else []
                found += [f'{nb.name} imports {t} (notebook {order[t][0]}{order[t][1]})' for t in names if t in order and order[t] > n]
    return sorted(set(found))


def test_upward_test_imports_found(tmp_path):
    pkg, nbs = tmp_path/'lib', tmp_path/'nbs'; pkg.mkdir(); nbs.mkdir()
    (pkg/'fixtures.py').write_text('# AUTOGENERATED! DO NOT EDIT! File to edit: ../nbs/04a_fixtures.ipynb.\n')
    (pkg/'train.py').write_text('# AUTOGENERATED! DO NOT EDIT! File to edit: ../nbs/26_train.ipynb.\n')
    cell = lambda src: {'cell_type': 'code', 'source': [src]}
    (nbs/'05_check.ipynb').write_text(json.dumps({'cells': [cell('%time x = 1\nfrom lib.fixtures import tiny_root'), cell('import lib.train')]}))
    (nbs/'30_late.ipynb').write_text(json.dumps({'cells': [cell('from lib.train import fit')]}))
    assert upward_test_imports(pkg, nbs) == ['05_check.ipynb imports lib.train (notebook 26)']


def test_tests_in_notebook_order():
    "A notebook's tests, too, use only what earlier notebooks export: the light fixtures sit low (bassl.fixtures), the training ones high."
    assert upward_test_imports(ROOT/'bassl', ROOT/'nbs') == []


def test_small_cells_short_lines():
    "Library lines fit 120 characters (nbdev writes the module docstring and `__all__` itself); export cells stay small."
    import re
    import statistics
    long = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT/'bassl').rglob('*.py')) if p.name != '_modidx.py'
            for i, l in enumerate(p.read_text().splitlines(), 1) if len(l) > 120 and i > 1 and not l.startswith('__all__ = ')]
    assert not long, f"lines over 120 characters: {long}"
    sizes = []
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            s = ''.join(c['source'])
            if c['cell_type'] == 'code' and re.search(r'^#\|\s*export', s, re.M):
                sizes.append(sum(1 for l in s.splitlines() if not l.startswith('#|')))
    assert statistics.median(sizes) <= 12 and sum(n >= 50 for n in sizes) <= 5, (statistics.median(sizes), sorted(sizes)[-6:])


def test_notebooks_leave_the_environment_as_they_found_it():
    "`nbdev_test` runs several notebooks in each worker process: an environment variable one changes moves the next one's cache."
    import re
    changes = re.compile(r"os\.environ\[[^]]+\]\s*=(?!=)|del\s+os\.environ\b|os\.environ\.(pop|update|setdefault|clear)\(|os\.putenv\(")
    found = [f"{nb.relative_to(ROOT)}: {l.strip()}" for nb in sorted((ROOT/'nbs').rglob('*.ipynb'))
             if nb.name != '04a_fixtures.ipynb'     # TempCache, which puts the variable back
             for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code'
             for l in ''.join(c['source']).splitlines() if changes.search(l)]
    assert not found, f"use bassl.fixtures.TempCache or fastcore's modified_env instead: {found}"
    nb = json.loads((ROOT/'nbs'/'04a_fixtures.ipynb').read_text())   # the check finds what it looks for
    assert any(changes.search(l) for c in nb['cells'] for l in ''.join(c['source']).splitlines())
