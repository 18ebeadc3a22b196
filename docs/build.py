"""Build the docs site into `_docs/` from the notebooks in `nbs/`, or serve it for preview.

    python docs/build.py            # nbs/ -> _proc/ (nbdev's processing, executed) -> _docs/ (Sphinx + myst-nb)
    python docs/build.py --serve    # serve _docs/ on http://127.0.0.1:8000 (builds first if _docs/ is missing)

nbdev 2 renders with Quarto, which cannot be installed here, and `nbdev_proc_nbs` insists on it, so this script runs
nbdev's notebook processors itself (`FilterDefaults` less the Quarto-only ones): `show_doc` entries after every exported
definition, hidden and exported cells dropped, directives honoured. It executes each module notebook in its own folder
(as `nbdev_test` does, skipping cells flagged with `tst_flags` or `#| eval: false`) so that examples and figures have
outputs; papermill experiment notebooks are rendered as stored, never executed. Sphinx + myst-nb (furo theme) renders
`_proc/` with everything served locally: MathJax from `sphinx-mathjax-offline`, plotly.js from the plotly package.
"""
from __future__ import annotations

import argparse, collections, concurrent.futures as cf, json, multiprocessing as mp, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT/'docs'
sys.path.insert(0, str(DOCS))
NBS, PROC, OUT = ROOT/'nbs', ROOT/'_proc', ROOT/'_docs'

# Sidebar groups, in notebook order: (caption, predicate on the notebook's path relative to nbs/)
def _num(rel:Path) -> int|None:
    m = re.match(r'^(\d+)[a-z]?_', rel.name)
    return int(m.group(1)) if m and len(rel.parts) == 1 else None

GROUPS = [
    ('Core & data', lambda r: _num(r) is not None and _num(r) < 10),
    ('Models & pretext tasks', lambda r: _num(r) is not None and 10 <= _num(r) < 20),
    ('Training', lambda r: _num(r) is not None and 20 <= _num(r) < 30),
    ('Exploration, tutorials & your own videos', lambda r: _num(r) is not None and 30 <= _num(r) < 40),
    ('Command line', lambda r: _num(r) is not None and 40 <= _num(r) < 50),
    ('Experiments', lambda r: r.parts[0] == 'experiments'),
    ('More', lambda r: True),
]

EXPERIMENT_ORDER = ['pretrain', 'extract', 'finetune', 'pipeline']   # the experiments in the order a run goes

def notebooks(nbs:Path=NBS) -> list[Path]:
    "Every notebook under `nbs` (recursively, skipping hidden and `_` names), top folder first, then by name."
    res = [p for p in nbs.rglob('*.ipynb')
           if not any(o.startswith(('.', '_')) for o in p.relative_to(nbs).parts)]
    def key(p):
        rel = p.relative_to(nbs)
        flow = EXPERIMENT_ORDER.index(rel.stem) if rel.parts[0] == 'experiments' and rel.stem in EXPERIMENT_ORDER else 99
        return len(rel.parts), flow, str(rel)
    return sorted(res, key=key)

def _title_desc(nb:dict) -> tuple[str|None, str|None]:
    for c in nb['cells']:
        if c['cell_type'] != 'markdown': continue
        s = ''.join(c['source'])
        m = re.search(r'^#\s+(\S.*?)\s*$', s, flags=re.MULTILINE)
        if m:
            d = re.search(r'^>\s+(\S.*?)\s*$', s, flags=re.MULTILINE)
            return m.group(1), d.group(1) if d else None
    return None, None

def site_map(pages:list[tuple[Path, dict]]) -> tuple[str, str]:
    "Markdown of the home page's contents section and the hidden toctrees (sidebar), grouped, in notebook order."
    grouped: dict[str, list] = {g: [] for g, _ in GROUPS}
    for rel, nb in pages:
        if rel == Path('index.ipynb'): continue
        grouped[next(g for g, f in GROUPS if f(rel))].append((rel, nb))
    titles = {rel: _title_desc(nb)[0] or rel.stem for g in grouped.values() for rel, nb in g}
    seen = collections.Counter(titles.values())
    # two pages with one title would be two identical sidebar entries: those get their notebook's name too
    dup = {rel for rel, t in titles.items() if seen[t] > 1}
    titles = {rel: f'{t} ({rel.stem})' if rel in dup else t for rel, t in titles.items()}
    md, toc = ['## Contents of this site', ''], []
    for g, items in grouped.items():
        if not items: continue
        md += [f'**{g}**', '']
        for rel, nb in items:
            desc = _title_desc(nb)[1]
            doc = rel.with_suffix('').as_posix()
            md.append(f'- [{titles[rel]}]({doc}.ipynb)' + (f': {desc}' if desc else ''))
        md.append('')
        toc += ['```{toctree}', ':hidden:', ':maxdepth: 2', f':caption: {g}', '']
        for rel, _ in items:
            doc = rel.with_suffix('').as_posix()
            toc.append(f'{titles[rel]} <{doc}>' if rel in dup else doc)
        toc += ['```', '']
    return '\n'.join(md), '\n'.join(toc)

_SKIP_DIRS = {'__pycache__', '.ipynb_checkpoints'}

def files_under(d:Path) -> set[Path]:
    "Every file below `d`, relative to it (caches skipped)."
    return {p.relative_to(d) for p in d.rglob('*') if p.is_file() and not _SKIP_DIRS & set(p.relative_to(d).parts)}

