"""``llmojid-ctl forget --before DATE | --harness NAME | --all | --expired``: delete journal data for good.

Deletes the rows, the synthesis cache of the faces they touched, and typing data of that period, then vacuums
the database so the bytes are gone from the file. ``--all`` deletes everything llmojid holds and then the keys
themselves (crypto-shredding: no copy anywhere can be opened again); the daemon then stops and starts afresh.
``--expired`` applies ``retain_text_days`` now (the daemon also does it hourly): rows past it lose their text and
keep their counts. The daemon skips it, and says why, while the wall clock looks stepped.
It asks for confirmation unless ``--yes`` is given.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any, Final

from llmojid.client import cli
from llmojid.client import protocol as p

#: VACUUM rewrites the whole file: give a big journal time.
TIMEOUT_SECONDS: Final = 600.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("forget", help="delete journal rows (and with --all, the keys) for good")
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--before", metavar="DATE", help="rows older than DATE (YYYY-MM-DD or ISO-8601, UTC)")
    scope.add_argument("--harness", metavar="NAME", help="rows of one harness (claude-code, codex, hermes ...)")
    scope.add_argument("--all", action="store_true", help="everything, then the keys (crypto-shredding)")
    scope.add_argument(
        "--expired", action="store_true", help="now, drop the text of rows older than retain_text_days (config)"
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="the result as one JSON object")
    parser.set_defaults(func=run)


def confirm(question: str) -> bool:
    """Ask on the terminal; without one, the answer is the first line of stdin (``echo y | llmojid-ctl ...``)."""
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    return line.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    if args.expired:
        return run_retention(args)
    if args.all:
        request: dict[str, object] = {"all": True}
        what = "EVERYTHING llmojid holds (journal, cache, typing data, spool, bundle) and its keys"
    elif args.before:
        try:
            datetime.fromisoformat(args.before.strip().replace("Z", "+00:00"))
        except ValueError:
            raise cli.UsageError("--before takes a date (YYYY-MM-DD) or an ISO-8601 time") from None
        request, what = {"before": args.before}, f"every journal row before {args.before}"
    else:
        request, what = {"harness": args.harness}, f"every journal row of {args.harness}"
    if not args.yes and not confirm(f"Delete {what}? This cannot be undone."):
        print("llmojid-ctl: nothing deleted", file=sys.stderr)
        return cli.EXIT_USAGE
    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="forget", args=request))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    value = reply.value
    if args.json:
        cli.print_json(value)
        return cli.EXIT_OK
    deleted = value.get("deleted", {})
    print(f"deleted {sum(deleted.values())} row(s): " + ", ".join(f"{t} {n}" for t, n in sorted(deleted.items())))
    if value.get("keys_deleted"):
        print("deleted the keys: what was sealed under them can never be opened again; the daemon stopped")
    return cli.EXIT_OK


def run_retention(args: argparse.Namespace) -> int:
    """One retention pass now. Exit 0 when it ran (or retention is off), 1 when the daemon skipped it."""
    if not args.yes and not confirm("Drop the text of every journal row older than retain_text_days?"):
        print("llmojid-ctl: nothing deleted", file=sys.stderr)
        return cli.EXIT_USAGE
    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="retention.run", args={}))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    value = reply.value
    off = value.get("days") == 0
    skipped = value.get("skipped") is not None and not off
    if args.json:
        cli.print_json(value)
    elif off:
        print("retention is off (retain_text_days = 0 in config.toml): nothing to drop")
    elif skipped:
        print(f"llmojid-ctl: retention not applied: {value['skipped']}", file=sys.stderr)
    else:
        print(f"dropped the text of {value.get('dropped', 0)} row(s) older than {value.get('days')} days")
    return cli.EXIT_DAEMON_ERROR if skipped else cli.EXIT_OK
