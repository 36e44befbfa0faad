"""``llmojid-ctl sessions [--json] [--since DATE]``: the session diary, one line per assistant session.

The daemon builds it from the sealed rows (``journal.sessions``, ``llmojid.daemon.sessions``) and returns
aggregates only: harness, models, start, duration, turns, kaomoji-led messages, faces with counts, circumplex
cells of their lexicon bags, typing windows with their mean deviation and flags. No prompt, reply, path, cwd or
session id reaches this side.

``--json`` prints one JSON object per session and line, oldest first (the README shows one). Exit codes: 0 ok,
1 the daemon refused, 2 bad arguments, 3 no daemon.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any, Final

from llmojid.client import cli
from llmojid.client import protocol as p
from llmojid.client.cli import EXIT_OK

#: Reading every row of a big journal takes a while; the request streams no progress.
TIMEOUT_SECONDS: Final = 300.0
#: Faces shown per line in the text output (``--json`` has them all, up to the daemon's cap).
FACES_SHOWN: Final = 5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sessions",
        help="one line per assistant session: harness, model, start, duration, turns, faces, cells, typing",
        description="The session diary, built by the daemon from your journal's metadata: never a prompt, a reply, "
        "a path or a session id.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per session and line")
    parser.add_argument("--since", metavar="DATE", help="only sessions active at or after DATE (YYYY-MM-DD or ISO)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.since:
        try:
            datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            raise cli.UsageError("--since takes a date (YYYY-MM-DD) or an ISO date-time") from None
    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="journal.sessions", args={"since": args.since or ""}))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    value: dict[str, Any] = reply.value
    if args.json:
        for session in value["sessions"]:
            cli.print_json(session)
    else:
        if not value["sessions"]:
            print("no sessions" + (f" since {args.since}" if args.since else "") + " in the journal")
        for session in value["sessions"]:
            print(session_line(session))
    if value["truncated"]:
        print(f"note: the newest {len(value['sessions'])} of {value['total']} sessions are shown", file=sys.stderr)
    if value["unreadable"]:
        print(f"note: {value['unreadable']} journal row(s) did not open and were left out", file=sys.stderr)
    return EXIT_OK


def duration(seconds: int) -> str:
    """``45s``, ``12m``, ``3h05m``, ``2d04h``: short and sortable by eye. Pure."""
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def weight(messages: float) -> str:
    """A cell's weight in messages (a face's bag spreads one message over its words): ``3``, ``1.5``, ``0.3``. Pure."""
    return f"{messages:.1f}".removesuffix(".0")


def session_line(s: dict[str, Any]) -> str:
    """One session for people. Pure."""
    start = s["start"][:16].replace("T", " ")
    model = s["model"] + (f" +{len(s['models']) - 1}" if len(s["models"]) > 1 else "")
    faces = " ".join(f"{f['canonical']}×{f['count']}" for f in s["faces"][:FACES_SHOWN])
    if s["faces_total"] > FACES_SHOWN:
        faces += f" +{s['faces_total'] - FACES_SHOWN}"
    parts = [
        start,
        f"{duration(s['duration_seconds']):>6}",
        f"{s['harness']:<11}",
        model,
        f"{s['turns']} turn{'s' if s['turns'] != 1 else ''}",
        f"{s['messages']} msg",
        faces,
    ]
    if s["cells"]:
        parts.append("cells " + ", ".join(f"{c['cell']} {weight(c['messages'])}" for c in s["cells"][:3]))
    typing = s["typing"]
    if typing["windows"]:
        text = f"typing {typing['windows']} window{'s' if typing['windows'] != 1 else ''}"
        if typing["mean_deviation"] is not None:
            text += f", deviation {typing['mean_deviation']:.2f}, {typing['flagged']} flagged"
        parts.append(text)
    return "  ".join(parts)
