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
import re
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
    # per row, the raw key its words stand for: the HTML's tooltip on its first cell
    tips: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str
    # a raw sample grid, one PNG pixel per image pixel: scaled up without smoothing (never a chart)
    pixelated: bool = False


@dataclass(frozen=True)
class Fold:
    """Blocks a reader opens when they want them: an HTML <details> under its summary line."""
    summary: str
    blocks: list


@dataclass(frozen=True)
class Claim:
    """One claim in the verdict card: its verdict, coloured by kind, the number it rests on in words, what to run to
    decide it (empty when decided), and its rule and evidence folded below."""
    name: str
    claim: str
    verdict: str
    deciding: str
    next: str
    details: list


@dataclass(frozen=True)
class Contents:
    """The list of the page's sections (its level-2 headings outside folds), linked."""


Block = Union[Heading, Para, Table, Image, Fold, Claim, Contents]


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


def anchor(text: str) -> str:
    """A heading's id: its words in lower case joined by hyphens ("Sample quality" -> "sample-quality")."""
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _sections(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]


# a cell that starts with a number (fmt's), or a missing one
NUMBER = re.compile(r"[+\-−]?(\d[\d,]*(\.\d+)?|n/a)( |x|$)")


def _align(cell: str) -> str:
    return ' class="num"' if NUMBER.match(str(cell)) else ""


def _html(b: Block, sections: list[str]) -> str:
    e = html.escape
    if isinstance(b, Heading):
        return f'<h{b.level} id="{anchor(b.text)}">{e(b.text)}</h{b.level}>'
    if isinstance(b, Para):
        return f"<p>{e(b.text)}</p>"
    if isinstance(b, Table):
        head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
        tips = [f' title="{e(tip)}"' if tip else "" for tip in b.tips] + [""] * len(b.rows)
        body = "".join("<tr>" + "".join(f"<td{tip if i == 0 else _align(c)}>{e(c)}</td>"
                                        for i, c in enumerate(row)) + "</tr>"
                       for row, tip in zip(b.rows, tips))
        # The wrapper scrolls a table wider than the page inside its own box, so the page itself never scrolls sideways.
        return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if isinstance(b, Image):
        cls = ' class="grid"' if b.pixelated else ""
        return (f'<figure><img{cls} src="{_data_uri(b.path)}" '
                f'alt="{e(b.alt)}"><figcaption>{e(b.alt)}</figcaption></figure>')
    if isinstance(b, Fold):
        inner = "\n".join(_html(x, sections) for x in b.blocks)
        return f"<details><summary>{e(b.summary)}</summary>\n{inner}\n</details>"
    if isinstance(b, Claim):
        kind = anchor(b.verdict)
        parts = [f'<p class="claim-head"><strong>{e(b.name)}</strong>: {e(b.claim)} <span class="verdict '
                 f'v-{kind}">{e(b.verdict)}</span></p>',
                 f"<p>{e(b.deciding)}</p>"]
        parts += [f'<p class="next">To decide it: <code>{e(b.next)}</code></p>'] if b.next else []
        parts.append(_html(Fold("Rule and evidence", b.details), sections))
        return f'<div class="claim">{"".join(parts)}</div>'
    if isinstance(b, Contents):
        items = "".join(f'<li><a href="#{anchor(t)}">{e(t)}</a></li>' for t in sections)
        return f'<nav class="contents"><strong>Contents</strong><ul>{items}</ul></nav>'
    raise TypeError(f"not a report block: {b!r}")


