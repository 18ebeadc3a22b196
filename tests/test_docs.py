"""The docs site: built from the notebooks by `python docs/build.py`, opened page by page in headless Chromium.

Asserts that every page loads with no JavaScript console error and no request leaving localhost, that every internal
link (page and #anchor) resolves, that every name in a bassl module's `__all__` has an API entry (anchor
`<module>.<name>`), that plotly figures are drawn (SVG) on the pages that have them, and that search finds a symbol.
Screenshots of the home page and one module page go to tests/artifacts/.
"""
import functools, http.server, importlib, os, pkgutil, subprocess, sys, threading, time
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS, OUT, ART = ROOT/'docs', ROOT/'_docs', ROOT/'tests'/'artifacts'
CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f'{CHROMIUM} is missing (apt-get install chromium)')

def _newest(*dirs) -> float:
    return max(p.stat().st_mtime for d in dirs for p in Path(d).rglob('*') if p.is_file() and '__pycache__' not in p.parts)

@pytest.fixture(scope='module')
def site():
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
    res = {'errors': [], 'outside': [], 'links': {}, 'ids': {}, 'plotly': {}}
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
    for name in ('31_widgets', '32_tutorial'):
        assert (ROOT/'nbs'/f'{name}.ipynb').exists(), name
        assert f'{name}.html' in crawl['plotly'], f'{name}.html draws no plotly figure'
    assert crawl['plotly'], 'no page has a plotly figure'
    for page, (divs, svgs, plots) in crawl['plotly'].items():
        assert plots == divs and svgs >= divs, (page, divs, plots, svgs)

def test_search_finds_symbols(crawl):
    assert any('pseudo' in t.lower() for t in crawl['search']), crawl['search']

def test_screenshots_kept(crawl):
    for n in ('docs-home.png', 'docs-module.png'): assert (ART/n).stat().st_size > 10_000, n
