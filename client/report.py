"""The HTML report: the daemon's ``report.data`` aggregates drawn as one self-contained, shareable page.

What it shows: the most used faces per model and how their use changed by day; for each synthesized face its
lexicon bag (a small circumplex dial, the words beside it) and, per model, the circumplex cells and stance
words as heatmaps; the typing-rhythm deviation over time with the assistant's faces on the same time axis and
the mean deviation of the prompts each face answered; counts, date ranges and a privacy footer.

Why it looks like this:

* **One file, nothing fetched.** Charts are matplotlib figures saved as SVG and inlined; the page has no script,
  no image request, no font download, and a Content-Security-Policy meta tag (``default-src 'none'``; the one
  ``<style>`` block is allowed by its SHA-256) that forbids anything else. Inline SVG rather than PNG data URIs:
  vector, small, and readable text (a base64 blob is what the privacy auditor's secret detector rightly flags).
* **CSP-clean SVG.** Matplotlib writes ``style="..."`` attributes and a ``<style>`` element, which a strict CSP
  blocks; :func:`inline_svg` turns them into SVG presentation attributes (not subject to CSP), drops metadata
  and comments, renames element ids per figure (several SVGs share one document) and refuses raster images.
* **Faces render everywhere.** Glyphs are drawn as paths (``svg.fonttype = "path"``) from fonts chosen on this
  machine: the first installed of :data:`FONT_CANDIDATES` (DejaVu Sans, Noto Sans CJK, DejaVu Serif, Symbola,
  ...) with matplotlib's per-glyph fallback, so the reader needs no font. A character no installed font covers
  is drawn as matplotlib's last-resort box and listed in the footer with the font that would fix it; the HTML
  text (tables) names every face too, rendered by the reader's own fonts.
* **Auditable.** The privacy auditor reads a file line by line for personal data and the journal's text
  (``llmojid-ctl audit --only logs --log DIR/index.html``). Glyph outlines are runs of integers that can look
  like phone or card numbers, so a path line the sanitizer would flag is split into one number per line.
* **Deterministic.** The same data gives the same bytes (fixed SVG id salt, no dates in SVG metadata).

Pure apart from reading font files (coverage) and matplotlib's own caches; :func:`write_report` does the file I/O.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import logging
import math
import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.colors import ListedColormap, to_hex
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.patches import Circle, Patch, Wedge
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D

from llmojid.client.commands.sessions import duration, weight
from llmojid.common.lexicon import CELL_OF_WORD, CELLS, STANCE_WORDS

REPORT_FILE: Final = "index.html"

#: Font families for chart text, in order of preference; the installed ones are used with per-glyph fallback.
#: DejaVu Sans covers Latin, Greek, Cyrillic, box drawing, most symbols; Noto Sans CJK the kana, CJK and
#: full-width forms; DejaVu Serif adds phonetic letters (ᴥ); the rest fill gaps where installed.
FONT_CANDIDATES: Final = (
    "DejaVu Sans",
    "Noto Sans CJK JP",
    "DejaVu Serif",
    "Symbola",
    "Noto Sans Symbols",
    "Noto Sans Symbols 2",
    "Noto Sans Canadian Aboriginal",
    "Noto Sans Thai",
    "Noto Sans Math",
    "FreeSerif",
    "Hiragino Sans",
    "Apple Symbols",
    "Arial Unicode MS",
    "Segoe UI Symbol",
    "Yu Gothic",
    "Unifont",
)
#: What a reader could install when a face character has no font here (named in the footer).
FONT_ADVICE: Final = "Symbola, Noto Sans Canadian Aboriginal, Noto Sans Thai (Debian: fonts-symbola, fonts-noto-extra)"
#: The page's own font stack for faces in tables (the reader's fonts: nothing is downloaded).
CSS_FACE_FONTS: Final = (
    '"DejaVu Sans", "Noto Sans CJK JP", "Hiragino Sans", "Segoe UI Symbol", "Symbola", "Noto Sans Symbols 2", '
    "sans-serif"
)

#: Faces charted per model, and models charted (the tables list all).
TOP_FACES: Final = 10
MAX_MODELS_CHARTED: Final = 8
#: Faces in the face-by-day heatmap and on the typing timeline.
HEATMAP_FACES: Final = 12
TIMELINE_FACES: Final = 8
#: The report's time units (``report.data`` chooses one from the journal's span) and what the axis says of them.
UNIT_STEPS: Final = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
UNIT_NOTES: Final = {"week": ", labelled by its Monday"}
UNIT_LABELS: Final = {"day": "%b %d", "week": "%b %d", "month": "%b %Y"}
#: Tick labels under a day, week or month axis at most (every k-th bucket is labelled beyond).
MAX_TIME_LABELS: Final = 10
#: Counts are written in the faces-over-time grid up to this many columns (a day of hours, weeks of days).
MAX_WRITTEN_COLUMNS: Final = 48
#: Buckets a span must cover before it is charted over time (fewer are said in words).
MIN_CHART_BUCKETS: Final = 3
#: Lexicon dials drawn (the most used synthesized faces); the bag table lists all.
MAX_DIALS: Final = 48
#: Faces up to this long are shown large on their card (longer ones would not fit beside the dial).
BIG_FACE_CHARS: Final = 9
#: Characters after which a model name may wrap (see _name).
_NAME_BREAKS: Final = frozenset("-._/:@")
#: Decimal places kept in SVG path data (a hundredth of a point).
PATH_DECIMALS: Final = 2

#: Where each circumplex cell sits on the dial: degrees (0 = pleasant, 90 = high arousal) and its colour.
#: NB (neutral, detached) is the centre.
CELL_ANGLES: Final[dict[str, float]] = {
    "NP": 0.0,
    "HP-S": 30.0,
    "HP-D": 60.0,
    "HB": 90.0,
    "HN-D": 120.0,
    "HN-S": 150.0,
    "LN": 225.0,
    "LP": 315.0,
}
CELL_COLORS: Final[dict[str, str]] = {
    "HP-D": "#e8891c",
    "HP-S": "#f2c12e",
    "LP": "#3aa39a",
    "NP": "#7cbf5e",
    "HN-D": "#c8283c",
    "HN-S": "#ef6f8e",
    "LN": "#4a6fa5",
    "NB": "#9a9a9a",
    "HB": "#8d7fd0",
}
MODEL_COLORS: Final = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")

_CSS: Final = f"""
:root {{ color-scheme: light; }}
body {{ margin: 0; font: 15px/1.45 "DejaVu Sans", "Noto Sans CJK JP", sans-serif; color: #1d1d1f;
  background: #fafaf7; }}
header, main, footer {{ max-width: 1100px; margin: 0 auto; padding: 0 20px; }}
header {{ padding-top: 24px; }}
h1 {{ font-size: 26px; margin: 0 0 4px; }}
h2 {{ font-size: 20px; margin: 34px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }}
h3 {{ font-size: 16px; margin: 18px 0 6px; }}
nav a {{ margin-right: 14px; color: #2a5db0; }}
.lead {{ color: #555; margin: 0 0 10px; }}
.face {{ font-family: {CSS_FACE_FONTS}; white-space: nowrap; }}
.big {{ font-size: 22px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 10px; }}
.card {{ background: #fff; border: 1px solid #e3e3de; border-radius: 8px; padding: 10px 12px; display: grid;
  grid-template-columns: minmax(0, 1fr) 88px; gap: 8px; align-items: start; }}
.card svg {{ width: 88px; }}
.card p {{ margin: 2px 0; font-size: 13px; }}
.muted {{ color: #666; font-size: 13px; }}
.chart {{ background: #fff; border: 1px solid #e3e3de; border-radius: 8px; padding: 6px; margin: 0; }}
figcaption {{ font-size: 13px; font-weight: bold; padding: 4px 6px 0; overflow-wrap: anywhere; }}
svg {{ max-width: 100%; height: auto; display: block; }}
.chart svg {{ width: 100%; }}
.key {{ max-width: 720px; }}
table {{ border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }}
th, td {{ text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #ecece8; vertical-align: top; }}
td.n, th.n {{ text-align: right; }}
details {{ margin: 8px 0; }}
summary {{ cursor: pointer; color: #2a5db0; }}
.word {{ display: inline-block; padding: 0 6px; margin: 1px 2px; border-radius: 9px; background: #eef0f4;
  font-size: 12px; }}
.note {{ background: #fff8e1; border: 1px solid #f0dfa0; border-radius: 6px; padding: 6px 10px; }}
footer {{ margin-top: 40px; padding-bottom: 40px; color: #444; }}
footer code {{ background: #eee; padding: 1px 4px; border-radius: 3px; }}
""" + "".join(f".cell-{cell} {{ background: {color}40; }}\n" for cell, color in CELL_COLORS.items())


# --- fonts ---------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def chart_fonts() -> tuple[str, ...]:
    """The installed families of :data:`FONT_CANDIDATES`, in order (DejaVu Sans always: matplotlib ships it)."""
    found: list[str] = []
    for family in FONT_CANDIDATES:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        if family not in found and _family_of(path) == family.lower():
            found.append(family)
    return tuple(found) or ("DejaVu Sans",)


def _family_of(path: str) -> str:
    for entry in font_manager.fontManager.ttflist:
        if entry.fname == path:
            return str(entry.name).lower()
    return ""


@lru_cache(maxsize=1)
def _charmaps() -> tuple[frozenset[int], ...]:
    maps = []
    for family in chart_fonts():
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        maps.append(frozenset(FT2Font(path).get_charmap()))
    return tuple(maps)


def uncovered(texts: Iterable[str]) -> list[str]:
    """The characters of ``texts`` that no chart font draws (they show as a box in the charts), sorted."""
    maps = _charmaps()
    missing = {ch for text in texts for ch in text if not ch.isspace() and not any(ord(ch) in m for m in maps)}
    return sorted(missing)


# --- SVG -------------------------------------------------------------------------------------------------------------
_SVG_NS: Final = "{http://www.w3.org/2000/svg}"
_XLINK_HREF: Final = "{http://www.w3.org/1999/xlink}href"
_URL_REF: Final = re.compile(r"url\(#([^)]+)\)")
_NUMBER: Final = re.compile(r"-?\d+\.\d+")
_BETWEEN_NUMBERS: Final = re.compile(r"(?<=[\d.])\s+(?=[-\d.])")
#: SVG presentation attributes matplotlib's ``style`` may set (a CSP does not govern attributes).
_PRESENTATION: Final = frozenset(
    {
        "clip-path",
        "clip-rule",
        "color",
        "fill",
        "fill-opacity",
        "fill-rule",
        "font-family",
        "font-size",
        "font-style",
        "font-weight",
        "opacity",
        "stroke",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-opacity",
        "stroke-width",
        "text-anchor",
        "dominant-baseline",
    }
)
#: Elements dropped: document metadata and the style sheet (its two rules become attributes of the root).
_DROPPED: Final = frozenset({"metadata", "style", "title", "desc"})
_ROOT_STYLE: Final = (("stroke-linejoin", "round"), ("stroke-linecap", "butt"))


class ChartError(ValueError):
    """A chart's SVG holds something the report must not (a raster image, an unknown element)."""


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _round_number(match: re.Match[str]) -> str:
    text = f"{float(match.group(0)):.{PATH_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _path_data(d: str) -> str:
    """Path data rounded, one command per line, numbers joined by commas.

    Commas, not spaces: the sanitizer's phone and card detectors join digit groups across spaces and dots, never
    across a comma or a letter, so no run of digits here is longer than one coordinate (at most six digits).
    """
    lines: list[str] = []
    line = ""
    for token in d.split():
        if token.isalpha():
            if line:
                lines.append(line)
            line = token
        else:
            number = _NUMBER.sub(_round_number, token)
            line = f"{line},{number}" if line and not line[-1].isalpha() else line + number
    if line:
        lines.append(line)
    return "\n".join(lines)


def _numbers_joined(value: str) -> str:
    """Numbers in a ``transform`` list joined by commas (see :func:`_path_data`), values kept exact."""
    return _BETWEEN_NUMBERS.sub(",", value)


def _style_attributes(style: str) -> list[tuple[str, str]]:
    out = []
    for declaration in style.split(";"):
        name, sep, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if sep and name in _PRESENTATION and value:
            out.append((name, value))
    return out


def inline_svg(svg: str, prefix: str, label: str) -> str:
    """Matplotlib's SVG as an element to inline in the page (module docstring: CSP-clean SVG).

    ``prefix`` makes the figure's ids unique in the page; ``label`` is its accessible name.

    Raises:
        ChartError: the SVG embeds a raster image or a foreign element.
    """
    root = ET.fromstring(svg)  # noqa: S314 - matplotlib's own output, parsed in memory
    referenced: set[str] = set()
    for element in root.iter():
        for name, value in element.attrib.items():
            if name in (_XLINK_HREF, "href") and value.startswith("#"):
                referenced.add(value[1:])
            referenced.update(_URL_REF.findall(value))
    ids = {old: f"{prefix}{i}" for i, old in enumerate(sorted(referenced))}

    def ref(value: str) -> str:
        return _URL_REF.sub(lambda m: f"url(#{ids.get(m.group(1), m.group(1))})", value)

    parts: list[str] = []

    def emit(element: ET.Element, top: bool) -> None:
        tag = _local(element.tag)
        if not element.tag.startswith(_SVG_NS):
            raise ChartError("a chart holds an element outside SVG")
        if tag in _DROPPED:
            return
        if tag == "image":
            raise ChartError("a chart holds a raster image")
        attrs: list[tuple[str, str]] = []
        if top:
            attrs += [("viewBox", element.attrib["viewBox"]), ("role", "img"), ("aria-label", label)]
            attrs += list(_ROOT_STYLE)
        for name, value in element.attrib.items():
            local = _local(name)
            if top and local in ("viewBox", "version", "width", "height"):
                continue
            if local == "id":
                if value in ids:
                    attrs.append(("id", ids[value]))
            elif name in (_XLINK_HREF, "href"):
                attrs.append(("href", f"#{ids.get(value[1:], value[1:])}" if value.startswith("#") else ""))
            elif local == "style":
                attrs += [(k, ref(v)) for k, v in _style_attributes(value)]
            elif local == "d":
                attrs.append(("d", _path_data(value)))
            elif local == "transform":
                attrs.append(("transform", _numbers_joined(value)))
            else:
                attrs.append((local, ref(value)))
        if top:
            width, height = (float(x) for x in element.attrib["viewBox"].split()[2:])
            attrs += [("width", f"{width:g}"), ("height", f"{height:g}")]
        text = "".join(f'{" "}{k}="{html.escape(v, quote=True)}"' for k, v in attrs if not (k == "href" and v == ""))
        children = list(element)
        content = html.escape(element.text) if element.text and element.text.strip() else ""
        if not children and not content:
            parts.append(f"<{tag}{text}/>")
            return
        parts.append(f"<{tag}{text}>{content}")
        for child in children:
            emit(child, False)
        parts.append(f"</{tag}>")

    emit(root, True)
    return "\n".join(parts)


class _Charts:
    """Renders figures to inline SVG, numbering them so ids stay unique in the page."""

    def __init__(self) -> None:
        self.count = 0

    def svg(self, fig: Figure, label: str) -> str:
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
        self.count += 1
        return inline_svg(buffer.getvalue(), f"c{self.count}-", label)


def _rc() -> Any:  # matplotlib types rc keys as literals; these are checked by matplotlib at run time
    return {
        "font.family": list(chart_fonts()),
        "font.size": 10,
        "svg.fonttype": "path",
        "svg.hashsalt": "llmojid-report",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "figure.dpi": 100,
    }


# --- data helpers ----------------------------------------------------------------------------------------------------
def _parse(ts: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(ts.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _when(ts: str) -> str:
    """A stored time for people: ``2026-01-02 03:04 UTC`` (the text as given when it does not parse)."""
    when = _parse(ts) if ts else None
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else (ts or "-")


def _next_bucket(start: datetime, unit: str) -> datetime:
    if unit == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start + UNIT_STEPS[unit]


@dataclass
class Timeline:
    """``report.data``'s ``over_time`` with every bucket from the first to the last, empty ones too (a gap in use
    shows as a gap, not as a shorter axis)."""

    unit: str
    starts: list[datetime]
    #: Bucket edges as matplotlib date numbers: len(starts) + 1.
    edges: list[float]
    by_model: list[dict[str, Any]]
    by_face: list[dict[str, Any]]

    @classmethod
    def of(cls, over_time: dict[str, Any]) -> Timeline | None:
        """None when the journal has no row with a readable time."""
        unit = over_time["unit"]
        seen = sorted({when for r in over_time["by_model"] if (when := _parse(r["t"])) is not None})
        if not seen:
            return None
        starts = [seen[0]]
        while starts[-1] < seen[-1]:
            starts.append(_next_bucket(starts[-1], unit))
        bounds = [*starts, _next_bucket(starts[-1], unit)]
        edges = [float(mdates.date2num(t)) for t in bounds]  # type: ignore[no-untyped-call]
        return cls(unit, starts, edges, over_time["by_model"], over_time["by_face"])

    def _index(self, t: str) -> int | None:
        when = _parse(t)
        return self.starts.index(when) if when in self.starts else None

    def counts(self, *, model: str | None = None, face: str | None = None) -> list[int]:
        """Messages per bucket: of one model, of one face, or of all (neither given)."""
        out = [0] * len(self.starts)
        rows = self.by_face if face is not None else self.by_model
        for r in rows:
            if (face is not None and r["canonical"] != face) or (model is not None and r["model"] != model):
                continue
            i = self._index(r["t"])
            if i is not None:
                out[i] += int(r["count"])
        return out

    def top_faces(self, n: int) -> list[str]:
        totals: Counter[str] = Counter()
        for r in self.by_face:
            totals[r["canonical"]] += int(r["count"])
        return [f for f, _n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    def bar_spans(self) -> tuple[list[float], list[float]]:
        """Left edge and width of each bucket's bar (a small gap on each side)."""
        widths = [b - a for a, b in pairwise(self.edges)]
        return [a + 0.08 * w for a, w in zip(self.edges, widths, strict=False)], [0.84 * w for w in widths]

    def span_text(self) -> str:
        fmt = "%Y-%m-%d %H:%M UTC" if self.unit == "hour" else "%Y-%m-%d"
        end = _next_bucket(self.starts[-1], self.unit) - timedelta(seconds=1 if self.unit != "hour" else 0)
        return f"{self.starts[0].strftime(fmt)} to {end.strftime(fmt)}"


def _model_colors(models: Sequence[str]) -> dict[str, str]:
    return {m: MODEL_COLORS[i % len(MODEL_COLORS)] for i, m in enumerate(models)}


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- charts ---------------------------------------------------------------------------------------------------------
def _faces_chart(charts: _Charts, faces: list[dict[str, Any]], color: str) -> str:
    shown = faces[:TOP_FACES]
    fig = Figure(figsize=(4.6, 0.42 * len(shown) + 0.9))
    ax = fig.subplots()
    y = range(len(shown))
    counts = [f["count"] for f in shown]
    ax.barh(list(y), counts, color=color)
    ax.set_yticks(list(y), [f["canonical"] for f in shown], fontsize=13)
    ax.invert_yaxis()
    for i, n in enumerate(counts):
        ax.text(n, i, f" {n}", va="center", fontsize=9)
    ax.set_xlim(0, max(counts) * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=1))  # a narrow chart: few labels
    ax.set_xlabel("messages led by the face")
    fig.tight_layout()
    # the model is named by the figure's caption (HTML), not here: see _name
    label = "Most used faces: " + ", ".join(f"{f['canonical']} {f['count']}" for f in shown)
    return charts.svg(fig, label)


def over_time_figure(timeline: Timeline, colors: dict[str, str]) -> Figure:
    """Messages per time bucket, stacked by model; integer counts on an integer axis."""
    heights: dict[str, list[int]] = {}
    for model in colors:
        row = timeline.counts(model=model)
        if any(row):
            heights[model] = row
    fig = Figure(figsize=(9.6, 3.0))
    ax = fig.subplots()
    left, widths = timeline.bar_spans()
    bottom = [0] * len(left)
    for model, row in heights.items():
        ax.bar(left, row, width=widths, bottom=bottom, align="edge", color=colors[model], label=_short(model, 36))
        bottom = [b + h for b, h in zip(bottom, row, strict=True)]
    _time_axis(ax, timeline, "bar")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylim(0, max(bottom) * 1.12 if max(bottom) else 1)
    ax.set_ylabel(f"messages per {timeline.unit}")
    if len(heights) > 1:
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _time_margins(fig, 3.0)
    return fig


def _time_margins(fig: Figure, height: float) -> None:
    """The same plot area left and right in both charts over time, so their time axes line up on the page (room
    for face labels on the left, for a legend on the right); top and bottom in inches of this figure."""
    fig.subplots_adjust(left=0.16, right=0.84, bottom=0.62 / height, top=1 - 0.12 / height)


def _time_axis(ax: Any, timeline: Timeline, per: str) -> None:
    """The x axis over the timeline's buckets, edge to edge. Hours are read at their boundaries, as on a clock;
    a day, week or month is read under its bar, so those ticks sit at the centres (every k-th labelled)."""
    ax.set_xlim(timeline.edges[0], timeline.edges[-1])
    if timeline.unit == "hour":
        _date_axis(ax)
    else:
        stride = max(1, math.ceil(len(timeline.starts) / MAX_TIME_LABELS))
        centres = [(a + b) / 2 for a, b in pairwise(timeline.edges)]
        ax.set_xticks(centres[::stride], [t.strftime(UNIT_LABELS[timeline.unit]) for t in timeline.starts[::stride]])
    ax.set_xlabel(f"time (UTC), one {timeline.unit} per {per}{UNIT_NOTES.get(timeline.unit, '')}")


def _date_axis(ax: Any) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def integer_bins(top: int) -> list[tuple[int, int]]:
    """Integer ranges for a count scale up to ``top``: 1, 2, 3-4, 5-9, 10-19, 20-49, 50-99, ... (the last range
    ends at ``top``). Pure."""
    lows = [1, 2, 3, 5]
    while lows[-1] <= top:
        lows.append(_next_low(lows[-1]))
    bins = [(lo, min(hi - 1, top)) for lo, hi in pairwise(lows) if lo <= top]
    return bins or [(1, 1)]


def _next_low(value: int) -> int:
    """5 -> 10 -> 20 -> 50 -> 100 -> ...: the 1-2-5 series."""
    lead = int(str(value)[0])
    return value * 2 if lead in (1, 5) else value * 5 // 2


def _bin_label(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}–{hi}"


def face_time_figure(timeline: Timeline) -> Figure:
    """The most used faces per time bucket: a grid whose shades are integer ranges named in a legend (no colour
    bar), with each count written in its cell while the cells are wide enough."""
    faces = timeline.top_faces(HEATMAP_FACES)
    grid = [timeline.counts(face=face) for face in faces]
    bins = integer_bins(max(max(row) for row in grid))
    blues = matplotlib.colormaps["Blues"]
    shades = ["#f4f4f0", *(to_hex(blues(0.3 + 0.65 * i / max(1, len(bins) - 1))) for i in range(len(bins)))]

    def shade(n: int) -> int:
        return next((i + 1 for i, (lo, hi) in enumerate(bins) if lo <= n <= hi), 0)

    height = 0.36 * len(faces) + 1.0
    fig = Figure(figsize=(9.6, height))
    ax = fig.subplots()
    ax.pcolormesh(
        timeline.edges,
        list(range(len(faces) + 1)),
        [[shade(n) for n in row] for row in grid],
        cmap=ListedColormap(shades),
        vmin=-0.5,
        vmax=len(bins) + 0.5,
        edgecolors="#ffffff",
        linewidth=0.5,
    )
    if len(timeline.starts) <= MAX_WRITTEN_COLUMNS:
        for i, row in enumerate(grid):
            for j, n in enumerate(row):
                if n:
                    x = (timeline.edges[j] + timeline.edges[j + 1]) / 2
                    dark = shade(n) > len(bins) / 2
                    ax.text(x, i + 0.5, str(n), ha="center", va="center", fontsize=7, color="white" if dark else "#222")
    ax.set_yticks([i + 0.5 for i in range(len(faces))], faces, fontsize=12)
    ax.set_ylim(len(faces), 0)
    _time_axis(ax, timeline, "column")
    handles = [Patch(facecolor=shades[i + 1], label=_bin_label(lo, hi)) for i, (lo, hi) in enumerate(bins)]
    ax.legend(handles=handles, title="messages", fontsize=8, title_fontsize=8, frameon=False, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))  # fmt: skip
    _time_margins(fig, height)
    return fig


def _heatmap(
    charts: _Charts, rows: list[str], columns: list[str], values: list[list[float]], label: str, *, width: float
) -> str:
    fig = Figure(figsize=(width, 0.45 * len(rows) + 1.6))
    ax = fig.subplots()
    ax.pcolormesh(values, cmap="Purples", vmin=0, vmax=max(0.01, max(max(r) for r in values)))
    ax.set_xticks([i + 0.5 for i in range(len(columns))], columns, fontsize=8, rotation=60, ha="right")
    ax.set_yticks([i + 0.5 for i in range(len(rows))], [_short(r, 32) for r in rows], fontsize=9)
    ax.invert_yaxis()
    top = max(max(r) for r in values) or 1.0
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v >= 0.005:
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    f"{v:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v > 0.6 * top else "#222",
                )
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.tight_layout()
    return charts.svg(fig, label)


def _draw_dial(fig: Figure, chosen: dict[str, float], centre: tuple[float, float], radius: float) -> None:
    """The nine circumplex cells as patches on the figure itself (no axes: a dial costs a few milliseconds);
    ``chosen`` cells filled with their colour (more opaque with more weight), the others faint."""
    scale = {"transform": fig.transFigure}

    def look(cell: str) -> dict[str, Any]:
        weight = chosen.get(cell, 0.0)
        return {
            "facecolor": CELL_COLORS[cell] if weight else "#f1f1ee",
            "alpha": 0.35 + 0.65 * weight if weight else 1.0,
            "edgecolor": "#d4d4cf",
            "linewidth": 0.6,
        }

    for cell, angle in CELL_ANGLES.items():
        half = 14.0 if cell in ("HP-S", "HP-D", "HN-D", "HN-S") else 22.0
        fig.add_artist(Wedge(centre, radius, angle - half, angle + half, width=0.62 * radius, **scale, **look(cell)))
    fig.add_artist(Circle(centre, 0.3 * radius, **scale, **look("NB")))


def _bag_dial(charts: _Charts, bag: dict[str, Any]) -> str:
    words = bag["primary_affect"]
    chosen = {CELL_OF_WORD[word]: 1.0 for word in words}
    fig = Figure(figsize=(1.1, 1.1))
    _draw_dial(fig, chosen, (0.5, 0.5), 0.48)
    return charts.svg(fig, f"Circumplex cells of {bag['canonical']}: " + ", ".join(words))


def _dial_key(charts: _Charts) -> str:
    """The dial once more, large, with every cell named: the key to the small dials."""
    width, height = 7.2, 3.4
    aspect = height / width  # figure units are not square: squash x so the dial stays round
    centre, radius = (0.5, 0.52), 0.4
    _draw_dial(fig := Figure(figsize=(width, height)), dict.fromkeys(CELLS, 0.55), centre, radius)
    squash = Affine2D().scale(aspect, 1).translate(centre[0] * (1 - aspect), 0) + fig.transFigure
    for artist in fig.artists:
        artist.set_transform(squash)
    for cell, angle in CELL_ANGLES.items():
        r = radius * 1.12
        x = centre[0] + r * aspect * math.cos(math.radians(angle))
        y = centre[1] + r * math.sin(math.radians(angle))
        ha = "left" if x > 0.53 else "right" if x < 0.47 else "center"
        fig.text(x, y, f"{cell}  " + " · ".join(CELLS[cell]), ha=ha, va="center", fontsize=8)
    fig.text(centre[0], centre[1], "NB", ha="center", va="center", fontsize=7)
    fig.text(0.5, 0.02, "right: pleasant · left: unpleasant · up: high arousal · centre (NB): neutral, detached",
             ha="center", fontsize=7.5, color="#666")  # fmt: skip
    return charts.svg(fig, "Key to the circumplex dial: the nine cells of lexicon v2 and their words")


def _model_legend(ax: Any, colors: dict[str, str], models: Iterable[str]) -> None:
    present = set(models)
    shown = [m for m in colors if m in present]
    if len(shown) > 1:
        for model in shown:
            ax.scatter([], [], color=colors[model], label=_short(model, 30))
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _typing_chart(charts: _Charts, typing: dict[str, Any], colors: dict[str, str]) -> str:
    windows = typing["windows"]
    events = typing["face_events"]
    totals: Counter[str] = Counter()
    for e in events:
        totals[e["canonical"]] += e["count"]
    faces = [f for f, _n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TIMELINE_FACES]]
    fig = Figure(figsize=(9.6, 2.4 + 0.32 * max(1, len(faces))))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 0.4 + 0.3 * max(1, len(faces))))
    scored = [(w, _parse(w["closed_at"])) for w in windows if w["deviation"] is not None]
    enrolled = [_parse(w["closed_at"]) for w in windows if w["deviation"] is None]
    ok = [(t, w["deviation"]) for w, t in scored if t and not w["flagged"]]
    flagged = [(t, w["deviation"]) for w, t in scored if t and w["flagged"]]
    if ok:
        top.plot([t for t, _ in ok], [d for _, d in ok], "o", color="#4c72b0", ms=4, label="prompt window")
    if flagged:
        top.plot([t for t, _ in flagged], [d for _, d in flagged], "o", color="#c44e52", ms=5, label="flagged")
    if scored:
        series = sorted((t, w["deviation"]) for w, t in scored if t)
        top.plot([t for t, _ in series], [d for _, d in series], "-", color="#4c72b0", lw=0.8, alpha=0.5)
        thresholds = sorted((t, w["threshold"]) for w, t in scored if t and w["threshold"] is not None)
        if thresholds:
            top.step(
                [t for t, _ in thresholds],
                [v for _, v in thresholds],
                where="post",
                color="#c44e52",
                lw=0.9,
                ls="--",
                label="threshold",
            )
    if enrolled:
        top.plot([t for t in enrolled if t], [0.0] * len([t for t in enrolled if t]), "|", color="#999", ms=8)
        top.plot([], [], "|", color="#999", label="enrolment window")
    top.set_ylabel("deviation")
    top.set_ylim(bottom=0)
    top.legend(fontsize=8, frameon=False, loc="upper left", ncols=4)
    row_of = {f: i for i, f in enumerate(faces)}
    for e in events:
        if e["canonical"] not in row_of:
            continue
        when = _parse(e["t"])
        bottom.scatter(
            [when],
            [row_of[e["canonical"]]],
            s=18 + 10 * min(e["count"], 8),
            color=colors.get(e["model"], "#666"),
            alpha=0.8,
            linewidths=0,
        )
    _model_legend(bottom, colors, (e["model"] for e in events if e["canonical"] in row_of))
    bottom.set_yticks(list(range(len(faces))), faces, fontsize=11)
    bottom.set_ylim(len(faces) - 0.5 if faces else 0.5, -0.5)
    bottom.set_xlabel("time (UTC)")
    _date_axis(bottom)
    fig.tight_layout()
    return charts.svg(fig, "Typing-rhythm deviation per prompt, with the assistant's faces on the same time axis")


def per_face(linked: list[dict[str, Any]]) -> list[tuple[str, int, float, int]]:
    """``faces_by_deviation`` pooled over models: (face, answers, mean deviation, answers to flagged prompts),
    the most answering faces first (at most TOP_FACES + 2), then ordered by mean deviation, highest first."""
    pooled: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for r in linked:
        acc = pooled[r["canonical"]]
        acc[0] += r["turns"]
        acc[1] += r["mean_deviation"] * r["turns"]
        acc[2] += r["flagged_turns"]
    busiest = sorted(pooled.items(), key=lambda kv: (-kv[1][0], kv[0]))[: TOP_FACES + 2]
    rows = [(face, int(n), total / n, int(flagged)) for face, (n, total, flagged) in busiest if n]
    return sorted(rows, key=lambda r: (-r[2], r[0]))


def _deviation_chart(charts: _Charts, linked: list[dict[str, Any]], threshold: float | None) -> str:
    shown = per_face(linked)
    fig = Figure(figsize=(9.6, 0.34 * len(shown) + 1.0))
    ax = fig.subplots()
    y = list(range(len(shown)))
    above = [threshold is not None and mean > threshold for _f, _n, mean, _x in shown]
    ax.barh(y, [mean for _f, _n, mean, _x in shown], color=["#c44e52" if a else "#4c72b0" for a in above])
    ax.set_yticks(y, [face for face, *_ in shown], fontsize=12)
    ax.invert_yaxis()
    for i, (_face, n, mean, _flagged) in enumerate(shown):
        ax.text(mean, i, f" {n} answer{'s' if n != 1 else ''}", va="center", fontsize=8)
    if threshold is not None:
        ax.axvline(threshold, color="#c44e52", ls="--", lw=0.9, label="flag threshold")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_xlabel("mean deviation of the prompts the face answered (all models)")
    fig.tight_layout()
    label = "Mean typing deviation of the prompts each face answered: " + ", ".join(
        f"{face} {mean:.2f}" for face, _n, mean, _x in shown
    )
    return charts.svg(fig, label)


# --- HTML ------------------------------------------------------------------------------------------------------------
def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table from already escaped cells; ``numeric`` columns are right-aligned."""
    cls = [' class="n"' if i in numeric else "" for i in range(len(head))]
    out = ["<table><thead><tr>" + "".join(f"<th{cls[i]}>{h}</th>" for i, h in enumerate(head)) + "</tr></thead>"]
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls[i]}>{c}</td>" for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _name(text: str) -> str:
    """A model name for the page: escaped, with a line-break opportunity (``<wbr>``) after each ``- . _ / : @``.

    Long names then wrap in narrow cells, and no run of the page's text is a 20-character mixed-case token:
    the sanitizer's secret detector (which ``llmojid-ctl audit --log`` runs on every line) would otherwise take
    a file name such as ``SmolLM2-135M-Instruct.Q4_1.gguf`` for a key. Model names are checked where they are
    stored (the auditor's ``store.plaintext`` rule for model columns); the report adds no name of its own.
    """
    return "".join(html.escape(ch) + ("<wbr>" if ch in _NAME_BREAKS else "") for ch in text)


def _face(text: str, big: bool = False) -> str:
    return f'<span class="face{" big" if big else ""}">{_e(text)}</span>'


def _words(words: Iterable[str]) -> str:
    return " ".join(f'<span class="word">{_e(w)}</span>' for w in words)


@dataclass
class Rendered:
    """The page, and what a caller may want to tell the user."""

    html: str
    charts: int
    faces: int
    missing_glyphs: list[str] = field(default_factory=list)


def render(data: dict[str, Any]) -> Rendered:
    """The whole page from a ``report.data`` reply."""
    charts = _Charts()
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    # A missing glyph is expected (the footer names it); matplotlib would warn once per character and chart.
    with matplotlib.rc_context(_rc()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")
        font_log.setLevel(logging.ERROR)
        try:
            body, missing = _body(charts, data)
        finally:
            font_log.setLevel(level)
    style = _CSS.strip()
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>llmojid report</title>",
            f"<style>{style}</style>",
            "</head>",
            "<body>",
            body,
            "</body>",
            "</html>",
            "",
        ]
    )
    faces = len({f["canonical"] for f in data["faces"]})
    return Rendered(page, charts.count, faces, missing)


def _body(charts: _Charts, data: dict[str, Any]) -> tuple[str, list[str]]:
    journal = data["journal"]
    models = [m["model"] for m in data["models"]]
    colors = _model_colors(models)
    faces_by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in data["faces"]:
        faces_by_model[f["model"]].append(f)
    synthesis = data["synthesis"]
    typing = data["typing"]
    chart_texts = [f["canonical"] for f in data["faces"]]
    missing = uncovered(chart_texts)
    out: list[str] = []
    span = f"{_when(journal['first_seen'])} to {_when(journal['last_seen'])}" if journal["rows"] else "no rows yet"
    out.append("<header>")
    out.append("<h1>How your assistants emote</h1>")
    out.append(
        f'<p class="lead">{journal["rows"]} kaomoji-led messages, {journal["distinct_faces"]} distinct faces, '
        f"{len(models)} model(s); {_e(span)}. Made {_e(_when(data.get('generated_at', '')))}.</p>"
    )
    out.append(
        '<nav><a href="#faces">Faces</a><a href="#time">Over time</a><a href="#sessions">Sessions</a>'
        '<a href="#lexicon">Lexicon</a>'
        '<a href="#typing">Typing rhythm</a><a href="#counts">Counts</a><a href="#privacy">Privacy</a></nav>'
    )
    out.append("</header>")
    out.append("<main>")

    # faces per model
    out.append('<section id="faces"><h2>Most used faces per model</h2>')
    if not data["faces"]:
        out.append('<p class="note">No faces in the journal yet: install a hook (llmojid-ctl hooks install).</p>')
    else:
        out.append('<div class="grid">')
        for model in models[:MAX_MODELS_CHARTED]:
            if faces_by_model.get(model):
                chart = _faces_chart(charts, faces_by_model[model], colors[model])
                out.append(f'<figure class="chart"><figcaption>{_name(model)}</figcaption>{chart}</figure>')
        out.append("</div>")
        if len(models) > MAX_MODELS_CHARTED:
            out.append(
                f'<p class="muted">Charts show the {MAX_MODELS_CHARTED} busiest models; the table lists all.</p>'
            )
        rows = [
            (
                _name(f["model"]),
                _face(f["canonical"]),
                " ".join(_face(w["kaomoji"]) + f' <span class="muted">×{w["count"]}</span>' for w in f["forms"]),
                str(f["count"]),
                _e(_when(f["first_seen"])),
                _e(_when(f["last_seen"])),
            )
            for f in data["faces"]
        ]
        out.append(f"<details><summary>All {len(rows)} faces per model, with how they were written</summary>")
        out.append(_table(("model", "face", "written as", "messages", "first", "last"), rows, numeric=(3,)))
        if data["truncated"]["faces"]:
            out.append('<p class="muted">Only the most used faces are listed.</p>')
        out.append("</details>")
    out.append("</section>")

    # over time
    out.append(_over_time_section(charts, data, colors))

    # sessions
    out.append(_sessions_section(data["sessions"]))

    # lexicon
    out.append(_lexicon_section(charts, data, synthesis))

    # typing
    out.append(_typing_section(charts, typing, colors))

    # counts
    out.append('<section id="counts"><h2>Counts and date ranges</h2>')
    out.append(
        _table(
            ("", "rows", "faces", "first", "last"),
            [
                (
                    "<b>journal</b>",
                    str(journal["rows"]),
                    str(journal["distinct_faces"]),
                    _e(_when(journal["first_seen"])),
                    _e(_when(journal["last_seen"])),
                )
            ]
            + [
                (
                    _name(m["model"]),
                    str(m["rows"]),
                    str(m["faces"]),
                    _e(_when(m["first_seen"])),
                    _e(_when(m["last_seen"])),
                )
                for m in data["models"]
            ]
            + [
                (
                    f"harness: {_e(h['harness'])}",
                    str(h["rows"]),
                    str(h["faces"]),
                    _e(_when(h["first_seen"])),
                    _e(_when(h["last_seen"])),
                )
                for h in data["harnesses"]
            ],
            numeric=(1, 2),
        )
    )
    by_status = typing["by_status"]
    typing_span = f"{_when(typing['first'])} to {_when(typing['last'])}" if typing["windows"] else "none scored"
    out.append(
        f"<p>Typing windows: {sum(by_status.values())} "
        f"({', '.join(f'{_e(k)} {v}' for k, v in sorted(by_status.items())) or 'none'}); {_e(typing_span)}.</p>"
    )
    chosen = synthesis["chosen"]
    if chosen:
        out.append(
            f"<p>Lexicon bags: {len(synthesis['bags'])} from {_name(chosen['synthesis_model'])} "
            f"({_e(chosen['backend'])}, {_e(chosen['method'])}), lexicon v{data['lexicon_version']}.</p>"
        )
    out.append("</section>")
    out.append("</main>")
    out.append(_footer(missing))
    return "\n".join(out), missing


def span_words(seconds: float) -> str:
    """A journal's span for people: ``40 minutes``, ``20 hours``, ``10 days``, ``52 weeks``. Pure."""
    for limit, size, name in ((7200, 60, "minute"), (2 * 86_400, 3600, "hour"), (56 * 86_400, 86_400, "day")):
        if seconds < limit:
            n = max(1, round(seconds / size))
            return f"{n} {name}{'s' if n != 1 else ''}"
    return f"{round(seconds / 604_800)} weeks"


def _over_time_section(charts: _Charts, data: dict[str, Any], colors: dict[str, str]) -> str:
    out = ['<section id="time"><h2>How use changed over time</h2>']
    over_time = data["over_time"]
    timeline = Timeline.of(over_time)
    unit = over_time["unit"]
    if timeline is None:
        out.append('<p class="muted">Nothing to show yet.</p>')
    elif len(timeline.starts) < MIN_CHART_BUCKETS:
        rows = data["journal"]["rows"]
        out.append(
            f'<p class="note">All {rows} message{"s" if rows != 1 else ""} so far came within '
            f"{len(timeline.starts)} {unit}{'s' if len(timeline.starts) != 1 else ''} ({_e(timeline.span_text())}): "
            f"too short a span to draw over time. The charts appear here once your journal spans "
            f"{MIN_CHART_BUCKETS} {unit}s or more; the counts above say everything until then.</p>"
        )
    else:
        out.append(
            f'<p class="lead">Counted per {unit} (UTC): your journal spans {span_words(over_time["span_seconds"])}, '
            f"from {_e(timeline.span_text())}.</p>"
        )
        label = f"Messages per {unit} and model, {timeline.span_text()}"
        out.append(f'<div class="chart">{charts.svg(over_time_figure(timeline, colors), label)}</div>')
        if timeline.by_face:
            faces = ", ".join(timeline.top_faces(HEATMAP_FACES))
            label = f"Use of the most used faces per {unit}: {faces}"
            out.append(f"<h3>The most used faces, {unit} by {unit}</h3>")
            out.append(f'<div class="chart">{charts.svg(face_time_figure(timeline), label)}</div>')
    out.append("</section>")
    return "\n".join(out)


def _cells(cells: list[dict[str, Any]]) -> str:
    """Circumplex cells as chips in the cell's colour; the title names the cell's words (the code alone is terse)."""
    return " ".join(
        f'<span class="word cell-{_e(c["cell"])}" title="{_e(c["cell"])}: {_e(", ".join(CELLS.get(c["cell"], ())))}">'
        f"{_e(c['cell'])} {weight(c['messages'])}</span>"
        for c in cells
    )


def _sessions_section(diary: dict[str, Any]) -> str:
    out = ['<section id="sessions"><h2>Sessions</h2>']
    shown = diary["shown"]
    if not shown:
        out.append('<p class="note">No assistant session in the journal yet.</p>')
        out.append("</section>")
        return "\n".join(out)
    more = f" (the newest {len(shown)} of {diary['total']})" if diary["total"] > len(shown) else ""
    out.append(
        f'<p class="lead">One line per assistant session{more}, from metadata only: no prompt, reply, path or '
        "session id. A turn is a prompt answered with a kaomoji-led message; typing windows are the prompts you "
        "typed that the session's messages answered (<code>llmojid-ctl sessions</code> prints the same).</p>"
    )
    rows = []
    for s in reversed(shown):  # newest first
        typing = s["typing"]
        typed = "-"
        if typing["windows"]:
            typed = f"{typing['windows']}"
            if typing["mean_deviation"] is not None:
                typed += f" · {typing['mean_deviation']:.2f} · {typing['flagged']} flagged"
        faces = " ".join(_face(f["canonical"]) + f' <span class="muted">×{f["count"]}</span>' for f in s["faces"])
        rows.append(
            (
                _e(_when(s["start"])),
                _e(duration(s["duration_seconds"])),
                _e(s["harness"]),
                "<br>".join(_name(m) for m in s["models"]),
                str(s["turns"]),
                str(s["messages"]),
                faces,
                _cells(s["cells"]) or '<span class="muted">not analyzed</span>',
                typed,
            )
        )
    out.append(
        _table(
            ("start", "length", "harness", "model", "turns", "messages", "faces", "circumplex cells",
             "typing: windows · mean deviation · flagged"),
            rows,
            numeric=(4, 5),
        )
    )  # fmt: skip
    out.append("</section>")
    return "\n".join(out)


def _lexicon_section(charts: _Charts, data: dict[str, Any], synthesis: dict[str, Any]) -> str:
    out = ['<section id="lexicon"><h2>What the faces convey (lexicon bags)</h2>']
    chosen = synthesis["chosen"]
    if not chosen:
        out.append('<p class="note">No face has been synthesized yet: run <code>llmojid-ctl analyze</code>.</p>')
        out.append("</section>")
        return "\n".join(out)
    out.append(
        f'<p class="lead">Each face was described by {_name(chosen["synthesis_model"])} in the locked words of lexicon '
        f"v{data['lexicon_version']}: 1-3 primary affect words (the circumplex cells below) and 3-5 stance words. "
        "A model's share of a cell weighs each face by how often the model used it.</p>"
    )
    by_model = synthesis["by_model"]
    if by_model:
        cells = list(CELLS)
        rows = [m["model"] for m in by_model]
        values = []
        for m in by_model:
            total = sum(m["cells"].values()) or 1.0
            values.append([m["cells"][c] / total for c in cells])
        columns = [f"{c}  {' '.join(CELLS[c][:2])}" for c in cells]
        out.append("<h3>Circumplex cells per model</h3>")
        out.append(
            '<div class="chart">'
            + _heatmap(charts, rows, columns, values, "Share of each circumplex cell per model", width=9.6)
            + "</div>"
        )
        totals: Counter[str] = Counter()
        for m in by_model:
            for word, v in m["stance"].items():
                totals[word] += v
        words = [w for w in STANCE_WORDS if totals[w] > 0]
        if words:
            stance_values = []
            for m in by_model:
                total = sum(m["stance"].values()) or 1.0
                stance_values.append([m["stance"][w] / total for w in words])
            out.append("<h3>Stance words per model</h3>")
            out.append(
                '<div class="chart">'
                + _heatmap(charts, rows, words, stance_values, "Share of each stance word per model", width=9.6)
                + "</div>"
            )
    out.append("<h3>Each face's bag</h3>")
    out.append(f'<div class="chart key">{_dial_key(charts)}</div>')
    out.append('<div class="cards">')
    for bag in synthesis["bags"][:MAX_DIALS]:
        out.append(
            '<div class="card"><div>'
            + f"<p>{_face(bag['canonical'], big=len(bag['canonical']) <= BIG_FACE_CHARS)}</p>"
            + f'<p class="muted">{_name(_short(bag["model"], 40))} · {bag["count"]} messages</p>'
            + f"<p>{_words(bag['primary_affect'])}</p>"
            + f'<p class="muted">{_words(bag["stance_modality_function"])}</p>'
            + "</div>"
            + _bag_dial(charts, bag)
            + "</div>"
        )
    out.append("</div>")
    if len(synthesis["bags"]) > MAX_DIALS:
        rows_t = [
            (
                _name(b["model"]),
                _face(b["canonical"]),
                str(b["count"]),
                _words(b["primary_affect"]),
                _words(b["stance_modality_function"]),
            )
            for b in synthesis["bags"][MAX_DIALS:]
        ]
        out.append(f"<details><summary>{len(rows_t)} more bags</summary>")
        out.append(_table(("model", "face", "messages", "primary affect", "stance"), rows_t, numeric=(2,)))
        out.append("</details>")
    others = [s for s in synthesis["synthesizers"] if s != chosen]
    if others:
        names = ", ".join(_name(s["synthesis_model"]) for s in others)
        out.append(f'<p class="muted">Bags from other synthesis models are in the cache too ({names}); '
                   "choose one with <code>llmojid-ctl report --synthesis-model NAME</code>.</p>")  # fmt: skip
    out.append("</section>")
    return "\n".join(out)


def _typing_section(charts: _Charts, typing: dict[str, Any], colors: dict[str, str]) -> str:
    out = ['<section id="typing"><h2>Typing rhythm and faces</h2>']
    if not typing["windows"]:
        out.append(
            '<p class="note">No scored typing windows yet. Run your assistant under <code>llmojid-ctl wrap -- '
            "COMMAND</code>: after five prompts enrol your rhythm, each prompt gets a deviation score.</p>"
        )
        out.append("</section>")
        return "\n".join(out)
    out.append(
        '<p class="lead">Each dot is one prompt you typed: how far its rhythm was from your enrolled baseline '
        "(timing only, never the keys). Below, on the same time axis, the faces the assistant answered with. "
        "Do the faces change when your typing does?</p>"
    )
    out.append(f'<div class="chart">{_typing_chart(charts, typing, colors)}</div>')
    linked = typing["faces_by_deviation"]
    if linked:
        thresholds = [w["threshold"] for w in typing["windows"] if w["threshold"] is not None]
        threshold = sorted(thresholds)[len(thresholds) // 2] if thresholds else None
        out.append("<h3>Mean deviation of the prompts each face answered</h3>")
        out.append(f'<div class="chart">{_deviation_chart(charts, linked, threshold)}</div>')
        rows = [
            (
                _face(r["canonical"]),
                _name(r["model"]),
                str(r["turns"]),
                f"{r['mean_deviation']:.3f}",
                str(r["flagged_turns"]),
            )
            for r in linked
        ]
        out.append(f"<details><summary>Per model and face ({len(rows)} rows)</summary>")
        out.append(
            _table(("face", "model", "answers", "mean deviation", "to flagged prompts"), rows, numeric=(2, 3, 4))
        )
        out.append("</details>")
    out.append("</section>")
    return "\n".join(out)


def _footer(missing: list[str]) -> str:
    out = ['<footer id="privacy"><h2>Privacy</h2>']
    out.append(
        "<p>This report holds only faces, counts, dates, model names, lexicon words and typing deviation scores. "
        "It holds no prompt, no message, no path, no session id and no typed character: it was drawn from the daemon's "
        "aggregates (<code>report.data</code>), which hold no journal text.</p>"
        "<p>It was made on this machine by <code>llmojid-ctl report</code> and never leaves it unless you share it. "
        "The page loads nothing from anywhere: it has no scripts, its charts are inline, and its "
        "Content-Security-Policy forbids every request.</p>"
        "<p>Check it before you share it: <code>llmojid-ctl audit --only logs --log index.html</code> (run in the "
        "report's folder) looks for personal data and your journal's text in it.</p>"
    )
    if missing:
        shown = " ".join(f"{_face(ch)} U+{ord(ch):04X}" for ch in missing)
        out.append(
            f'<p class="muted">No font on the machine that drew the charts has these characters, so the charts show '
            f"them as boxes: {shown}. Installing {_e(FONT_ADVICE)} fixes that.</p>"
        )
    out.append("</footer>")
    return "\n".join(out)


# --- I/O ------------------------------------------------------------------------------------------------------------
def write_report(folder: Path, page: str) -> Path:
    """Write ``folder/index.html`` atomically (a temp file renamed over it); the folder is created private.

    Resource handling: the temp file is removed if the write fails. Error handling: OSError propagates (the
    command turns it into a message naming the folder).
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / REPORT_FILE
    temp = folder / f".{REPORT_FILE}.{os.getpid()}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(page)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target
