"""The two widgets of `bassl.widgets` live in JupyterLab, driven by a real (headless) Chromium.

A small synthetic root and two run folders are made in a temporary folder, JupyterLab serves a notebook that shows the
pseudo-boundary explorer and the predicted-scene viewer, and Playwright moves the explorer's centre-shot slider and the
viewer's threshold slider and clicks a shot, asserting each time that the figure in the page changed. Screenshots go to
`tests/artifacts/`. Everything is local: JupyterLab's and the widgets' front-end code come from installed packages.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path('/usr/bin/chromium')
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason='needs Debian Chromium at /usr/bin/chromium (apt-get install chromium)')

ARTIFACTS = Path(__file__).parent/'artifacts'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
TOKEN = 'bassl-widget-test'
REAL = os.environ.get('BASSL_WIDGET_RUNS')  # a run folder with random/ beside it (runs/demo): screenshot real runs instead of fake ones
# JupyterLab user settings: no news or update checks (offline), no windowing (every output stays in the DOM)
LAB_SETTINGS = {'@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false', 'checkForUpdates': False},
                '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none'}}


def fake_run(folder:Path, root:Path, vids:list, noise:float, seed:int) -> Path:
    "A fine-tuning run folder whose predictions follow the labels of `vids` with Gaussian noise."
    import numpy as np
    from bassl.config import preset, save_config
    from bassl.data.movienet import MovieNetRoot, read_labels
    rng = np.random.default_rng(seed)
    rows = ['movie,shot,probability,label\n']
    for v in vids:
        lab = np.abs(read_labels(MovieNetRoot(root).label_file(v)))
        prob = np.clip(0.75 * lab + rng.normal(0.12, noise, len(lab)), 0, 1)
        rows += [f'{v},{i},{p:.6f},{l}\n' for i, (p, l) in enumerate(zip(prob, lab))]
    (folder/'finetune').mkdir(parents=True)
    (folder/'finetune'/'predictions.csv').write_text(''.join(rows))
    save_config(preset('bassl', 'cpu', root=str(root)), folder/'finetune'/'config.json')
    return folder


def notebook(cells:list[str]) -> dict:
    return {'cells': [{'cell_type': 'code', 'metadata': {}, 'source': c, 'execution_count': None, 'outputs': []} for c in cells],
            'metadata': {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server over a folder holding a synthetic root, two runs and the widget notebook: `(base url, folder)`."
    from bassl.data.movienet import MovieNetRoot
    from bassl.data.synthetic import SynthConfig, synthesize
    d = tmp_path_factory.mktemp('lab')
    if REAL:  # README's screenshots: the demo's runs on the built-in data
        root, good, bad = Path('data/synthetic').resolve(), Path(REAL).resolve(), Path(REAL).resolve()/'random'
        vids = MovieNetRoot(root).movies()
    else:
        root = d/'root'
        synthesize(root, SynthConfig(movies=3, shots=40, width=96, height=54), workers=1, progress=False)
        vids = MovieNetRoot(root).movies()
        good, bad = fake_run(d/'bassl', root, vids[:2], 0.1, 0), fake_run(d/'random', root, vids[:2], 0.35, 1)
    encoders = f", encoders={{'BaSSL ({REAL})': {str(good)!r}, 'random init': None}}" if REAL else ''
    (d/'widgets.ipynb').write_text(json.dumps(notebook([
        f"from bassl.widgets import PseudoBoundaryExplorer, SceneViewer\n"
        f"xp = PseudoBoundaryExplorer({str(root)!r}, vid={vids[0]!r}, center=12{encoders})\nxp",
        f"sv = SceneViewer({{'BaSSL': {str(good)!r}, 'random init': {str(bad)!r}}}, root={str(root)!r})\nsv"])))
    settings = d/'.lab-settings'
    for name, value in LAB_SETTINGS.items():
        (settings/Path(name).parent).mkdir(parents=True, exist_ok=True)
        (settings/name).write_text(json.dumps(value))
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(d/'.jupyter'), 'JUPYTER_RUNTIME_DIR': str(d/'.runtime'),
           'JUPYTERLAB_SETTINGS_DIR': str(settings), 'JUPYTERLAB_WORKSPACES_DIR': str(d/'.workspaces'),
           'OMP_NUM_THREADS': '1'}
    port = free_port()
    log = open(d/'jupyterlab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}', '--ip=127.0.0.1',
                             f'--IdentityProvider.token={TOKEN}', f'--ServerApp.root_dir={d}', '--LabApp.expose_app_in_browser=True',
                             '--ServerApp.disable_check_xsrf=True', '--ServerApp.allow_root=True', '--LabApp.extension_manager=readonly'], cwd=d, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f'{base}/api/status?token={TOKEN}', timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {(d/'jupyterlab.log').read_text()[-2000:]}")
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
                shapes: (gd.layout.shapes || []).length, trace0: JSON.stringify(gd.data[0].source || gd.data[0].z || gd.data[0].y)}; }""", i)


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


