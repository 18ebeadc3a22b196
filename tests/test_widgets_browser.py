"""README's widget lines, run verbatim in JupyterLab from a kernel in a project's `nbs/`, driven by a real (headless) Chromium.

A temporary project (a `settings.ini` naming bassl, an `nbs/` folder) gets a tiny demo from `bassl demo` (conftest.py's
`tiny_demo`, shared with the console test), or, for README's screenshots, links to the demo of the project named by
`BASSL_WIDGET_PROJECT`. JupyterLab starts with its root in that
project's `nbs/`, a notebook there holds the lines of README's "Exploring in JupyterLab" block as they are written, and
Playwright runs it: the explorer must offer the demo's encoders and the viewer must show both runs' predictions. Then it
moves the explorer's centre-shot slider and the viewer's threshold slider and clicks a shot, asserting each time that the
figure in the page changed. Screenshots go to `tests/artifacts/`. Everything is local: JupyterLab's and the widgets'
front-end code come from installed packages, the browser is Debian's Chromium.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path('/usr/bin/chromium')
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason='needs Debian Chromium at /usr/bin/chromium (make browser, or apt-get install chromium)')

HERE = Path(__file__).parent
README = HERE.parent/'README.md'
ARTIFACTS = HERE/'artifacts'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
TOKEN = 'bassl-widget-test'
# a bassl project whose demo (data/synthetic, runs/demo) is shown instead of a tiny one: README's screenshots (make screenshots)
PROJECT = os.environ.get('BASSL_WIDGET_PROJECT')
# JupyterLab user settings: no news or update checks (offline), no windowing (every output stays in the DOM)
LAB_SETTINGS = {'@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false', 'checkForUpdates': False},
                '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none'}}


def readme_widget_lines(readme:Path=README) -> list[str]:
    "The lines of the python block under README's 'Exploring in JupyterLab' heading, as written."
    text = readme.read_text()
    m = re.search(r'^#+ Exploring in JupyterLab\n.*?^```python\n(.*?)^```', text, re.M | re.S)
    assert m, f"{readme}: no ```python block under an 'Exploring in JupyterLab' heading"
    return [l for l in m.group(1).splitlines() if l.strip()]


def test_readme_widget_lines():
    lines = readme_widget_lines()
    assert lines[0] == 'from bassl.widgets import PseudoBoundaryExplorer, SceneViewer'
    assert [l.split('#')[0].strip() for l in lines[1:]] == ['PseudoBoundaryExplorer()', "SceneViewer({'BaSSL': 'runs/demo', 'random init': 'runs/demo/random'})"]


def notebook(cells:list[str]) -> dict:
    return {'cells': [{'cell_type': 'code', 'metadata': {}, 'source': c, 'execution_count': None, 'outputs': []} for c in cells],
            'metadata': {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def make_project(d:Path) -> Path:
    "A bassl project at `d` linking to `PROJECT`'s data and demo runs (README's screenshots)."
    (d/'settings.ini').write_text('[DEFAULT]\nlib_name = bassl\n')
    (d/'nbs').mkdir()
    src = Path(PROJECT).resolve()
    for part in ('data/synthetic', 'runs/demo'):
        assert (src/part).exists(), f"{src/part}: missing; run `make demo` in {src} first"
        (d/part).parent.mkdir(parents=True, exist_ok=True)
        (d/part).symlink_to(src/part)
    return d


@pytest.fixture(scope='module')
def lab(tmp_path_factory, request):
    "A JupyterLab server whose root is the `nbs/` of a project with a demo, holding README's widget lines: `(base url, project)`."
    pytest.importorskip('playwright.sync_api', reason='needs playwright (the dev dependencies)')
    d = make_project(tmp_path_factory.mktemp('project')) if PROJECT else request.getfixturevalue('tiny_demo')[0]  # (conftest.py)
    for run in ('runs/demo', 'runs/demo/random'):
        assert (d/run/'finetune'/'predictions.csv').exists(), f"{d/run}: the demo left no finetune/predictions.csv"
    (d/'nbs'/'widgets.ipynb').write_text(json.dumps(notebook(readme_widget_lines())))
    lab_dir = tmp_path_factory.mktemp('jupyter')                       # JupyterLab's own state, outside the project
    settings = lab_dir/'settings'
    for name, value in LAB_SETTINGS.items():
        (settings/Path(name).parent).mkdir(parents=True, exist_ok=True)
        (settings/name).write_text(json.dumps(value))
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(lab_dir/'config'), 'JUPYTER_RUNTIME_DIR': str(lab_dir/'runtime'),
           'JUPYTERLAB_SETTINGS_DIR': str(settings), 'JUPYTERLAB_WORKSPACES_DIR': str(lab_dir/'workspaces'),
           'OMP_NUM_THREADS': '1'}
    port = free_port()
    log = open(lab_dir/'jupyterlab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}', '--ip=127.0.0.1',
                             f'--IdentityProvider.token={TOKEN}', f"--ServerApp.root_dir={d/'nbs'}", '--LabApp.expose_app_in_browser=True',
                             '--ServerApp.disable_check_xsrf=True', '--ServerApp.allow_root=True', '--LabApp.extension_manager=readonly'],
                            cwd=d/'nbs', env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f'{base}/api/status?token={TOKEN}', timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {(lab_dir/'jupyterlab.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield base, d
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


def plot_state(page, i:int) -> dict:
    "Title, subplot titles, shape count and first trace of the i-th plotly graph in the page."
    return page.evaluate("""i => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
        return {title: gd.layout.title && gd.layout.title.text, annotations: (gd.layout.annotations || []).map(a => a.text),
                shapes: (gd.layout.shapes || []).length, traces: gd.data.map(t => (t.x || []).length),
                trace0: JSON.stringify(gd.data[0].source || gd.data[0].z || gd.data[0].y)}; }""", i)


def wait_for_change(page, i:int, before:dict, key:str, timeout:float=30.) -> dict:
    "Poll the i-th graph until `key` of its state differs from `before`."
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = plot_state(page, i)
        if now[key] != before[key]: return now
        time.sleep(0.1)
    raise AssertionError(f"graph {i}: {key} still {before[key]!r} after {timeout} s")


def drag(page, handle, dx:float):
    "Drag a slider handle `dx` pixels to the right, as a user would."
    box = handle.bounding_box()
    x, y = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
    page.mouse.move(x, y); page.mouse.down()
    page.mouse.move(x + dx / 2, y, steps=5); page.mouse.move(x + dx, y, steps=5)
    page.mouse.up()


def test_readme_widgets_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    base, d = lab
    ARTIFACTS.mkdir(exist_ok=True)
    t0 = time.time()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={'width': 1400, 'height': 1500})   # tall enough for a whole widget: screenshots uncropped
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))
        try:
            page.goto(f'{base}/lab/tree/widgets.ipynb?token={TOKEN}')
            page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')", timeout=60_000)
            page.wait_for_function("""() => { const w = jupyterapp.shell.currentWidget;
                return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                    && w.sessionContext.session.kernel.status === 'idle'; }""", timeout=60_000)
            page.evaluate("jupyterapp.commands.execute('application:toggle-left-area')")   # the file browser off: the notebook full width
            page.evaluate("jupyterapp.commands.execute('notebook:run-all-cells')")
            try: page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=180_000)
            except Exception:
                raise AssertionError("README's widget lines did not draw four graphs; the notebook's outputs: "
                                     + page.locator('.jp-OutputArea').all_inner_texts().__repr__()[:3000]) from None
            page.wait_for_timeout(1500)                                 # let plotly finish its first layout
            print(f"\nREADME's lines ran, 4 graphs drawn after {time.time() - t0:.1f} s")
            cells = page.locator('.jp-Notebook .jp-Cell')
            explorer, viewer = cells.nth(1).locator('.jp-OutputArea'), cells.nth(2).locator('.jp-OutputArea')
            assert str(d) not in explorer.inner_text() + viewer.inner_text(), "a machine path shows in a widget"

            # the explorer offers the demo's pre-trained encoders (found under the project's runs/ from a kernel in nbs/)
            options = [o.replace('\xa0', ' ') for o in explorer.locator('option').all_text_contents()]   # ipywidgets shows spaces as NBSP
            assert {'random init', 'demo', 'demo/instance'} <= set(options), options
            # the viewer shows both runs' predictions, one row each
            tl = plot_state(page, 2)
            assert any('<b>BaSSL</b>' in a for a in tl['annotations']) and any('<b>random init</b>' in a for a in tl['annotations']), tl['annotations']
            assert len(tl['traces']) == 2 and min(tl['traces']) >= 30, tl['traces']
            explorer.scroll_into_view_if_needed()
            explorer.screenshot(path=ARTIFACTS/'explorer_before.png')

            # pseudo-boundary explorer: move the centre-shot slider, the window, its DTW matrix and its title change
            before = plot_state(page, 0)
            centre = re.search(r'centre shot (\d+)', before['title']).group(1)
            dtw_before = plot_state(page, 1)
            t = time.time()
            drag(page, explorer.locator('.widget-slider .noUi-handle').first, 120)
            after = wait_for_change(page, 0, before, 'title')
            latency = time.time() - t
            assert f'centre shot {centre} ' not in after['title'] and after['trace0'] != before['trace0']
            assert wait_for_change(page, 1, dtw_before, 'trace0')['trace0'] != dtw_before['trace0']
            print(f"explorer: slider moved, figures updated in {latency:.2f} s (drag to new figure in the page): {after['title'][:70]}")
            page.wait_for_timeout(500)
            explorer.screenshot(path=ARTIFACTS/'explorer_after.png')

            # predicted-scene viewer: move the threshold, the scene bands and the metrics in the subplot titles change
            viewer.scroll_into_view_if_needed()
            viewer.screenshot(path=ARTIFACTS/'viewer_before.png')
            assert 'click a shot' in viewer.inner_text().lower()
            before = plot_state(page, 2)
            drag(page, viewer.locator('.widget-slider .noUi-handle').first, 60)
            after = wait_for_change(page, 2, before, 'title')
            assert after['annotations'] != before['annotations'] and after['shapes'] != before['shapes']
            print(f"viewer: threshold moved: {before['title']!r} -> {after['title']!r}")
            page.wait_for_timeout(500)
            viewer.screenshot(path=ARTIFACTS/'viewer_after.png')

            # clicking a point of the first run's curve shows that shot's keyframes and frames the shot on the timeline
            kf_before, tl_before = plot_state(page, 3), plot_state(page, 2)
            shot, *xy = page.evaluate("""() => { const gd = document.querySelectorAll('.js-plotly-plot')[2], fl = gd._fullLayout;
                const r = gd.getBoundingClientRect(), k = 20, x = gd.data[0].x[k], y = gd.data[0].y[k];
                return [x, r.left + fl.xaxis._offset + fl.xaxis.l2p(x), r.top + fl.yaxis._offset + fl.yaxis.l2p(y)]; }""")
            page.mouse.move(*xy); page.wait_for_timeout(300); page.mouse.click(*xy)
            kf_after = wait_for_change(page, 3, kf_before, 'title')
            assert f'shot {shot} ' in kf_after['title']
            assert f'shot {shot} selected' in wait_for_change(page, 2, tl_before, 'title')['title']
            print(f"viewer: clicked shot {shot}: {kf_after['title']!r}")
            page.wait_for_timeout(500)
            viewer.screenshot(path=ARTIFACTS/'viewer_clicked_shot.png')
            page.screenshot(path=ARTIFACTS/'jupyterlab.png')
        finally:
            browser.close()
    assert not errors, errors
    print(f"browser part took {time.time() - t0:.1f} s; screenshots in {ARTIFACTS}")
