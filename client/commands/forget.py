"""``llmojid-ctl forget --before DATE | --harness NAME | --all``: delete journal rows for good.

Deletes the rows, the synthesis cache of the faces they touched, and typing data of that period, then vacuums
the database so the bytes are gone from the file. ``--all`` deletes everything llmojid holds and then the keys
themselves (crypto-shredding: no copy anywhere can be opened again); the daemon then stops and starts afresh.
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
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="the result as one JSON object")
    parser.set_defaults(func=run)


def confirm(question: str) -> bool:
    """Ask on the terminal; without one, the answer is the first line of stdin (``echo y | llmojid-ctl ...``)."""
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    return line.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
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
