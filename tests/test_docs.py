"""The docs site: built from the notebooks by `python docs/build.py`, opened page by page in headless Chromium.

Asserts that every page loads with no JavaScript console error and no request leaving localhost, that every internal
link (page and #anchor) resolves, that every name in a bassl module's `__all__` has an API entry (anchor
`<module>.<name>`), that plotly figures are drawn (SVG) on the pages that have them, and that search finds a symbol;
that API parameter tables have no `self` row and no empty column, that the sidebar lists each page once under a title
of its own, that nothing sticks out of a page's column (long code scrolls in its block), that the objectives page
typesets its loss formulas and the DTW page draws its alignment, and that the build leaves no temporary data behind.
The processing helpers (parameter tables, site map, per-notebook TMPDIR) are also tested directly, without a browser.
Screenshots of the home page and one module page go to tests/artifacts/.
"""
import functools, http.server, importlib, json, os, pkgutil, re, subprocess, sys, tempfile, textwrap, threading, time
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS, OUT, ART = ROOT/'docs', ROOT/'_docs', ROOT/'tests'/'artifacts'
CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']

sys.path.insert(0, str(DOCS))
import _procs, build  # noqa: E402  (docs/ is not a package)


def _newest(*dirs) -> float:
    return max(p.stat().st_mtime for d in dirs for p in Path(d).rglob('*') if p.is_file() and '__pycache__' not in p.parts)

@pytest.fixture(scope='module')
def site():
    if not Path(CHROMIUM).exists(): pytest.skip(f'{CHROMIUM} is missing (apt-get install chromium)')
    "`_docs/`, rebuilt unless it is newer than every notebook, docs file and library file; then served on localhost."
    fresh = (OUT/'index.html').exists() and (OUT/'index.html').stat().st_mtime > _newest(ROOT/'nbs', DOCS, ROOT/'bassl')
    if not fresh or os.environ.get('DOCS_REBUILD'):
        t0 = time.time()
        subprocess.run([sys.executable, str(DOCS/'build.py')], cwd=ROOT, check=True)
        print(f'docs built in {time.time() - t0:.0f}s')
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(OUT)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown(); srv.server_close()

