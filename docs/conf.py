"""Sphinx configuration of the bassl docs site: renders the processed notebooks in `_proc/` (see build.py).

Everything the pages load is served from the site itself: furo (no web fonts), MathJax 3 from `sphinx-mathjax-offline`,
plotly.js from the plotly package (only on pages that draw a figure), no widget manager (widgets render as static HTML).
"""
import shutil
from pathlib import Path

from fastcore.all import Config

_cfg = Config(Path(__file__).resolve().parent.parent, 'settings.ini')
project = _cfg.get('title', 'bassl')
author = _cfg.get('author', '')
copyright = _cfg.get('copyright', '')
release = version = _cfg.get('version', '')

extensions = ['myst_nb', 'sphinx.ext.mathjax']
mathjax_path = 'mathjax/tex-chtml.js'        # copied from the sphinx-mathjax-offline package at build-finished
source_suffix = {'.ipynb': 'myst-nb', '.md': 'myst-nb'}
root_doc = 'index'
exclude_patterns = ['_build', '**.ipynb_checkpoints', '_documented.json', '_cleanup.json']

# notebooks are executed by build.py (nbdev's processing); myst-nb only renders them
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'          # show_doc's API entries are MyST `py:` directives
nb_ipywidgets_js = {}                        # no widget manager from a CDN: widgets are static HTML
nb_merge_streams = True
nb_mime_priority_overrides = [('html', 'application/vnd.jupyter.widget-view+json', None)]
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'deflist']
myst_heading_anchors = 3
myst_dmath_double_inline = True
suppress_warnings = ['misc.highlighting_failure', 'myst.header', 'mystnb.unknown_mime_type']

add_module_names = False
python_display_short_literal_types = True

html_theme = 'furo'
html_title = f'{project} {release}'
html_static_path = ['_static']
html_favicon = '_static/favicon.svg'
html_css_files = ['custom.css']
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {'navigation_with_keys': True, 'top_of_page_buttons': []}

_PLOTLY = 'plotly.min.js'

def _plotly_page(app, pagename, templatename, context, doctree):
    "Pages that draw plotly figures load the site's copy of plotly.js (once per page, before the figures' scripts)."
    if doctree is not None and 'plotly-graph-div' in context.get('body', ''):
        app.add_js_file(_PLOTLY, priority=100)

def _copy_plotly(app, exc):
    if exc is not None or app.builder.format != 'html': return
    try: import plotly
    except ImportError: return
    src = Path(plotly.__file__).parent/'package_data'/_PLOTLY
    if src.exists(): shutil.copy2(src, Path(app.outdir)/'_static'/_PLOTLY)

def _copy_mathjax(app, exc):
    "MathJax 3 as bundled by the sphinx-mathjax-offline package (its extension itself is not parallel-safe)."
    if exc is not None or app.builder.format != 'html': return
    import importlib.util
    spec = importlib.util.find_spec('sphinx-mathjax-offline')
    src = Path(spec.origin).parent/'static'/'mathjax'
    shutil.copytree(src, Path(app.outdir)/'_static'/'mathjax', dirs_exist_ok=True)

def setup(app):
    app.connect('build-finished', _copy_mathjax)
    app.connect('html-page-context', _plotly_page)
    app.connect('build-finished', _copy_plotly)