# Numbers right-aligned (a column of them compares by eye), words left-aligned. Only a raw sample grid is
# scaled without smoothing: on a chart it would break the text ("vae-mean" read "vac-mcan").
STYLE = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
         ".table{overflow-x:auto;max-width:100%;margin:1em 0}table{border-collapse:collapse;font-size:14px}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
         "td.num{text-align:right;white-space:nowrap}"
         "th{background:#f3f3f3}img{max-width:100%;height:auto}img.grid{image-rendering:pixelated}figure{margin:1em 0}"
         "figcaption{font-size:13px;color:#555}.good{color:#070}.bad{color:#a00}p,li,summary{overflow-wrap:anywhere}"
         "code{white-space:normal}.claim{border:1px solid #ccc;border-radius:6px;padding:.2em 1em;margin:.8em 0}"
         ".verdict{font-weight:bold;padding:1px 8px;border-radius:4px;color:#fff;white-space:nowrap}"
         ".v-supported{background:#1a7f37}.v-not-supported{background:#b42318}.v-mixed{background:#9a6700}"
         ".v-no-practical-difference{background:#2e5aac}.v-not-decided{background:#6e5400}.v-not-measured{background:#6b7280}"
         "details{margin:.5em 0}summary{cursor:pointer;color:#444}nav.contents ul{columns:2 16em;margin:.3em 0}")


def render_html(title: str, blocks: list[Block]) -> str:
    e = html.escape
    sections = _sections(blocks)
    parts = [_html(b, sections) for b in blocks]
    # The CSP forbids every fetch and script: the page can only show what is inside it.
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f"<title>{e(title)}</title><style>{STYLE}</style></head>\n<body>\n<h1>{e(title)}</h1>\n"
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
    # a column of numbers is right-aligned, as in the HTML: "---:" in the rule, and padded on the left in a terminal
    numeric = [bool(table.rows) and all(NUMBER.match(str(row[i])) or not str(row[i]) for row in table.rows)
               for i in range(len(widths))]
    lines = [rows[0],
             *([c.rjust(w) if right else c.ljust(w) for c, w, right in zip(cells, widths, numeric)]
               for cells in rows[1:])]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |" for cells in lines]
    rule = "|" + "|".join("-" * (w + 1) + (":" if right else "-") if aligned else (" ---: " if right else " --- ")
                          for w, right in zip(widths, numeric)) + "|"
    return [lines[0], rule, *lines[1:]]


def text_table(table: Table) -> str:
    """What the CLI prints and metrics.md holds: the table as aligned Markdown."""
    return "\n".join(markdown_table(table, aligned=True))


def _markdown(b: Block, base: Path, sections: list[str]) -> list[str]:
    if isinstance(b, Heading):
        return ["#" * b.level + " " + _md_cell(b.text), ""]
    if isinstance(b, Para):
        return [_md_cell(b.text), ""]
    if isinstance(b, Table):
        return markdown_table(b) + [""]
    if isinstance(b, Image):
        rel = urllib.parse.quote(Path(os.path.relpath(b.path, base)).as_posix())  # no markup survives in a link target
        alt = _md_cell(b.alt).replace("[", "\\[").replace("]", "\\]")
        return [f"![{alt}]({rel})", ""]
    if isinstance(b, Fold):  # Markdown has no folding: the summary as a bold line, then the blocks
        return [f"**{_md_cell(b.summary)}**", "", *(line for x in b.blocks for line in _markdown(x, base, sections))]
    if isinstance(b, Claim):
        lines = [f"**{_md_cell(b.name)}**: {_md_cell(b.claim)}: **{_md_cell(b.verdict)}**. {_md_cell(b.deciding)}", ""]
        # a code span shows its text as it is
        lines += [f"To decide it: `{_md_cell(b.next, escape_html=False)}`", ""] if b.next else []
        return lines + _markdown(Fold("Rule and evidence", b.details), base, sections)
    if isinstance(b, Contents):
        return ["Contents: " + " · ".join(f"[{_md_cell(t)}](#{anchor(t)})" for t in sections), ""]
    raise TypeError(f"not a report block: {b!r}")


def render_markdown(title: str, blocks: list[Block], base: Path) -> str:
    sections = _sections(blocks)
    return "\n".join([f"# {_md_cell(title)}", "", *(line for b in blocks for line in _markdown(b, base, sections))])
