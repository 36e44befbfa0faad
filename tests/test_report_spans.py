"""The report a new user meets: journals of 1 hour, 1 day, 10 days and 1 year, each written into its own real
daemon, drawn by ``llmojid-ctl report`` and loaded in headless Chromium.

What must hold for every span: the time unit is chosen from the span (hours for a day, days for weeks, weeks for
months) and named on the axis, the axis starts at the first bucket that holds a message (not the evening
before), counts sit on integer scales with no colour bar, and a span too short to chart is said in words.

The rows go in through ``SubmitRows`` (the journal's own request) with times spread over the span: the hook
path is tested elsewhere, and no harness transcript spans a year. ``LLMOJID_REPORT_SHOTS=DIR`` keeps the four
screenshots (``docs/report-<span>.png`` were made so).
"""

from __future__ import annotations

import html
import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from matplotlib import dates as mdates

from llmojid.client import protocol as p
from llmojid.client import report
from llmojid.client.connection import Client
from tests.chromium import CHROMIUM, load_in_chromium, png_size
from tests.harness_transcripts import FACES
from tests.hook_support import start
from tests.stand_ins import serve_stand_in
from tests.support import DaemonProcess, make_env, remove_tree, short_tempdir
from tests.test_report import _StandIn as BagStandIn

pytestmark = pytest.mark.slow  # four daemons, four reports, four browser loads

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
HARNESSES = (("claude-code", "claude-sonnet-4-5"), ("claude-code", "claude-sonnet-4-5"), ("codex", "gpt-5-codex"))
FACE_WEIGHTS = (8, 5, 3, 2, 1, 1)


@dataclass(frozen=True)
class Span:
    name: str
    seconds: int
    sessions: int
    unit: str


SPANS = (
    Span("1-hour", 3600, 3, "hour"),
    Span("1-day", 86_400, 12, "hour"),
    Span("10-days", 10 * 86_400, 40, "day"),
    Span("1-year", 365 * 86_400, 420, "week"),
)


def journal(span: Span) -> list[p.JournalRow]:
    """Sessions at random times in the span (none on weekends past the first day), each a few turns of one or two
    kaomoji-led messages a few minutes apart; every row inside the span."""
    rng = random.Random(span.name)
    end = START + timedelta(seconds=span.seconds)
    rows: list[p.JournalRow] = []
    for s in range(span.sessions):
        harness, model = rng.choice(HARNESSES)
        t = START + timedelta(seconds=rng.uniform(0, span.seconds - 3600 if span.seconds > 7200 else span.seconds / 2))
        if span.seconds > 86_400 and t.weekday() >= 5:
            t += timedelta(days=7 - t.weekday())
        for turn in range(rng.randint(1, 6)):
            for m in range(rng.randint(1, 2)):
                t += timedelta(seconds=rng.uniform(20, 240 if span.seconds <= 3600 else 600))
                if t >= end:
                    break
                rows.append(
                    p.JournalRow(
                        ts=t.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        model=model,
                        harness=harness,
                        session=f"span-session-{s}",
                        message_id=f"{turn}.{m}",
                        kaomoji=rng.choices(FACES, FACE_WEIGHTS)[0],
                        assistant_text=f"reply {turn}.{m}",
                        user_text=f"prompt {turn}",
                        cwd="/home/someone/project",
                    )
                )
    return rows


@dataclass
class Built:
    span: Span
    rows: list[p.JournalRow]
    data: dict[str, Any]
    page: str
    index: Path


@pytest.fixture(scope="module", params=SPANS, ids=[s.name for s in SPANS])
def built(request: pytest.FixtureRequest) -> Iterator[Built]:
    span: Span = request.param
    root = short_tempdir()
    daemon = start(DaemonProcess(root, make_env(root)))
    try:
        rows = journal(span)
        with Client(daemon.socket_path) as client:
            for i in range(0, len(rows), p.MAX_ROWS_PER_REQUEST):
                reply = client.request(p.SubmitRows(rows=rows[i : i + p.MAX_ROWS_PER_REQUEST]))
                assert isinstance(reply, p.HookAck), reply
            # lexicon bags for every cell, so the sessions show their circumplex cells (a stand-in synthesizer)
            with serve_stand_in(BagStandIn) as address:
                url = f"{address}/v1"
                done = daemon.ctl_json_lines("analyze", "--json", "--backend-url", url, "--backend-model", "stand-in")
            assert done[-1]["event"] == "done" and done[-1]["synthesized"] == len({(r.model, r.kaomoji) for r in rows})
            reply = client.request(p.Request(name="report.data", args={}))
        assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
        folder = root / "report"
        daemon.ctl("report", "--out", str(folder), timeout=300)
        index = folder / "index.html"
        yield Built(span, rows, reply.value, index.read_text("utf-8"), index)
        assert daemon.stop() == 0, daemon.log()
    finally:
        daemon.stop()
        remove_tree(root)


