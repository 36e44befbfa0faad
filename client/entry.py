"""The ``llmojid-ctl`` console script.

A harness runs ``llmojid-ctl hook <harness>`` on every turn, so that path must cost little more than the
interpreter's start: it is recognised here from ``argv`` alone, and only then is anything imported (the hook
module uses the standard library only). Every other command loads the full CLI.
"""

from __future__ import annotations

import sys


def first_command(argv: list[str]) -> str | None:
    """The first positional word, skipping ``--socket PATH`` / ``--socket=PATH``."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--socket":
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def main() -> None:
    argv = sys.argv[1:]
    if first_command(argv) == "hook":
        from llmojid.client.hook import main as hook_main

        sys.exit(hook_main(argv))
    from llmojid.client.cli import main as cli_main

    sys.exit(cli_main(argv))
