"""The report renderer without a daemon: SVG made CSP-clean, path data the auditor's detectors leave alone, the
page's policy, faces and fallbacks, determinism, and the atomic write; and the daemon side's pure bucket rule."""

from __future__ import annotations

import html
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from llmojid.client import report
from llmojid.common.lexicon import CELLS, STANCE_WORDS
from llmojid.common.sanitizer import find_pii
from llmojid.daemon.report_data import bucket_for, time_unit

FACES = ("(◕‿◕)", "(｡˃‿˂)", "ʕ・ᴥ・ʔ", "(╯°□°)", "(^o^)", "(ˊᗜˋ*)", "(;´д`)", "(ツ)")
#: The embedded synthesis model's file name: the sanitizer's secret detector takes its first part for a key.
SYNTH = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: A private-use character: no font draws it, so the charts must fall back and the footer must say so.
NO_FONT = "\ue000"


def session_line(model: str, faces: tuple[str, ...]) -> dict[str, Any]:
    """One line of the session diary (``llmojid.daemon.sessions``)."""
    return {
        "harness": "claude-code",
        "model": model,
        "models": [model],
        "start": "2026-11-03T10:05:00.000Z",
        "end": "2026-11-03T10:47:00.000Z",
        "duration_seconds": 2520,
        "turns": 4,
        "messages": 7,
        "faces": [{"canonical": f, "count": 1} for f in faces[:7]],
        "faces_total": min(7, len(faces)),
        "cells": [{"cell": "HP-S", "messages": 2.5}, {"cell": "LP", "messages": 0.5}],
        "analyzed_messages": 3,
        "typing": {"windows": 4, "scored": 3, "mean_deviation": 0.21, "flagged": 1},
    }


def sample(faces: tuple[str, ...] = FACES) -> dict[str, Any]:
    """A small ``report.data`` reply: two models, a few days, bags, a typing timeline."""
    models = ("claude-sonnet-4-5", "Qwen3-Coder-30B-A3B-Instruct")  # a mixed-case name looks random to the auditor
    cells = [
        {
            "model": model,
            "canonical": face,
            "count": 10 - i + j,
            "first_seen": "2026-11-01T09:00:00.000Z",
            "last_seen": "2026-11-03T18:30:00.000Z",
            "forms": [{"kaomoji": face, "count": 10 - i + j}],
        }
        for j, model in enumerate(models)
        for i, face in enumerate(faces)
    ]
    bags = [
        {
            "model": c["model"],
            "canonical": c["canonical"],
            "count": c["count"],
            "samples": 4,
            "primary_affect": [list(CELLS.values())[i % 9][0]],
            "stance_modality_function": list(STANCE_WORDS[i % 20 : i % 20 + 3]),
        }
        for i, c in enumerate(cells[:6])
    ]
    windows = [
        {
            "closed_at": f"2026-11-03T10:{i:02d}:00.000000Z",
            "status": "enrolled" if i < 5 else "scored",
            "deviation": None if i < 5 else 0.05 * (i - 4),
            "threshold": None if i < 5 else 0.3,
            "flagged": i >= 11,
        }
        for i in range(12)
    ]
    return {
        "generated_at": "2026-11-04T00:00:00Z",
        "lexicon_version": 2,
        "journal": {
            "rows": sum(c["count"] for c in cells),
            "distinct_faces": len(faces),
            "first_seen": "2026-11-01T09:00:00.000Z",
            "last_seen": "2026-11-03T18:30:00.000Z",
        },
        "models": [
            {"model": m, "rows": 50, "faces": len(faces), "first_seen": "2026-11-01", "last_seen": "2026-11-03"}
            for m in models
        ],
        "harnesses": [{"harness": "claude-code", "rows": 100, "faces": len(faces), "first_seen": "", "last_seen": ""}],
        "faces": cells,
        "over_time": {
            "unit": "day",
            "span_seconds": 2 * 86_400 + 9 * 3600,
            "by_model": [
                {"t": f"2026-11-0{d}T00:00:00Z", "model": m, "count": 5 * d} for d in (1, 2, 3) for m in models
            ],
            "by_face": [{"t": f"2026-11-0{d}T00:00:00Z", "canonical": f, "count": d} for d in (1, 2, 3) for f in faces],
        },
        "sessions": {"shown": [session_line(models[0], faces)] if faces else [], "total": 1 if faces else 0},
        "synthesis": {
            "synthesizers": [{"synthesis_model": SYNTH, "backend": "llama.cpp", "method": "scoring", "cells": 3}],
            "chosen": {"synthesis_model": SYNTH, "backend": "llama.cpp", "method": "scoring", "cells": 3},
            "bags": bags,
            "by_model": [
                {
                    "model": m,
                    "synthesized_rows": 10,
                    "cells": {c: float(i) for i, c in enumerate(CELLS)},
                    "stance": {w: float(i % 3) for i, w in enumerate(STANCE_WORDS)},
                }
                for m in models
            ],
            "unreadable": 0,
        },
        "typing": {
            "by_status": {"enrolled": 5, "scored": 7},
            "windows": windows,
            "first": windows[0]["closed_at"],
            "last": windows[-1]["closed_at"],
            "face_events": [
                {
                    "t": f"2026-11-03T10:{i:02d}:00Z",
                    "model": models[i % 2],
                    "canonical": faces[i % len(faces)],
                    "count": 1,
                }
                for i in range(5, 12 if faces else 5)
            ],
            "faces_by_deviation": [
                {"model": models[0], "canonical": f, "turns": 2, "mean_deviation": 0.1, "flagged_turns": 0}
                for f in faces[:3]
            ],
            "bucket_seconds": 60,
            "unreadable": 0,
            "truncated": False,
        },
        "truncated": {"faces": False, "over_time": False},
    }


