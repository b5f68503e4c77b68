"""Build the courseware notebooks (``notebooks/*.ipynb``) from their Python definitions in ``tools/notebooks/``.

The notebooks are generated so that they are reproducible and reviewed as code: the same definitions always give
byte-identical files, without outputs or execution counts, with stable cell ids and the ``parameters`` cell
tagged for papermill.

Usage::

    python tools/build_notebooks.py            # (re)write every notebook
    python tools/build_notebooks.py --check    # exit 1 if a committed notebook differs from its definition
    python tools/build_notebooks.py nb04_cloud_registries --out /tmp/nb
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

import nbformat

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
DEFAULT_OUT = REPO / "notebooks"

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {"name": "python", "file_extension": ".py", "mimetype": "text/x-python",
                 "pygments_lexer": "ipython3", "codemirror_mode": {"name": "ipython", "version": 3}}


def _modules(names: list[str] | None = None) -> list[ModuleType]:
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    package = importlib.import_module("notebooks")
    wanted = names or package.MODULES
    unknown = sorted(set(wanted) - set(package.MODULES))
    if unknown:
        raise SystemExit(f"unknown notebook module(s): {', '.join(unknown)}; known: {', '.join(package.MODULES)}")
    return [importlib.import_module(f"notebooks.{name}") for name in wanted]


def build(module: ModuleType) -> nbformat.NotebookNode:
    """The notebook of one definition module, validated against the nbformat schema."""
    cells = []
    for index, cell in enumerate(module.cells(), start=1):
        cell_id = f"{module.FILENAME.split('-')[0]}-{index:02d}-{cell.slug}"[:64]
        if cell.kind == "markdown":
            node = nbformat.v4.new_markdown_cell(cell.source, id=cell_id)
        else:
            node = nbformat.v4.new_code_cell(cell.source, id=cell_id)
        if cell.tags:
            node.metadata["tags"] = list(cell.tags)
        if cell.hidden:
            node.metadata["jupyter"] = {"source_hidden": True}
        cells.append(node)
    metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO), "title": module.TITLE}
    metadata.update(getattr(module, "METADATA", {}))  # e.g. {"labhelpers": {"regress": {...}}}
    nb = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    nbformat.validate(nb)
    return nb


def render(module: ModuleType) -> str:
    return nbformat.writes(build(module)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="definition modules to build (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args(argv)
    stale = []
    for module in _modules(args.modules or None):
        text = render(module)
        target = args.out / module.FILENAME
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {target}")
    if stale:
        print("out of date (run python tools/build_notebooks.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
