"""``llmojid-ctl report`` end to end: a journal written by the real hooks, typing windows, the embedded model's
lexicon bags, the report drawn from them, checked for content and privacy, audited, and loaded in Chromium.

One daemon serves the whole module (its journal is small: 3 Claude Code turns, 2 Codex turns, 1 Hermes turn,
10 typing windows); the report is built once and every test reads it. The lexicon bags come from the real
``analyze`` job against an OpenAI-compatible stand-in on loopback (answers in milliseconds, chosen by the samples'
hash): the embedded model would take seconds per cell, and what the report must show is the cache, not the model.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError
from llmojid.common.taxonomy import canonicalize
from tests.chromium import CHROMIUM, WINDOW, load_in_chromium, png_size
from tests.harness_transcripts import ClaudeSession, CodexSession, HermesSession, jsonl
from tests.hook_support import journal_rows, run_hook, start
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import LLMOJID_CTL, DaemonProcess, make_env, remove_tree, scan_for, short_tempdir

pytestmark = pytest.mark.slow  # one daemon for the module: typing (torch), hooks, analyze, report, Chromium

CANARIES = {"claude": "CANARYREPORTC7Q1", "codex": "CANARYREPORTX8W2", "hermes": "CANARYREPORTH9E3"}
WAIT_SECONDS = 60.0


@dataclass
class Built:
    daemon: DaemonProcess
    folder: Path
    page: str
    rows: list[p.JournalRow]
    secrets: list[str]


#: Answers the stand-in synthesizer gives (valid lexicon v2 bags), one per cell by the hash of its samples.
BAGS = (
    {"primary_affect": ["cheery", "excited"], "stance_modality_function": ["eager", "helpful", "confident"]},
    {"primary_affect": ["sad", "weary"], "stance_modality_function": ["apologetic", "serious", "cautious"]},
    {"primary_affect": ["frustrated"], "stance_modality_function": ["dramatic", "wry", "performative", "quirky"]},
    {
        "primary_affect": ["peaceful", "grateful", "neutral"],
        "stance_modality_function": ["focused", "restrained", "helpful"],
    },
)


class _StandIn(StandInHandler):
    """A chat-completions endpoint that answers every request with one of BAGS."""

    def do_POST(self) -> None:
        bag = BAGS[hashlib.sha256(self.read_body()).digest()[0] % len(BAGS)]
        self.send_chat_completion(json.dumps(bag))


# --- building the journal --------------------------------------------------------------------------------------------
def retimed(
    events: list[dict[str, Any]], start: datetime, step: timedelta = timedelta(seconds=1)
) -> list[dict[str, Any]]:
    """The transcript events with their times moved to ``start`` + n ``step``, so the journal's turns fall right
    after the typing windows (the shared transcripts use a fixed date in January)."""
    out = []
    for i, event in enumerate(events):
        if "timestamp" in event:
            when = start + i * step
            event = {**event, "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"}
        out.append(event)
    return out


def typing_window(seed: int, flight: float, n: int = 40) -> list[p.KeyEvent]:
    """A synthetic prompt: ``n`` keys at a lognormal tempo around ``flight`` ms, then Enter."""
    rng = np.random.default_rng(seed)
    t, events = 0.0, []
    for i in range(n):
        t += float(rng.lognormal(np.log(flight), 0.35)) if i else 0.0
        events.append(p.KeyEvent(t, None, int(p.KeyClass.SPACE if i % 6 == 5 else p.KeyClass.CHAR)))
    events.append(p.KeyEvent(t + flight, None, int(p.KeyClass.ENTER)))
    return events


def type_prompts(daemon: DaemonProcess) -> None:
    """Five windows enrol the baseline, three like them and two much slower ones get scores; wait until encoded."""
    with Client(daemon.socket_path) as client:
        for i, flight in enumerate([110.0] * 8 + [480.0] * 2):
            assert isinstance(client.request(p.Keystrokes(source="wrap/t", events=typing_window(i, flight))), p.Ok)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            reply = client.request(p.Request(name="typing.status", args={"limit": 0}))
            assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
            status = reply.value
            if status["windows_seen"] >= 10 and status["windows_by_status"]["pending"] == 0:
                assert status["windows_by_status"]["scored"] == 5, status
                return
            assert time.monotonic() < deadline, f"typing windows not encoded: {status}"
            time.sleep(0.1)


def hook_turns(daemon: DaemonProcess) -> list[str]:
    """Turns through the real hook scripts; returns what must never reach the report (canaries, ids, paths)."""
    start_at = datetime.now(UTC) + timedelta(seconds=5)
    projects = daemon.home / "projects"
    projects.mkdir(parents=True, exist_ok=True)
    claude = ClaudeSession(canary=CANARIES["claude"])
    path = projects / f"{claude.session}.jsonl"
    for n in range(3):
        events, _ = claude.turn(n)
        with path.open("ab") as f:
            f.write(jsonl(retimed(events, start_at + timedelta(minutes=n))))
        assert run_hook(daemon.env, "claude-code", claude.stop_payload(str(path))).returncode == 0
    codex = CodexSession(new_shape=True, canary=CANARIES["codex"])
    rollout = projects / "rollout-codex.jsonl"
    lines = codex.header()
    for n in (3, 4):
        turn, _ = codex.turn(n)
        lines += turn
    rollout.write_bytes(jsonl(retimed(lines, start_at + timedelta(minutes=5))))
    assert run_hook(daemon.env, "codex", codex.stop_payload(str(rollout))).returncode == 0
    hermes = HermesSession(canary=CANARIES["hermes"])
    payload, _ = hermes.turn(5)
    assert run_hook(daemon.env, "hermes", payload).returncode == 0
    return [
        *CANARIES.values(),
        claude.session,
        codex.session,
        hermes.session,
        claude.cwd,
        codex.cwd,
        hermes.cwd,
        "please do task",
        "I will start on task",
        "looking into",
    ]


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists() or not path.stat().st_size:
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    root = short_tempdir()
    daemon = start(DaemonProcess(root, make_env(root)))
    try:
        type_prompts(daemon)
        secrets = hook_turns(daemon)
        rows = journal_rows(daemon)
        assert {r.harness for r in rows} == {"claude-code", "codex", "hermes"}
        with serve_stand_in(_StandIn) as address:
            url = f"{address}/v1"
            lines = daemon.ctl_json_lines("analyze", "--json", "--backend-url", url, "--backend-model", "stand-in")
        cells = len({(r.model, canonicalize(r.kaomoji)) for r in rows})
        assert lines[-1]["event"] == "done" and lines[-1]["synthesized"] == cells, lines[-1]
        folder = daemon.home / "shared-report"
        opened = root / "opened"
        browser = root / "browser"  # what $BROWSER names, webbrowser runs with the page's URL
        browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
        browser.chmod(0o700)
        result = subprocess.run(
            [LLMOJID_CTL, "report", "--out", str(folder), "--open"],
            env={**daemon.env, "BROWSER": str(browser)},
            capture_output=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout.startswith(f"wrote {folder / 'index.html'} (".encode())
        wait_for_file(opened)
        assert opened.read_text() == (folder / "index.html").as_uri()
        yield Built(daemon, folder, (folder / "index.html").read_text("utf-8"), rows, secrets)
        code = daemon.stop()
        assert code == 0, f"daemon exited {code}:\n{daemon.log()}"
    finally:
        daemon.stop()
        remove_tree(root)


# --- content -------------------------------------------------------------------------------------------------------
def test_the_report_shows_every_face_and_holds_no_journal_text(built: Built) -> None:
    assert sorted(p.name for p in built.folder.iterdir()) == ["index.html"]
    text = html.unescape(built.page.replace("<wbr>", ""))  # model names may wrap
    faces = {r.kaomoji for r in built.rows} | {canonicalize(r.kaomoji) for r in built.rows}
    assert len(faces) >= 6
    assert [face for face in faces if face not in text] == []
    for model in {r.model for r in built.rows}:
        assert model in text
    needles = [s.encode() for s in built.secrets] + [html.escape(s).encode() for s in built.secrets]
    assert scan_for(built.folder, needles) == []
    assert "/home/" not in text and str(built.daemon.home) not in text


def test_the_report_has_every_section_with_its_numbers(built: Built) -> None:
    text = html.unescape(built.page.replace("<wbr>", ""))  # model names may wrap
    for section in ("faces", "time", "lexicon", "typing", "counts", "privacy"):
        assert f'<section id="{section}">' in built.page or f'<footer id="{section}">' in built.page
    assert f"{len(built.rows)} kaomoji-led messages" in text
    # every synthesized cell shows a dial, its face and its lexicon words
    cells = {(r.model, canonicalize(r.kaomoji)) for r in built.rows}
    assert text.count("Circumplex cells of ") == len(cells)
    assert f"Lexicon bags: {len(cells)} from stand-in" in text
    for bag in BAGS:
        assert f'<span class="word">{bag["stance_modality_function"][0]}</span>' in built.page
    # typing: the deviation timeline, and the faces linked to the prompts they answered
    assert "Typing-rhythm deviation per prompt" in text
    assert "Mean typing deviation of the prompts each face answered" in text
    assert "scored 5" in text and "enrolled 5" in text
    ts = sorted(r.ts for r in built.rows)
    assert ts[0][:10] in text


def test_the_page_is_self_contained_under_a_strict_csp(built: Built) -> None:
    page = built.page
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp is not None
    policy = csp.group(1)
    assert "default-src 'none'" in policy and "unsafe" not in policy
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None and page.count("<style") == 1
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    for forbidden in ("<script", "style=", "<img", "<link", "<iframe", "src=", "http:", "https:", "@import", "<image"):
        assert forbidden not in page, forbidden
    assert page.count("<svg") >= 10
    # every url() points inside the page
    assert all(ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", page))


def test_the_privacy_auditor_checks_the_report(built: Built) -> None:
    index = built.folder / "index.html"
    clean = built.daemon.ctl("audit", "--only", "logs", "--log", str(index), check=False)
    assert clean.returncode == 0, clean.stderr.decode()
    assert b"audit passed" in clean.stdout

    # the same check finds journal text pasted into a copy of the report
    tampered = built.folder.parent / "tampered.html"
    tampered.write_text(built.page.replace("</main>", f"<p>please do task 1 {CANARIES['claude']}</p></main>"))
    dirty = built.daemon.ctl("audit", "--only", "logs", "--log", str(tampered), check=False)
    assert dirty.returncode == 4
    assert b"hold your journal's text" in dirty.stderr


def request_data(built: Built, **args: Any) -> dict[str, Any]:
    with Client(built.daemon.socket_path) as client:
        reply = client.request(p.Request(name="report.data", args=args))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    return reply.value


def test_report_data_sums_match_the_journal_and_hold_no_text(built: Built) -> None:
    data = request_data(built)
    cells = Counter((r.model, canonicalize(r.kaomoji)) for r in built.rows)
    assert {(f["model"], f["canonical"]): f["count"] for f in data["faces"]} == dict(cells)
    forms = Counter((r.model, canonicalize(r.kaomoji), r.kaomoji) for r in built.rows)
    assert {(f["model"], f["canonical"], w["kaomoji"]): w["count"] for f in data["faces"] for w in f["forms"]} == dict(
        forms
    )
    assert sum(d["count"] for d in data["over_time"]["by_model"]) == len(built.rows) == data["journal"]["rows"]
    assert data["over_time"]["unit"] == "hour"  # a few minutes of turns
    assert {m["model"]: m["rows"] for m in data["models"]} == dict(Counter(r.model for r in built.rows))
    # bags: one per cell; a model's circumplex weights add up to its synthesized rows
    assert {(b["model"], b["canonical"]) for b in data["synthesis"]["bags"]} == set(cells)
    for m in data["synthesis"]["by_model"]:
        assert sum(m["cells"].values()) == pytest.approx(m["synthesized_rows"], abs=1e-4)  # rounded per cell
        assert sum(m["stance"].values()) == pytest.approx(m["synthesized_rows"], abs=1e-4)  # rounded per cell
    # typing: ten windows, five scored (two flagged: the slow typist); every turn came after them and is linked
    typing = data["typing"]
    assert typing["by_status"] == {"enrolled": 5, "scored": 5}
    assert typing["bucket_seconds"] == 1  # turns over a few minutes: counted per second
    scored = [w for w in typing["windows"] if w["deviation"] is not None]
    assert len(scored) == 5 and sum(w["flagged"] for w in scored) == 2
    assert sum(e["count"] for e in typing["face_events"]) == len(built.rows)
    assert sum(f["turns"] for f in typing["faces_by_deviation"]) == len(built.rows)
    assert all(f["flagged_turns"] == f["turns"] for f in typing["faces_by_deviation"])  # the last window was flagged
    encoded = json.dumps(data, ensure_ascii=False)
    assert [s for s in built.secrets if s in encoded] == []


def test_report_data_refuses_bad_arguments(built: Built) -> None:
    with Client(built.daemon.socket_path) as client:
        for args in ({"top": 0}, {"synthesis_model": "no-such-model"}, {"text": True}):
            with pytest.raises(DaemonError) as info:
                client.request(p.Request(name="report.data", args=args))
            assert info.value.code == p.ErrorCode.INVALID_ARGUMENT


def test_bad_arguments_are_usage_errors(built: Built) -> None:
    blocker = built.folder.parent / "not-a-folder"
    blocker.write_text("x")
    result = built.daemon.ctl("report", "--out", str(blocker), check=False)
    assert result.returncode == 2 and b"is not a folder" in result.stderr
    result = built.daemon.ctl("report", "--top", "0", "--out", str(built.folder), check=False)
    assert result.returncode == 2 and b"--top must be between 1 and 50" in result.stderr


# --- in a browser --------------------------------------------------------------------------------------------------
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/setup installs it)")
def test_chromium_loads_the_report_without_console_errors_or_requests(built: Built, tmp_path: Path) -> None:
    load = load_in_chromium(built.folder / "index.html", tmp_path)
    assert load.console == []
    assert load.page_requests == []
    assert png_size(load.screenshot) == WINDOW
    from PIL import Image

    with Image.open(load.screenshot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # charts drawn, not a blank or error page
    keep = os.environ.get("LLMOJID_REPORT_SHOTS")  # docs/report.png was made so
    if keep:
        shutil.copyfile(load.screenshot, Path(keep) / "report.png")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/setup installs it)")
def test_the_chromium_check_sees_blocked_requests_and_console_errors(built: Built, tmp_path: Path) -> None:
    """The check above can fail: the report's own policy with a remote image and an inline style added."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        built.page.replace(
            "</main>", '<p style="color: red">x</p><img src="https://example.invalid/pixel.png" alt=""></main>'
        )
    )
    load = load_in_chromium(bad, tmp_path)
    assert any("example.invalid" in line for line in load.console), load.console
    assert any("inline style" in line for line in load.console), load.console
    unguarded = tmp_path / "unguarded.html"
    unguarded.write_text('<!DOCTYPE html><img src="https://example.invalid/pixel.png" alt="">')
    assert load_in_chromium(unguarded, tmp_path / "second").page_requests == ["https://example.invalid/pixel.png"]
