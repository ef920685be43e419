"""Report blocks (heading, paragraph, table, image) and their renderings: HTML, Markdown, terminal text.

A section is a list of blocks, built once and rendered as: HTML with images embedded as data: URIs
(no network, opens from a file, no script), Markdown that links the PNGs beside it, and, for tables
printed by the CLI and written to metrics.md, Markdown padded into aligned columns. Everything a user
typed is escaped on the way out.
"""

from __future__ import annotations

import base64
import html
import os
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]
    tips: list[str] = field(default_factory=list)  # per row, the raw key its words stand for: the HTML's tooltip on its first cell


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str


Block = Union[Heading, Para, Table, Image]


def embeddable(path: Path, root: Path) -> bool:
    """Whether `path` is a PNG inside `root` (the run or sweep directory); else it is skipped with a
    warning: a name in a JSON file, or a link in the directory, could point at any file on the machine."""
    try:
        inside = Path(path).resolve().is_relative_to(Path(root).resolve())
        with open(path, "rb") as f:
            png = f.read(len(PNG_MAGIC)) == PNG_MAGIC
    except OSError:
        inside = png = False
    if not (inside and png):
        warnings.warn(f"report: skipped {path}: {'not a PNG image' if inside else 'not a file inside ' + str(root)}")
    return inside and png


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def render_html(title: str, blocks: list[Block]) -> str:
    e = html.escape
    parts = []
    for b in blocks:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            parts.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
            tips = [f' title="{e(tip)}"' if tip else "" for tip in b.tips] + [""] * len(b.rows)
            body = "".join("<tr>" + "".join(f"<td{tip if i == 0 else ''}>{e(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                           for row, tip in zip(b.rows, tips))
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, Image):
            parts.append(f'<figure><img src="{_data_uri(b.path)}" alt="{e(b.alt)}"><figcaption>{e(b.alt)}</figcaption></figure>')
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
             "th{background:#f3f3f3}img{max-width:100%;image-rendering:pixelated}figure{margin:1em 0}"
             "figcaption{font-size:13px;color:#555}.good{color:#070}.bad{color:#a00}")
    # The CSP forbids every fetch and script: the page can only show what is inside it.
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f"<title>{e(title)}</title><style>{style}</style></head>\n<body>\n<h1>{e(title)}</h1>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def _md_cell(text: str, escape_html: bool = True) -> str:
    text = html.escape(str(text), quote=False) if escape_html else str(text)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table, aligned: bool = False) -> list[str]:
    """The table's Markdown lines; aligned pads every column to one width, for a terminal (still valid Markdown,
    and plain text: a terminal shows "<=" where a Markdown file needs "&lt;=")."""
    cell = (lambda c: _md_cell(c, escape_html=False)) if aligned else _md_cell
    rows = [list(map(cell, table.headers)), *([cell(c) for c in row] for row in table.rows)]
    widths = [max(len(r[i]) for r in rows) if aligned else 0 for i in range(len(table.headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |" for cells in rows]
    rule = "|" + "|".join("-" * (w + 2) if aligned else " --- " for w in widths) + "|"
    return [lines[0], rule, *lines[1:]]


def text_table(table: Table) -> str:
    """What the CLI prints and metrics.md holds: the table as aligned Markdown."""
    return "\n".join(markdown_table(table, aligned=True))


def render_markdown(title: str, blocks: list[Block], base: Path) -> str:
    lines = [f"# {_md_cell(title)}", ""]
    for b in blocks:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + _md_cell(b.text), ""]
        elif isinstance(b, Para):
            lines += [_md_cell(b.text), ""]
        elif isinstance(b, Table):
            lines += markdown_table(b) + [""]
        elif isinstance(b, Image):
            rel = urllib.parse.quote(Path(os.path.relpath(b.path, base)).as_posix())  # no markup survives in a link target
            alt = _md_cell(b.alt).replace("[", "\\[").replace("]", "\\]")
            lines += [f"![{alt}]({rel})", ""]
    return "\n".join(lines)