def empty() -> dict[str, Any]:
    data = sample(())
    data["journal"] = {"rows": 0, "distinct_faces": 0, "first_seen": "", "last_seen": ""}
    data.update(models=[], harnesses=[])
    data["over_time"].update(by_model=[], by_face=[])
    data["synthesis"] = {"synthesizers": [], "chosen": None, "bags": [], "by_model": [], "unreadable": 0}
    data["typing"].update(by_status={}, windows=[], first="", last="", face_events=[], faces_by_deviation=[])
    return data


#: Text from the data that would be markup if it were not escaped.
HOSTILE_FACE, HOSTILE_MODEL = "(<b>)", "m<script>x</script>"


def hostile_sample() -> dict[str, Any]:
    data = sample((*FACES, f"({NO_FONT}_{NO_FONT})", HOSTILE_FACE))
    for row in (*data["faces"], *data["synthesis"]["bags"], *data["models"]):
        if row["model"] == "claude-sonnet-4-5":
            row["model"] = HOSTILE_MODEL
    return data


@pytest.fixture(scope="module")
def page() -> report.Rendered:
    return report.render(hostile_sample())


# --- SVG -------------------------------------------------------------------------------------------------------------
SVG = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="100pt" height="50pt" viewBox="0 0 100 50"
     xmlns="http://www.w3.org/2000/svg" version="1.1">
 <metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>
 <defs>
  <style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style>
  <path id="DejaVuSans-28" d="M 1984 4856 Q 1566 4138 1362 3434 z"/>
 </defs>
 <g id="figure_1">
  <!-- (◕‿◕) -->
  <path d="M 0 50 L 100.123456 50 L 100 0 z" clip-path="url(#p0123abcd)"
        style="fill: #ffffff; stroke: #000; mix-blend-mode: x"/>
  <use xlink:href="#DejaVuSans-28" transform="translate(39.015625 0) scale(0.015625)"/>
 </g>
 <defs><clipPath id="p0123abcd"><rect x="0" y="0" width="10" height="10"/></clipPath></defs>
