"""How the notebook helpers show things: styled tables in JupyterLab, plain text everywhere else.

Every helper returns data (a :class:`LabTable`, which *is* a pandas DataFrame) and never prints a password:
masking happens when the table is built, so a table is safe to print, save or hand to a grader.
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

MASK = "****"
OK, FAIL, WARN = "✅", "❌", "⚠️"

_CELL_COLOURS = {OK: "color: #1a7f37;", FAIL: "color: #cf222e;", "⚠": "color: #9a6700;"}
_TABLE_STYLES = [
    {"selector": "th", "props": "text-align: left; vertical-align: top;"},
    {"selector": "td", "props": "text-align: left; vertical-align: top; white-space: pre-wrap;"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: bold; padding: 4px 0;"},
]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, papermill), where rich output and widgets are rendered."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - IPython half-imported
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def interactive() -> bool:
    """A notebook a person is looking at: in a kernel, and not a headless run (papermill, nbgrader, regress).

    Headless runners set ``LAB_HEADLESS=1``: ipywidgets ``Output`` widgets can leave nbclient waiting for
    messages that never come (jupyter/nbclient#312), so widgets fall back to their plain tables there.
    """
    return in_notebook() and os.environ.get("LAB_HEADLESS", "") not in ("1", "true", "yes")


def mask(value: str | None, reveal: bool = False) -> str:
    """``****`` for a non-empty secret (its length is not leaked), the value itself when ``reveal``."""
    if not value:
        return ""
    return value if reveal else MASK


class LabTable(pd.DataFrame):
    """A DataFrame with a caption and notes, styled in JupyterLab and printed in full (no ``...``) headless.

    ``attrs["caption"]`` is a title line, ``attrs["notes"]`` a list of sentences shown under the table.
    """

    _metadata: list[str] = []

    @property
    def _constructor(self) -> type[LabTable]:
        return LabTable

    @property
    def caption(self) -> str:
        return str(self.attrs.get("caption") or "")

    @property
    def notes(self) -> list[str]:
        return list(self.attrs.get("notes") or [])

    def styled(self) -> Any:
        """A pandas Styler: no index, left-aligned wrapped text, ✅/❌/⚠️ cells coloured, the caption on top."""
        styler = pd.DataFrame(self).style.hide(axis="index").set_table_styles(_TABLE_STYLES).format(escape="html")
        if self.caption:
            styler = styler.set_caption(html.escape(self.caption))
        colour = getattr(styler, "map", None) or styler.applymap
        return colour(_cell_colour)

    def _repr_html_(self) -> str:  # type: ignore[override]
        try:
            body = self.styled().to_html()
        except Exception:  # Jinja2 missing or an exotic cell: fall back to pandas' own HTML
            body = pd.DataFrame(self).to_html(index=False)
            if self.caption:
                body = f"<b>{html.escape(self.caption)}</b>{body}"
        if self.empty:
            body += "<p><i>(no rows)</i></p>"
        if self.notes:
            body += "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>"
        return body

    def to_text(self) -> str:
        """The plain-text rendering used by ``print`` and ``repr``: every row, full cells, left-aligned."""
        parts = [self.caption] if self.caption else []
        if self.empty:
            parts.append("(no rows)")
        else:
            parts.append(text_grid([str(c) for c in self.columns],
                                   [["" if _blank(v) else str(v) for v in row] for row in self.itertuples(index=False)]))
        parts.extend(f"- {n}" for n in self.notes)
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.to_text()

    def __str__(self) -> str:
        return self.to_text()


def _blank(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def text_grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """kubectl-style columns: left-aligned, two spaces apart, the last column unpadded, newlines as `` | ``."""
    cells = [[c.replace("\n", " | ") for c in row] for row in [list(header), *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        padded = [c.ljust(widths[i]) if i < len(row) - 1 else c for i, c in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _cell_colour(value: Any) -> str:
    if isinstance(value, str):
        for glyph, css in _CELL_COLOURS.items():
            if value.startswith(glyph):
                return css
    return ""


def lab_table(rows: Iterable[Mapping[str, Any]] | Iterable[Sequence[Any]], columns: Sequence[str], *,
              caption: str = "", notes: Iterable[str] = ()) -> LabTable:
    """Build a :class:`LabTable` with exactly ``columns`` (in order), even when there are no rows."""
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        rows = [[r.get(c, "") for c in columns] for r in rows]  # type: ignore[union-attr]
    table = LabTable(rows, columns=list(columns)) if rows else LabTable(columns=list(columns))
    table.attrs["caption"] = caption
    table.attrs["notes"] = [n for n in notes if n]
    return table


class LabError(Exception):
    """An error a learner can act on: what is wrong and how to fix it, shown without a traceback in Jupyter."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  how to fix: {self.hint}" if self.hint else self.message

    def _render_traceback_(self) -> list[str]:
        """IPython shows these lines instead of a traceback."""
        lines = [f"{FAIL} {self.message}"]
        if self.hint:
            lines.append(f"   how to fix: {self.hint}")
        return lines


def show(html_text: str, plain_text: str) -> None:
    """Display rich HTML in a notebook, print the plain text (to stdout) anywhere else."""
    if in_notebook():
        from IPython.display import HTML, display

        display(HTML(html_text))
    else:
        print(plain_text)


def pre(text: str, css: str = "") -> str:
    """A ``<pre>`` block with the text escaped."""
    style = f' style="{css}"' if css else ""
    return f"<pre{style}>{html.escape(text)}</pre>"
