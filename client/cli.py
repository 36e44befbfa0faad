"""``llmojid-ctl``: administer the daemon.

Exit codes (scripts rely on them): 0 ok, 1 the daemon answered with an error, 2 usage, 3 daemon not reachable.
Each command group lives in ``client/commands/<name>.py`` with a ``register(subparsers)`` that sets ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from llmojid.client import paths
from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError, DaemonUnreachable

EXIT_OK = 0
EXIT_DAEMON_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

#: Command modules under llmojid.client.commands, registered in this order.
COMMAND_MODULES: tuple[str, ...] = (
    *("face", "sanitize", "analyze"),
    *("service", "config", "doctor"),  # issue 7: service manager, config, doctor
    *("hooks", "importing", "stats"),  # issue 3: installers, backfill import, stats
    *("wrap", "typing"),  # issue 4: keystroke timing
    *("audit", "bundle", "keys", "forget"),  # issue 6: privacy
    "report",  # issue 9: the HTML report
    "sessions",  # issue 18: the session diary
)


class UsageError(Exception):
    """Bad arguments found after parsing (exit 2)."""


def connect(args: argparse.Namespace, timeout: float | None = None) -> Client:
    """A connection to the daemon chosen by --socket / LLMOJID_SOCKET / the default path."""
    path = paths.socket_path(getattr(args, "socket", None))
    return Client(path, timeout=timeout) if timeout is not None else Client(path)


def print_json(value: Any) -> None:
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    from llmojid.common.version import VERSION

    parser = argparse.ArgumentParser(prog="llmojid-ctl", description="Administer the llmojid daemon.")
    parser.add_argument("--version", action="version", version=f"llmojid-ctl {VERSION}")
    parser.add_argument("--socket", help="daemon socket path (default: $LLMOJID_SOCKET or the runtime dir)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = sub.add_parser("status", help="is the daemon up; what it holds")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    journal = sub.add_parser("journal", help="read your journal")
    jsub = journal.add_subparsers(dest="journal_command", required=True, metavar="SUBCOMMAND")
    tail = jsub.add_parser("tail", help="the newest rows")
    tail.add_argument("-n", type=int, default=10, help="how many rows (default 10)")
    tail.add_argument("--json", action="store_true", help="one JSON object per row")
    tail.set_defaults(func=cmd_journal_tail)

    stop = sub.add_parser("stop", help="stop the daemon (it drains requests in flight)")
    stop.set_defaults(func=cmd_stop)

    hook = sub.add_parser("hook", help="(used by harness hooks) send this turn's event to the daemon")
    hook.add_argument("harness")

    for name in _modules_for(only):
        importlib.import_module(f"llmojid.client.commands.{name}").register(sub)
    return parser


#: Where a command's name differs from its module's (``import`` is a Python keyword).
_MODULE_OF_COMMAND = {"import": "importing"}


def _modules_for(command: str | None) -> tuple[str, ...]:
    """Only the chosen command's module, when it has one: importing every command (phonenumbers, the installers,
    ...) costs a second at start. Unknown words and ``--help`` load them all, so usage lists every command."""
    module = _MODULE_OF_COMMAND.get(command or "", command)
    return (module,) if module in COMMAND_MODULES else COMMAND_MODULES


def main(argv: Sequence[str] | None = None) -> int:
    from llmojid.client.entry import first_command

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=first_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"llmojid-ctl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DaemonUnreachable as exc:
        print(f"llmojid-ctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except DaemonError as exc:
        print(f"llmojid-ctl: the daemon refused: {exc}", file=sys.stderr)
        if exc.code == p.ErrorCode.VERSION_MISMATCH:
            print("llmojid-ctl: restart the daemon so it runs this version (llmojid-ctl stop)", file=sys.stderr)
        return EXIT_DAEMON_ERROR
    except p.ProtocolError as exc:
        print(f"llmojid-ctl: protocol error: {exc.message}", file=sys.stderr)
        return EXIT_DAEMON_ERROR
    except BrokenPipeError:
        return EXIT_OK  # stdout closed early (| head): not an error


def cmd_status(args: argparse.Namespace) -> int:
    with connect(args) as client:
        reply = client.request(p.Status())
    assert isinstance(reply, p.StatusReply)
    if args.json:
        data = msgspec.to_builtins(reply)
        data.pop("type", None)
        data.pop("id", None)
        data["running"] = True
        print_json(data)
        return EXIT_OK
    counts = ", ".join(f"{k} {v}" for k, v in sorted(reply.row_counts.items())) or "none"
    print(f"llmojid {reply.version} is running (pid {reply.pid}, up {reply.uptime_seconds:.0f}s)")
    print(f"  protocol  {reply.protocol}")
    print(f"  socket    {reply.socket_path} ({reply.activated_by})")
    print(f"  store     {reply.store_path} ({reply.store_bytes:,} bytes, schema {reply.schema_version})")
    print(f"  rows      {counts}")
    print(f"  keyring   {reply.keyring_backend} (data key id {reply.key_id})")
    return EXIT_OK


def cmd_journal_tail(args: argparse.Namespace) -> int:
    if args.n < 0:
        raise UsageError("-n must be 0 or more")
    with connect(args) as client:
        reply = client.request(p.QueryJournal(limit=args.n))
    assert isinstance(reply, p.Rows)
    rows = list(reversed(reply.rows))  # oldest first, like tail(1)
    if args.json:
        for row in rows:
            print_json(row)
        return EXIT_OK
    for row in rows:
        text = row.assistant_text.replace("\n", " ")
        print(f"{row.ts}  {row.harness:<11} {row.model:<24} {row.kaomoji}  {text[:80]}")
    return EXIT_OK


def cmd_stop(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.request(p.Stop())
    print("llmojid: stopping")
    return EXIT_OK


def socket_arg(args: argparse.Namespace) -> Path:
    return paths.socket_path(getattr(args, "socket", None))