def test_the_unit_is_chosen_from_the_span_and_every_row_is_counted(built: Built) -> None:
    over_time = built.data["over_time"]
    assert over_time["unit"] == built.span.unit
    assert sum(r["count"] for r in over_time["by_model"]) == len(built.rows) == built.data["journal"]["rows"]
    # the first bucket is the one that holds the first message: no axis starting the evening before
    timeline = report.Timeline.of(over_time)
    assert timeline is not None
    first = min(datetime.fromisoformat(r.ts.replace("Z", "+00:00")) for r in built.rows)
    last = max(datetime.fromisoformat(r.ts.replace("Z", "+00:00")) for r in built.rows)
    assert timeline.edges[0] <= mdates.date2num(first) < timeline.edges[1]  # type: ignore[no-untyped-call]
    assert timeline.edges[-2] <= mdates.date2num(last) < timeline.edges[-1]  # type: ignore[no-untyped-call]
    assert sum(timeline.counts()) == len(built.rows)


def test_a_span_too_short_to_chart_is_said_in_words(built: Built) -> None:
    text = html.unescape(built.page)
    timeline = report.Timeline.of(built.data["over_time"])
    assert timeline is not None
    if len(timeline.starts) < report.MIN_CHART_BUCKETS:
        assert built.span.name == "1-hour"
        assert f"All {len(built.rows)} messages so far came within 1 hour" in text
        assert "too short a span to draw over time" in text
        assert "Messages per hour and model" not in text
    else:
        assert built.span.name != "1-hour"
        assert f"Counted per {built.span.unit} (UTC)" in text
        assert f"Messages per {built.span.unit} and model" in text
        assert f"The most used faces, {built.span.unit} by {built.span.unit}" in text
        assert "too short a span" not in text


@pytest.mark.filterwarnings("ignore:Glyph")  # a face character no font here draws: render names it in the footer
def test_counts_have_integer_scales_and_no_colour_bar(built: Built) -> None:
    timeline = report.Timeline.of(built.data["over_time"])
    assert timeline is not None
    colors = {"claude-sonnet-4-5": "#4c72b0", "gpt-5-codex": "#dd8452"}
    with matplotlib.rc_context(report._rc()):  # the report's fonts, as render uses them
        bars = report.over_time_figure(timeline, colors)
        grid = report.face_time_figure(timeline)
    (ax,) = bars.axes
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert ax.get_ylabel() == f"messages per {built.span.unit}"
    assert built.span.unit in ax.get_xlabel()
    assert ax.get_xlim() == (timeline.edges[0], timeline.edges[-1])
    assert ax.get_xlim()[0] == mdates.date2num(timeline.starts[0])  # type: ignore[no-untyped-call]
    assert len(grid.axes) == 1  # no colour bar beside it
    legend = grid.axes[0].get_legend()
    assert legend is not None and legend.get_title().get_text() == "messages"
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0] == "1" and all(part.isdigit() for label in labels for part in label.split("–")), labels


def test_the_session_diary_is_in_the_report(built: Built) -> None:
    sessions = built.data["sessions"]
    assert sessions["total"] == len({r.session for r in built.rows})
    assert len(sessions["shown"]) == min(sessions["total"], 40)
    assert built.page.count("<tr>") >= len(sessions["shown"])
    assert '<section id="sessions">' in built.page
    for text in ("prompt 0", "reply 0", "/home/someone", "span-session-"):
        assert text not in built.page
    assert all(line["analyzed_messages"] == line["messages"] and line["cells"] for line in sessions["shown"])
    assert built.page.count('<span class="word cell-') >= len(sessions["shown"])  # each line's cells, as chips


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/setup installs it)")
def test_chromium_draws_the_report_of_the_span(built: Built, tmp_path: Path) -> None:
    load = load_in_chromium(built.index, tmp_path, window=(1200, 2200))
    assert load.console == [] and load.page_requests == []
    assert png_size(load.screenshot) == (1200, 2200)
    from PIL import Image

    with Image.open(load.screenshot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200
    keep = os.environ.get("LLMOJID_REPORT_SHOTS")
    if keep:
        shutil.copyfile(load.screenshot, Path(keep) / f"report-{built.span.name}.png")