</svg>
"""


def test_inline_svg_is_csp_clean_and_its_ids_are_the_figures_own() -> None:
    out = report.inline_svg(SVG, "c7-", "a chart of (◕‿◕)")
    assert out.startswith('<svg viewBox="0 0 100 50" role="img" aria-label="a chart of (◕‿◕)"')
    for gone in ("style=", "<style", "<metadata", "rdf", "xmlns", "http", "<!--", "xlink:", "mix-blend-mode"):
        assert gone not in out, gone
    assert 'fill="#ffffff" stroke="#000"' in out
    assert 'stroke-linejoin="round" stroke-linecap="butt"' in out  # the style sheet's rules, on the root
    ids = set(re.findall(r'id="([^"]+)"', out))
    assert ids == {"c7-0", "c7-1"}  # only referenced ids are kept, renamed
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', out))
    assert refs == ids
    assert 'transform="translate(39.015625,0) scale(0.015625)"' in out  # exact, comma-joined
    assert 'd="M0,50\nL100.12,50\nL100,0\nz"' in out  # rounded to a hundredth, one command a line


@pytest.mark.parametrize(
    "bad",
    [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><image href="data:image/png;base64,AA"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><x:y xmlns:x="urn:x"/></svg>',
    ],
    ids=["raster", "foreign"],
)
def test_inline_svg_refuses_rasters_and_foreign_elements(bad: str) -> None:
    with pytest.raises(report.ChartError):
        report.inline_svg(bad, "c1-", "x")


def test_glyph_outlines_do_not_look_like_card_or_phone_numbers() -> None:
    # matplotlib's glyph outlines, as written: the auditor's detectors see a card number and a phone number
    raw = ["Q 2531 2678 2651 2914", "C 659 1562 218 1126 218 589"]
    assert all(find_pii(line) for line in raw)
    joined = report._path_data("\n".join(raw)).splitlines()
    assert joined == ["Q2531,2678,2651,2914", "C659,1562,218,1126,218,589"]
    assert [find_pii(line) for line in joined] == [[], []]


# --- the page -------------------------------------------------------------------------------------------------------
def test_the_page_shows_every_face_under_a_strict_policy(page: report.Rendered) -> None:
    text = html.unescape(page.html)
    assert [f for f in FACES if f not in text] == []
    assert page.faces == len(FACES) + 2
    policy = re.search(r'Content-Security-Policy" content="([^"]+)"', page.html)
    assert policy is not None and policy.group(1).startswith("default-src 'none'; style-src 'sha256-")
    for forbidden in ("<script", "style=", "<img", "http:", "https:", "<image", "base64,"):
        assert forbidden not in page.html, forbidden
    assert page.charts == page.html.count("<svg") >= 10
    assert len(set(re.findall(r'\sid="([^"]+)"', page.html))) == len(re.findall(r'\sid="([^"]+)"', page.html))


def test_characters_without_a_font_fall_back_and_are_named(page: report.Rendered) -> None:
    assert NO_FONT in page.missing_glyphs
    assert "U+E000" in page.html and "fonts-symbola" in page.html
    assert report.uncovered(["(◕‿◕)", "ʕ・ᴥ・ʔ", "(ツ)"]) == []  # DejaVu Sans, DejaVu Serif, Noto Sans CJK here


def test_no_line_of_the_page_holds_what_the_auditor_flags(page: report.Rendered) -> None:
    assert find_pii(SYNTH) and find_pii("Qwen3-Coder-30B-A3B-Instruct")  # as bare words, both look like keys
    assert SYNTH in html.unescape(page.html.replace("<wbr>", ""))
    flagged = [(n, f.type) for n, line in enumerate(page.html.splitlines(), 1) for f in find_pii(line)]
    assert flagged == []


def test_the_same_data_gives_the_same_bytes(page: report.Rendered) -> None:
    assert report.render(hostile_sample()).html == page.html


def test_an_empty_journal_still_makes_a_page() -> None:
    out = report.render(empty())
    assert out.faces == 0 and out.charts == 0
    assert "No faces in the journal yet" in out.html and "No scored typing windows yet" in out.html
    assert "run <code>llmojid-ctl analyze</code>" in out.html


def test_data_text_is_escaped(page: report.Rendered) -> None:
    assert "<script" not in page.html and HOSTILE_FACE not in page.html
    assert html.escape(HOSTILE_FACE) in page.html
    assert html.escape(HOSTILE_MODEL) in page.html.replace("<wbr>", "")  # names may wrap after "/"


# --- writing --------------------------------------------------------------------------------------------------------
def test_the_report_is_written_atomically_and_privately(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "report"
    path = report.write_report(folder, "<p>one</p>")
    assert path == folder / "index.html" and path.read_text() == "<p>one</p>"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    report.write_report(folder, "<p>two</p>")
    assert path.read_text() == "<p>two</p>" and os.listdir(folder) == ["index.html"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        report.write_report(blocker, "<p>three</p>")


@pytest.mark.parametrize(
    ("span", "bucket"), [(0.0, 1), (600.0, 1), (601.0, 5), (3 * 3600.0, 30), (30 * 86_400.0, 21_600), (1e9, 86_400)]
)
def test_timeline_buckets_are_the_narrowest_that_fit(span: float, bucket: int) -> None:
    assert bucket_for(span) == bucket


@pytest.mark.parametrize(
    ("span", "unit"),
    [(0.0, "hour"), (3600.0, "hour"), (2 * 86_400.0, "hour"), (10 * 86_400.0, "day"), (56 * 86_400.0, "day"),
     (365 * 86_400.0, "week"), (4 * 365 * 86_400.0, "month")],
)  # fmt: skip
def test_the_time_unit_follows_the_span(span: float, unit: str) -> None:
    assert time_unit(span) == unit


@pytest.mark.parametrize(
    ("top", "bins"),
    [
        (1, [(1, 1)]),
        (4, [(1, 1), (2, 2), (3, 4)]),
        (7, [(1, 1), (2, 2), (3, 4), (5, 7)]),
        (120, [(1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, 120)]),
    ],
)
def test_count_shades_are_integer_ranges_that_cover_every_count(top: int, bins: list[tuple[int, int]]) -> None:
    assert report.integer_bins(top) == bins
    assert [n for lo, hi in bins for n in range(lo, hi + 1)] == list(range(1, top + 1))


def test_the_timeline_keeps_empty_buckets_and_counts_by_model_and_face() -> None:
    over_time = {
        "unit": "week",
        "span_seconds": 20 * 86_400,
        "by_model": [{"t": "2026-03-02T00:00:00Z", "model": "m", "count": 2}, {"t": "2026-03-16T00:00:00Z",
                     "model": "m", "count": 3}],
        "by_face": [{"t": "2026-03-16T00:00:00Z", "canonical": "(ツ)", "count": 3}],
    }  # fmt: skip
    timeline = report.Timeline.of(over_time)
    assert timeline is not None
    assert [t.strftime("%m-%d") for t in timeline.starts] == ["03-02", "03-09", "03-16"]
    assert timeline.counts() == [2, 0, 3] and timeline.counts(face="(ツ)") == [0, 0, 3]
    assert len(timeline.edges) == 4 and timeline.span_text() == "2026-03-02 to 2026-03-22"
    assert report.Timeline.of({**over_time, "by_model": []}) is None


def test_months_step_over_the_year_end() -> None:
    over_time = {"unit": "month", "span_seconds": 0, "by_face": [],
                 "by_model": [{"t": "2026-11-01T00:00:00Z", "model": "m", "count": 1},
                              {"t": "2027-02-01T00:00:00Z", "model": "m", "count": 1}]}  # fmt: skip
    timeline = report.Timeline.of(over_time)
    assert timeline is not None
    assert [t.strftime("%Y-%m") for t in timeline.starts] == ["2026-11", "2026-12", "2027-01", "2027-02"]


def test_the_session_table_shows_counts_and_cells_and_escapes_names(page: report.Rendered) -> None:
    text = html.unescape(page.html.replace("<wbr>", ""))
    assert '<section id="sessions">' in page.html
    assert "42m" in text and "HP-S 2.5" in text and "4 · 0.21 · 1 flagged" in text
    assert '<span class="word cell-HP-S" title="HP-S: cheery, excited, triumphant">' in page.html
