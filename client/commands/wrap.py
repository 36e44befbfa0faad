"""``llmojid-ctl wrap -- CMD [ARGS]``: run an interactive program and record how (never what) you type.

The program runs in a pseudo-terminal of its own and behaves as it would without the wrapper; only the
timing and the class of each key reach the daemon (see ``llmojid.client.wrap``). The exit status is the
program's. If the daemon is not running, the program runs all the same and no timing is recorded.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmojid.client import cli, paths
from llmojid.client import wrap as wrapper

#: Exit status when the program cannot be started (as shells report "command not found").
EXIT_CANNOT_RUN = 127


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "wrap",
        help="run a program (your coding assistant) and record your typing rhythm, never what you type",
        description="Run CMD in a pseudo-terminal. Keys reach CMD unchanged; the daemon receives only when each "
        "key was pressed and what kind of key it was (character, space, backspace, enter, tab, navigation, paste).",
    )
    parser.add_argument("--no-record", action="store_true", help="run the program without recording timing")
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS]", help="the program to run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise cli.UsageError("wrap needs a program: llmojid-ctl wrap -- CMD [ARGS]")
    sender = None
    if not args.no_record:
        sender = wrapper.Sender(wrapper.blocking_connect(paths.socket_path(getattr(args, "socket", None))))
    try:
        status = wrapper.run(argv, sender)
    except OSError as exc:
        print(f"llmojid-ctl wrap: could not set up the terminal: {exc.strerror}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if sender is not None and sender.refusal:
        print(f"llmojid-ctl wrap: no key timing was sent: {sender.refusal}", file=sys.stderr)
    elif sender is not None and sender.dropped:
        # Said once, after the program has finished, so it never mixes into the program's screen.
        print(
            f"llmojid-ctl wrap: {sender.dropped} key timings were not recorded (the daemon was not reachable)",
            file=sys.stderr,
        )
    return status
