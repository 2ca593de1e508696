"""One document model for every page the project writes (the analyst report,
the data-quality report), rendered to Markdown and to self-contained HTML by
the jinja2 templates in python_checks/templates/.

A Document is a list of blocks (headings, paragraphs, call-outs, lists,
tables, figures, sparklines); text may hold `code` and **bold**, nothing else.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).with_name("templates")
#: The charts' resolution: an HTML figure is shown at its physical size.
DPI = 150


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    #: Per row, a CSS class for the row ('' for none): status colours.
    row_classes: list[str] = field(default_factory=list)


@dataclass
class Figure:
    path: Path
    alt: str
    caption: str


@dataclass
class Sparkline:
    """A metric's recent values, oldest first; the last is this run's."""

    label: str
    values: list[float]


@dataclass
class Block:
    kind: str  # h1..h4, p, answer, note, alert, ul, table, figure, sparklines
    value: Any


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(Block(f"h{level}", text))

    def para(self, text: str) -> None:
        self.blocks.append(Block("p", text))

    def answer(self, text: str) -> None:
        self.blocks.append(Block("answer", text))

    def note(self, text: str) -> None:
        self.blocks.append(Block("note", text))

    def alert(self, text: str) -> None:
        """A call-out for what went wrong (a tripped gate)."""
        self.blocks.append(Block("alert", text))

    def bullets(self, items: Sequence[str]) -> None:
        self.blocks.append(Block("ul", list(items)))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]],
              numeric: Sequence[bool] | None = None,
              row_classes: Sequence[str] | None = None) -> None:
        numeric = list(numeric) if numeric is not None else [False] * len(headers)
        self.blocks.append(Block("table", Table(
            list(headers), [["" if cell is None else str(cell) for cell in row] for row in rows],
            numeric, list(row_classes or []))))

    def figure(self, path: Path, alt: str, caption: str) -> None:
        self.blocks.append(Block("figure", Figure(path, alt, caption)))

    def sparklines(self, lines: Sequence[Sparkline]) -> None:
        self.blocks.append(Block("sparklines", list(lines)))

    def extend(self, other: Document) -> None:
        self.blocks.extend(other.blocks)


# --------------------------------------------------------------------------- filters

def _inline_html(text: Any) -> str:
    escaped = html.escape(str(text), quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def _png_data(path: Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _png_width(path: Path) -> int:
    """CSS pixels of a PNG at its physical size (DPI -> 96 px per inch)."""
    header = Path(path).read_bytes()[16:20]
    return round(int.from_bytes(header, "big") / DPI * 96)


def _spark_svg(values: Sequence[float], width: int = 120, height: int = 24) -> str:
    """An inline SVG polyline of the values, the last point marked."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    points = [(round(i * step, 1), round(height - 3 - (v - low) / span * (height - 6), 1))
              for i, v in enumerate(values)]
    line = " ".join(f"{x},{y}" for x, y in points)
    last_x, last_y = points[-1]
    return (f'<svg class="spark" width="{width}" height="{height}" role="img" '
            f'aria-label="{len(values)} runs">'
            f'<polyline fill="none" stroke="#2f6db5" stroke-width="1.5" points="{line}"/>'
            f'<circle cx="{last_x}" cy="{last_y}" r="2.5" fill="#2f6db5"/></svg>')


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=False, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters.update(inline=_inline_html, md_cell=_md_cell, slug=_slug, png_data=_png_data,
                       png_width=_png_width, spark_svg=_spark_svg, escape=html.escape)
    return env


def render_markdown(doc: Document, base: Path) -> str:
    """Markdown; figures as links relative to `base` (the folder the file lands in)."""
    figures = [Path(block.value.path).relative_to(base).as_posix()
               for block in doc.blocks if block.kind == "figure"]
    text = _environment().get_template("document.md.j2").render(doc=doc, figures=figures)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def render_html(doc: Document) -> str:
    """One self-contained page: inline CSS, figures embedded as data URIs."""
    return _environment().get_template("document.html.j2").render(doc=doc)
