"""Headless Chromium for the report tests: load a page, screenshot it, collect console messages and the network
requests the page started."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium")
#: Width and height of the headless window (the screenshot's size).
WINDOW = (1200, 2000)


@dataclass
class PageLoad:
    console: list[str]
    page_requests: list[str]
    screenshot: Path


def load_in_chromium(page: Path, workdir: Path, window: tuple[int, int] = WINDOW) -> PageLoad:
    """Open ``page`` in headless Chromium, screenshot it, and collect console messages (stderr, ``:CONSOLE``
    lines: console calls and CSP violations alike) and the network requests the page started (Chromium's net
    log: requests whose initiator is the page; the browser's own update and time checks are initiated by no
    origin and are not the page's)."""
    assert CHROMIUM is not None
    shot, net = workdir / "screenshot.png", workdir / "net.json"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={workdir / 'profile'}",
        f"--screenshot={shot}",
        f"--window-size={window[0]},{window[1]}",
        "--enable-logging=stderr",
        "--v=0",
        f"--log-net-log={net}",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    log = result.stderr.decode(errors="replace")
    assert result.returncode == 0, log
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    raw = net.read_text()
    try:
        netlog = json.loads(raw)
    except json.JSONDecodeError:  # cut short at exit: the events so far are still a list
        netlog = json.loads(raw.rstrip().rstrip(",") + "]}")
    start_job = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requests = []
    for event in netlog["events"]:
        params = event.get("params", {})
        if event["type"] != start_job or "url" not in params:  # a job's end phase carries no parameters
            continue
        by_page = params.get("initiator") != "not an origin" or "file://" in params.get("network_isolation_key", "")
        if by_page and params["url"] != page.as_uri():
            requests.append(params["url"])
    return PageLoad(console, requests, shot)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