def test_widgets_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    base, d = lab
    ARTIFACTS.mkdir(exist_ok=True)
    t0 = time.time()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))
        try:
            page.goto(f'{base}/lab/tree/widgets.ipynb?token={TOKEN}')
            page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')", timeout=60_000)
            page.wait_for_function("""() => { const w = jupyterapp.shell.currentWidget;
                return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                    && w.sessionContext.session.kernel.status === 'idle'; }""", timeout=60_000)
            page.evaluate("jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4", timeout=90_000)
            page.wait_for_timeout(1000)                                 # let plotly finish its first layout
            print(f"\nnotebook ran, 4 graphs drawn after {time.time() - t0:.1f} s")
            cells = page.locator('.jp-Notebook .jp-Cell')
            explorer, viewer = cells.nth(0).locator('.jp-OutputArea'), cells.nth(1).locator('.jp-OutputArea')
            explorer.screenshot(path=ARTIFACTS/'explorer_before.png')

            # pseudo-boundary explorer: move the centre-shot slider, the window, its DTW matrix and its title change
            before = plot_state(page, 0)
            assert 'centre shot 12' in before['title']
            dtw_before = plot_state(page, 1)
            t = time.time()
            drag(page, explorer.locator('.widget-slider .noUi-handle').first, 120)
            after = wait_for_change(page, 0, before, 'title')
            latency = time.time() - t
            assert 'centre shot 12' not in after['title'] and after['trace0'] != before['trace0']
            assert wait_for_change(page, 1, dtw_before, 'trace0')['trace0'] != dtw_before['trace0']
            print(f"explorer: slider moved, figures updated in {latency:.2f} s (drag to new figure in the page): {after['title'][:70]}")
            page.wait_for_timeout(500)
            explorer.screenshot(path=ARTIFACTS/'explorer_after.png')

            # predicted-scene viewer: move the threshold, the scene bands and the metrics in the subplot titles change
            viewer.scroll_into_view_if_needed()
            viewer.screenshot(path=ARTIFACTS/'viewer_before.png')
            before = plot_state(page, 2)
            drag(page, viewer.locator('.widget-slider .noUi-handle').first, 60)
            after = wait_for_change(page, 2, before, 'title')
            assert after['annotations'] != before['annotations'] and after['shapes'] != before['shapes']
            print(f"viewer: threshold moved: {before['title']!r} -> {after['title']!r}")
            page.wait_for_timeout(500)
            viewer.screenshot(path=ARTIFACTS/'viewer_after.png')

            # clicking a point of the first run's curve shows that shot's keyframes
            kf_before = plot_state(page, 3)
            xy = page.evaluate("""() => { const gd = document.querySelectorAll('.js-plotly-plot')[2], fl = gd._fullLayout;
                const r = gd.getBoundingClientRect(), k = 20, x = gd.data[0].x[k], y = gd.data[0].y[k];
                return [r.left + fl.xaxis._offset + fl.xaxis.l2p(x), r.top + fl.yaxis._offset + fl.yaxis.l2p(y)]; }""")
            page.mouse.move(*xy); page.wait_for_timeout(300); page.mouse.click(*xy)
            kf_after = wait_for_change(page, 3, kf_before, 'title')
            assert 'shot 20' in kf_after['title']
            print(f"viewer: clicked shot 20: {kf_after['title']!r}")
            page.wait_for_timeout(500)
            viewer.screenshot(path=ARTIFACTS/'viewer_clicked_shot.png')
            page.screenshot(path=ARTIFACTS/'jupyterlab.png')
        finally:
            browser.close()
    assert not errors, errors
    print(f"browser part took {time.time() - t0:.1f} s; screenshots in {ARTIFACTS}")