@pytest.fixture(scope='module')
def crawl(site):
    "Open every page; collect console errors, outside requests, links, element ids and drawn plotly figures."
    from playwright.sync_api import sync_playwright
    pages = sorted(p.relative_to(OUT).as_posix() for p in OUT.rglob('*.html') if '_static' not in p.parts)
    res = {'errors': [], 'outside': [], 'links': {}, 'ids': {}, 'plotly': {}, 'tables': {}, 'sidebar': {}, 'overflow': {},
           'math': {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={'width': 1280, 'height': 900})
        host = urlparse(site).netloc
        def route(r):
            if urlparse(r.request.url).netloc == host or r.request.url.startswith(('data:', 'blob:', 'about:')): r.continue_()
            else: res['outside'].append(r.request.url); r.abort()
        ctx.route('**/*', route)
        pg = ctx.new_page()
        cur = {}
        pg.on('console', lambda m: m.type == 'error' and res['errors'].append((cur['p'], m.text)))
        pg.on('pageerror', lambda e: res['errors'].append((cur['p'], str(e))))
        for p in pages:
            cur['p'] = p
            pg.goto(site + p, wait_until='load')
            pg.wait_for_timeout(150)
            res['ids'][p] = set(pg.eval_on_selector_all('[id]', 'es => es.map(e => e.id)'))
            res['links'][p] = pg.eval_on_selector_all('a[href]', 'es => es.map(e => e.getAttribute("href"))')
            res['tables'][p] = pg.evaluate(_API_TABLES)
            res['sidebar'][p] = pg.evaluate(_SIDEBAR)
            res['overflow'][p] = pg.evaluate(_OVERFLOW)
            if pg.locator('div.math').count():
                try: pg.wait_for_selector('mjx-container', timeout=10000)
                except Exception: pass
                res['math'][p] = (pg.locator('div.math').count(), pg.locator('mjx-container[display="true"]').count())
            if pg.locator('.plotly-graph-div').count():
                res['plotly'][p] = (pg.locator('.plotly-graph-div').count(),
                                    pg.locator('.js-plotly-plot svg.main-svg').count(),
                                    pg.locator('.js-plotly-plot').count())
            if p == 'index.html':
                ART.mkdir(parents=True, exist_ok=True); pg.screenshot(path=str(ART/'docs-home.png'))
            if p == _module_page(pages):
                ART.mkdir(parents=True, exist_ok=True); pg.screenshot(path=str(ART/'docs-module.png'))
        # search: the built-in search page finds an API entry by name
        pg.goto(site + 'search.html?q=pseudo_boundary', wait_until='load')
        pg.wait_for_selector('#search-results li', timeout=15000)
        res['search'] = pg.locator('#search-results li').all_inner_texts()
        browser.close()
    res['pages'] = pages
    return res

_API_TABLES = """() => Array.from(document.querySelectorAll('dl.py > dd table')).map(t => ({
    head: Array.from(t.querySelectorAll('thead th')).map(c => c.textContent.trim()),
    rows: Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent.trim()))}))"""

_SIDEBAR = """() => Array.from(document.querySelectorAll('.sidebar-tree a.reference')).map(a =>
    [new URL(a.getAttribute('href'), location.href).pathname, a.textContent.trim()])"""

# elements that end right of the article's column (by more than the 4px furo's signatures bleed on purpose) without a
# scrolling box between them and it; and code blocks whose text is wider than their box but which cannot scroll
_OVERFLOW = """() => { const art = document.querySelector('article[role=main]') || document.querySelector('article');
    if (!art) return []; const edge = art.getBoundingClientRect().right + 5, res = [];
    for (const e of art.querySelectorAll('p, li, pre, table, dt, dd, img, svg.main-svg, .cell_output, .highlight')) {
        const b = e.getBoundingClientRect();
        if (b.width === 0 || b.right <= edge) continue;
        let p = e.parentElement, boxed = false;
        while (p && p !== art) { const o = getComputedStyle(p).overflowX;
            if ((o === 'auto' || o === 'scroll' || o === 'hidden') && p.getBoundingClientRect().right <= edge) { boxed = true; break; }
            p = p.parentElement; }
        if (!boxed) res.push(`${e.tagName.toLowerCase()}.${e.className} +${Math.round(b.right - edge)}px: ${e.textContent.trim().slice(0, 60)}`); }
    for (const e of art.querySelectorAll('pre'))
        if (e.scrollWidth > e.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
            res.push(`pre cannot scroll: ${e.textContent.trim().slice(0, 60)}`);
    return res; }"""

def _module_page(pages):
    mods = [p for p in pages if p[:2].isdigit()]
    return next((p for p in mods if 'pretext.dtw' in p), mods[0] if mods else None)

def test_every_page_opens_without_console_errors(crawl):
    assert 'index.html' in crawl['pages'] and len(crawl['pages']) > 10, crawl['pages']
    assert not crawl['errors'], crawl['errors'][:20]

def test_no_request_leaves_localhost(crawl):
    assert not crawl['outside'], sorted(set(crawl['outside']))[:20]

def test_no_broken_internal_links(crawl):
    broken = []
    for page, hrefs in crawl['links'].items():
        for h in hrefs:
            if urlparse(h).scheme or h.startswith(('//', 'mailto:', 'javascript:')): continue
            url, frag = urldefrag(urljoin('http://x/' + page, h))
            target = urlparse(url).path.lstrip('/') or 'index.html'
            if target.endswith('/'): target += 'index.html'
            if not (OUT/target).exists(): broken.append((page, h)); continue
            if frag and target.endswith('.html') and frag not in crawl['ids'].get(target, set()): broken.append((page, h))
    assert not broken, broken[:30]

def _public_symbols():
    import bassl
    res = []
    for m in pkgutil.walk_packages(bassl.__path__, 'bassl.'):
        if m.name.rsplit('.', 1)[-1].startswith('_'): continue
        mod = importlib.import_module(m.name)
        res += [f'{m.name}.{n}' for n in getattr(mod, '__all__', [])]
    return res

def test_every_public_symbol_has_an_entry(crawl):
    ids = set().union(*crawl['ids'].values())
    syms = _public_symbols()
    assert len(syms) > 50
    missing = [s for s in syms if s not in ids]
    assert not missing, missing

def test_plotly_figures_are_drawn(crawl):
    for name in ('14_pretext.dtw', '15_pretext.objectives', '31_widgets', '32_tutorial'):
        assert (ROOT/'nbs'/f'{name}.ipynb').exists(), name
        assert f'{name}.html' in crawl['plotly'], f'{name}.html draws no plotly figure'
    assert crawl['plotly'], 'no page has a plotly figure'
    for page, (divs, svgs, plots) in crawl['plotly'].items():
        assert plots == divs and svgs >= divs, (page, divs, plots, svgs)

def test_search_finds_symbols(crawl):
    assert any('pseudo' in t.lower() for t in crawl['search']), crawl['search']

def test_screenshots_kept(crawl):
    for n in ('docs-home.png', 'docs-module.png'): assert (ART/n).stat().st_size > 10_000, n

# ---------------------------------------------------------------------------------------------------------------------
# API tables, sidebar, long lines, formulas and figures on the built site

def test_api_tables_have_no_self_row_and_no_empty_column(crawl):
    n, bad = 0, []
    for page, tables in crawl['tables'].items():
        for t in tables:
            n += 1
            if t['head'][:1] != ['Parameter']: bad.append((page, 'header', t['head']))
            if any(r and r[0] in ('self', 'cls') for r in t['rows']): bad.append((page, 'self row', t['rows'][0]))
            for k, h in enumerate(t['head']):
                if t['rows'] and not any(len(r) > k and r[k] for r in t['rows']): bad.append((page, f'empty column {h!r}', t['rows'][0]))
            if not any(len(r) > 1 and r[-1] for r in t['rows']): bad.append((page, 'no documented parameter', t['rows']))
    assert n > 50, n
    assert not bad, bad[:20]

def test_sidebar_lists_each_page_once(crawl):
    pages = [p for p in crawl['pages'] if p not in ('genindex.html', 'search.html')]
    for page in pages:
        entries = crawl['sidebar'][page]
        paths, titles = [e[0] for e in entries], [e[1] for e in entries]
        assert len(paths) == len(set(paths)), (page, sorted(p for p in paths if paths.count(p) > 1))
        assert len(titles) == len(set(titles)), (page, sorted(t for t in titles if titles.count(t) > 1))
    listed = {e[0].lstrip('/') for e in crawl['sidebar']['index.html']}
    assert listed == set(pages) - {'index.html'}, sorted(set(pages) - {'index.html'} ^ listed)
    titles = dict((e[0].lstrip('/'), e[1]) for e in crawl['sidebar']['index.html'])
    assert titles['experiments/pretrain.html'].startswith('Experiment:'), titles['experiments/pretrain.html']

def test_nothing_sticks_out_of_the_column(crawl):
    bad = {p: o for p, o in crawl['overflow'].items() if o}
    assert not bad, {p: o[:3] for p, o in list(bad.items())[:10]}

def test_objectives_page_typesets_the_losses(crawl):
    divs, typeset = crawl['math']['15_pretext.objectives.html']
    assert divs >= 6 and typeset == divs, (divs, typeset)          # InfoNCE, SSM, CGM, PP, MSM, total: all typeset
    html = (OUT/'15_pretext.objectives.html').read_text()
    for task, fn in [('SSM', 'shot_scene_matching'), ('CGM', 'contextual_group_matching'), ('PP', 'pseudo_boundary_prediction'),
                     ('MSM', 'masked_shot_modelling')]:
        tex = '\\mathcal{L}_{\\text{%s}}' % task
        assert html.count(tex) >= 2, task                             # its own formula, and in the total
        i, j = html.find(tex + ' ='), html.find(f'id="bassl.pretext.objectives.{fn}"')
        assert 0 < i < j < i + 20_000, (task, fn, i, j)               # the formula comes just before the function's entry
    assert '\\mathcal{L} = \\mathcal{L}_{\\text{SSM}} + \\mathcal{L}_{\\text{CGM}}' in html

def test_dtw_page_draws_the_alignment(crawl):
    divs, svgs, plots = crawl['plotly']['14_pretext.dtw.html']
    assert divs >= 1 and svgs >= divs, (divs, svgs)
    names = _trace_names(OUT/'14_pretext.dtw.html')
    assert 'pseudo-boundary b = 6' in names and 'optimal path (ringed cells)' in names, names
    assert '"type":"heatmap"' in (OUT/'14_pretext.dtw.html').read_text().replace(' ', '')

def _trace_names(page:Path) -> list[str]:
    return [json.loads(f'"{m}"') for m in re.findall(r'"name":\s*"((?:[^"\\]|\\.)*)"', page.read_text())]

def test_loss_curves_are_shown(crawl):
    curves = [re.fullmatch(r'(\S+): ([\d.]+) \u2192 ([\d.]+)', n) for n in _trace_names(OUT/'15_pretext.objectives.html')]
    curves = [m.groups() for m in curves if m]
    from bassl.methods import METHODS
    assert sorted(m for m, _, _ in curves) == sorted(METHODS), curves   # one curve per method
    for method, first, last in curves: assert float(last) < 0.7 * float(first), (method, first, last)

# ---------------------------------------------------------------------------------------------------------------------
# Temporary data: the build's record, and the helpers themselves

def test_build_left_no_temporary_data(site):
    rec = json.loads((ROOT/'_proc'/'_cleanup.json').read_text())
    assert not Path(rec['scratch']).exists(), rec['scratch']         # every notebook's TMPDIR is gone
    assert Path(rec['scratch']).name.startswith('bassl-docs-'), rec['scratch']
    assert rec['nbs_written'] == [], rec['nbs_written']               # no notebook wrote files into nbs/
    assert not list((ROOT/'nbs').rglob('lightning_logs')), 'lightning_logs/ under nbs/'

def _nb(path:Path, *sources):
    cells = [{'cell_type': 'code', 'id': f'c{i}', 'metadata': {}, 'source': s, 'outputs': [], 'execution_count': None}
             for i, s in enumerate(sources)]
    path.write_text(json.dumps({'cells': [{'cell_type': 'markdown', 'id': 'm', 'metadata': {}, 'source': '# T'}, *cells],
                                'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))

def test_each_notebook_gets_its_own_tmpdir_removed_after(tmp_path):
    src, dst, scratch = tmp_path/'a.ipynb', tmp_path/'out'/'a.ipynb', tmp_path/'scratch'
    (tmp_path/'out').mkdir(); scratch.mkdir()
    _nb(src, "import tempfile, os, subprocess, sys\nd = tempfile.mkdtemp(prefix='left-')\nopen(d + '/x', 'w').write('1')\n"
             "sub = subprocess.run([sys.executable, '-c', 'import tempfile; print(tempfile.gettempdir())'], "
             "capture_output=True, text=True).stdout.strip()\nprint(d, sub, os.environ['TMPDIR'])")
    code = textwrap.dedent(f"""
        import json, sys, tempfile; sys.path.insert(0, {str(DOCS)!r})
        import _procs
        before = tempfile.gettempdir()
        src, secs, names, left = _procs.process_one({str(src)!r}, {str(dst)!r}, 'all', {str(scratch)!r})
        print(json.dumps(dict(left=left, before=before, after=tempfile.gettempdir())))""")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res['before'] == res['after'], res                         # the worker's own temp dir is back afterwards
    assert len(res['left']) == 1 and res['left'][0].startswith('left-'), res
    assert list(scratch.iterdir()) == [], list(scratch.iterdir())     # the notebook's TMPDIR and what it held: gone
    out = json.loads(dst.read_text())['cells'][1]['outputs'][0]['text']
    d, sub, env = ''.join(out).split()
    assert Path(d).parent == Path(sub) == Path(env) and Path(env).parent == scratch, (d, sub, env)

def test_clean_new_files_removes_new_folders_only(tmp_path):
    (tmp_path/'images').mkdir(); (tmp_path/'images'/'a.png').write_text('1'); (tmp_path/'x.ipynb').write_text('1')
    before = build.files_under(tmp_path)
    (tmp_path/'data'/'synthetic').mkdir(parents=True); (tmp_path/'data'/'synthetic'/'m.jpg').write_text('1')
    (tmp_path/'lightning_logs'/'v0').mkdir(parents=True); (tmp_path/'lightning_logs'/'v0'/'m.csv').write_text('1')
    (tmp_path/'images'/'new.png').write_text('1'); (tmp_path/'y.ipynb').write_text('1'); (tmp_path/'out.csv').write_text('1')
    removed, kept = build.clean_new_files(tmp_path, before)
    assert removed == ['data/synthetic/m.jpg', 'lightning_logs/v0/m.csv'], removed
    assert kept == ['images/new.png', 'out.csv'], kept                # reported, not deleted: they sit in folders that were there
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*')) == \
        ['images', 'images/a.png', 'images/new.png', 'out.csv', 'x.ipynb', 'y.ipynb']

# ---------------------------------------------------------------------------------------------------------------------
# Parameter tables and the site map, from the helpers

class _Documented:
    "A class with one documented and one undocumented argument."
    def __init__(self, a:int=1, # the first
                 b=None): pass

def _undocumented(x:int, y:str='s') -> int: return x

def _table(md:str) -> list[list[str]]:
    return [[c.strip() for c in l.strip().strip('|').split('|')] for l in md.splitlines() if l.startswith('|') and '---' not in l]

def test_param_table_drops_self_and_empty_columns():
    t = _table(_procs.api_entry(_Documented, '_Documented', 'm'))
    assert t[0] == ['Parameter', 'Type', 'Default', 'Details'], t
    assert [r[0] for r in t[1:]] == ['`a`', '`b`'], t                   # no `self` row
    t = _table(_procs.api_entry(_Documented.__init__, '_Documented.__init__', 'm'))
    assert [r[0] for r in t[1:]] == ['`a`', '`b`'], t
    def f(p, # documented
          q): pass
    assert _table(_procs.api_entry(f, 'f', 'm')) == [['Parameter', 'Details'], ['`p`', 'documented'], ['`q`', '']]
    assert _table(_procs.api_entry(_undocumented, '_undocumented', 'm')) == []   # nothing documented: the signature says it all
    assert '_undocumented(x: int, y: str = \'s\') -> int' in _procs.api_entry(_undocumented, '_undocumented', 'm')

def test_site_map_gives_each_sidebar_entry_its_own_title():
    nb = lambda title: {'cells': [{'cell_type': 'markdown', 'source': f'# {title}\n\n> what it is'}]}
    pages = [(Path('index.ipynb'), nb('bassl')), (Path('26_train.pretrain.ipynb'), nb('Pre-training')),
             (Path('25_features.ipynb'), nb('Shot features')), (Path('experiments/pretrain.ipynb'), nb('Experiment: Pre-training')),
             (Path('experiments/extract.ipynb'), nb('Shot features'))]
    md, toc = build.site_map(pages)
    entries = [l for l in toc.splitlines() if l and not l.startswith((':', '`'))]
    assert entries == ['26_train.pretrain', 'Shot features (25_features) <25_features>', 'experiments/pretrain',
                       'Shot features (extract) <experiments/extract>'], entries
    assert md.count('](') == 4 and 'index' not in md, md
