"""``llmojid-ctl keys rotate`` and ``keys status``: the data keys in the OS keyring.

``rotate`` re-seals every value under a new key in batches (the daemon streams progress) and then deletes the
old key; it is safe to interrupt at any point (the daemon finishes an unfinished rotation when it starts, and
``rotate`` resumes one). ``status`` shows the active key, how many values each key seals, and whether the
keyring holds it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final

from llmojid.client import cli
from llmojid.client import protocol as p

#: Between two progress events the daemon re-seals one batch; a minute without one means it is stuck.
TIMEOUT_SECONDS: Final = 60.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="rotate the data key, or see which keys seal your data")
    sub = parser.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND")
    rotate = sub.add_parser("rotate", help="re-seal everything under a new data key, then delete the old key")
    rotate.add_argument("--json", action="store_true", help="progress and summary as JSON lines")
    rotate.set_defaults(func=run_rotate)
    status = sub.add_parser("status", help="the active key and what each key seals")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)


def run_rotate(args: argparse.Namespace) -> int:
    def progress(event: dict[str, object]) -> None:
        if args.json:
            cli.print_json(event)
        elif event.get("event") == "start":
            resumed = " (resuming an unfinished rotation)" if event.get("resumed") else ""
            print(f"rotating to data key {event.get('to')}{resumed}", file=sys.stderr)
        elif event.get("event") == "batch" and sys.stderr.isatty():
            print(f"\r  re-sealed {event.get('done')} of {event.get('total')}", end="", file=sys.stderr)
        elif event.get("event") == "deleted-key":
            print(f"\ndeleted old data key {event.get('key')}", file=sys.stderr)

    with cli.connect(args, timeout=TIMEOUT_SECONDS) as client:
        reply = client.request(p.Request(name="keys.rotate"), on_progress=progress)
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    summary = reply.value
    if args.json:
        cli.print_json({"event": "done", **summary})
    else:
        print(
            f"re-sealed {summary['resealed']} value(s) under data key {summary['to']}; "
            f"deleted {len(summary['deleted'])} old key(s)"
        )
    return cli.EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    with cli.connect(args) as client:
        reply = client.request(p.Request(name="keys.status"))
    assert isinstance(reply, p.Result) and isinstance(reply.value, dict)
    value = reply.value
    if args.json:
        cli.print_json(value)
        return cli.EXIT_OK
    print(f"active data key {value['active']} ({value['backend']})")
    for key in value["keys"]:
        flags = ["active"] if key["active"] else []
        if not key["in_keyring"]:
            flags.append("NOT IN KEYRING")
        print(f"  {key['id']}  {key['values']:>8} value(s)  {' '.join(flags)}")
    rotation = value.get("rotation")
    if rotation:
        print(f"a rotation to {rotation['to']} is unfinished; run llmojid-ctl keys rotate to finish it")
    return cli.EXIT_OK
