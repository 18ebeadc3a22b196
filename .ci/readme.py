"Render README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which cannot be installed from the registries)."
import json
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r'^\s*#\s*\|\s*(\S+)')
# a relative link or picture in nbs/index.ipynb (`](guide.ipynb)`, `](images/x.png)`) is relative to nbs/, where the docs
# site and Jupyter read it; README.md sits one folder up
RELATIVE = re.compile(r'\]\((?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)([^)\s]+)\)')


def render(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    out = []
    for cell in nb['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown':
            out.append(RELATIVE.sub(r'](nbs/\1)', src.strip()))  # pictures (nbs/images/) and docs pages (nbs/*.ipynb)
            continue
        lines = src.splitlines()
        flags = {m.group(1) for m in map(DIRECTIVE.match, lines) if m}
        if flags & {'hide', 'exporti'} or not src.strip(): continue
        code = '\n'.join(l for l in lines if not DIRECTIVE.match(l)).strip()
        if code and 'echo: false' not in src: out.append(f"```python\n{code}\n```")
        for o in cell.get('outputs', []):
            if md := o.get('data', {}).get('text/markdown'):  # a rendered table (IPython's Markdown): as markdown, not as code
                out.append(''.join(md).strip())
                continue
            text = o.get('text') or o.get('data', {}).get('text/plain')
            if text: out.append("```\n" + ''.join(text).rstrip() + "\n```")
    return '\n\n'.join(out) + '\n'


if __name__ == '__main__':
    readme = render(root/'nbs'/'index.ipynb')
    (root/'README.md').write_text(readme, encoding='utf-8')
    print(f"wrote README.md ({len(readme.splitlines())} lines)", file=sys.stderr)