def clean_new_files(d:Path, before:set[Path]) -> tuple[list[str], list[str]]:
    "Delete the folders that appeared below `d` since `before` (files listed); list new files elsewhere, left in place."
    new = sorted(files_under(d) - before)
    old_dirs = {q for p in before for q in p.parents}
    top = lambda p: next((q for q in reversed(p.parents) if q not in old_dirs), None)   # its highest new folder
    gone = sorted({top(p) for p in new if top(p) is not None})
    for q in gone: shutil.rmtree(d/q, ignore_errors=True)
    removed = [p.as_posix() for p in new if top(p) is not None]
    kept = [p.as_posix() for p in new if top(p) is None and p.suffix != '.ipynb']   # a new notebook is a source
    return removed, kept

def build(n_workers:int|None=None, execute:str='examples', only:str|None=None) -> float:
    "Build `_docs/` from `nbs/`; return seconds taken. Temp folders and files the notebooks leave are removed."
    t0 = time.time()
    shutil.rmtree(PROC, ignore_errors=True); shutil.rmtree(OUT, ignore_errors=True)
    nbs = notebooks()
    if only: nbs = [p for p in nbs if re.search(only, p.name) or p.name == 'index.ipynb']
    scratch = tempfile.mkdtemp(prefix='bassl-docs-')           # each notebook gets its own TMPDIR below this
    jobs = [(str(p), str(PROC/p.relative_to(NBS)), execute, scratch) for p in nbs]
    for _, d, _, _ in jobs: Path(d).parent.mkdir(parents=True, exist_ok=True)
    if (NBS/'images').is_dir(): shutil.copytree(NBS/'images', PROC/'images')  # pictures the notebooks show
    n_workers = n_workers or os.cpu_count() or 1
    # each worker executes its notebooks in-process: a share of the cores' threads each (torch's default, a thread per core
    # in every worker, oversubscribes: the notebooks took 111 s so, 81 s with one thread each on 2 cores). Set before the
    # workers fork: torch is imported in them, never here
    os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // n_workers)))
    documented, failed, left = set(), [], {}
    before = files_under(NBS)
    import _procs
    ctx = mp.get_context('fork')    # as nbdev_test: DataLoader workers inside notebooks fork too
    try:
        with cf.ProcessPoolExecutor(n_workers, mp_context=ctx) as ex:
            futs = {ex.submit(_procs.process_one, *j): j[0] for j in jobs}
            for f in cf.as_completed(futs):
                try: src, secs, names, tmp_left = f.result()
                except Exception as e:
                    failed.append(futs[f]); print(f'FAILED {Path(futs[f]).relative_to(ROOT)}:\n{e}', file=sys.stderr); continue
                documented |= set(names)
                if tmp_left: left[Path(src).relative_to(NBS).as_posix()] = tmp_left
                print(f'  {secs:6.1f}s  {Path(src).relative_to(ROOT)}', flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        removed, written = clean_new_files(NBS, before)
    if removed: print(f'docs build: removed {len(removed)} file(s) the notebooks wrote into new folders of nbs/: {removed[:10]}',
                      file=sys.stderr)
    if written: print(f'docs build: files written into nbs/ during the build (left in place): {written[:10]}', file=sys.stderr)
    if failed: sys.exit(f'docs build: {len(failed)} notebook(s) failed: {", ".join(failed)}')
    print(f'processed {len(jobs)} notebooks in {time.time()-t0:.1f}s', flush=True)

    # home page: the site map and the sidebar's toctrees at the end of the processed index notebook
    pages = [(p.relative_to(PROC), json.loads(p.read_text())) for p in notebooks(PROC)]
    md, toc = site_map(pages)
    idx = PROC/'index.ipynb'
    nb = json.loads(idx.read_text())
    nb['cells'] += [{'cell_type': 'markdown', 'id': 'bassl-site-map', 'metadata': {}, 'source': md},
                    {'cell_type': 'markdown', 'id': 'bassl-sidebar', 'metadata': {}, 'source': toc}]
    idx.write_text(json.dumps(nb, indent=1))
    (PROC/'_documented.json').write_text(json.dumps(sorted(documented)))
    # what the build cleaned up, for tests/test_docs.py: the scratch folder (gone), temp leftovers, files in nbs/
    (PROC/'_cleanup.json').write_text(json.dumps({'scratch': scratch, 'temp_left': left, 'nbs_removed': removed,
                                                        'nbs_written': written}, indent=1))

    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-c', str(DOCS), '-q', '-j', str(n_workers), str(PROC), str(OUT)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    (OUT/'.nojekyll').touch()
    secs = time.time() - t0
    print(f'docs built in {secs:.1f}s: {OUT.relative_to(ROOT)}/index.html')
    return secs

def serve(port:int=8000):
    "Serve `_docs/` on localhost."
    import http.server, functools
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(OUT))
    with http.server.ThreadingHTTPServer(('127.0.0.1', port), handler) as httpd:
        print(f'serving {OUT.relative_to(ROOT)}/ on http://127.0.0.1:{port}/ (Ctrl-C to stop)')
        try: httpd.serve_forever()
        except KeyboardInterrupt: pass

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--serve', action='store_true', help='serve _docs/ on localhost (builds it first if missing)')
    ap.add_argument('--port', type=int, default=8000)
    ap.add_argument('--n-workers', type=int, default=None, help='parallel notebook workers (default: all cores)')
    ap.add_argument('--exec', default='examples', choices=['examples', 'all', 'docs'],
                    help="which cells run: 'examples' (default: definitions, cells that display, what they need), "
                         "'all' (as nbdev_test), 'docs' (only what show_doc needs: fast preview)")
    ap.add_argument('--only', default=None, help='regex: only process notebooks whose name matches (and index)')
    a = ap.parse_args()
    if a.serve:
        if not (OUT/'index.html').exists(): build(a.n_workers, a.exec, a.only)
        serve(a.port)
    else: build(a.n_workers, a.exec, a.only)
