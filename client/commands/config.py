"""``llmojid-ctl config show [--json]``: the effective settings and where each one came from.

The answer to "why does it do *that*?" is usually a forgotten environment variable or a line in config.toml;
this command prints every key with its value and its source (default, file, environment, flag), computed by the
same ``llmojid.common.config.load`` the daemon runs at start-up. The ctl's own ``--socket`` counts as a flag.

Exit codes: 0 shown; 2 the config is refused (the message names the key and the file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmojid.client import paths
from llmojid.common import config

EXIT_OK = 0
EXIT_BAD_CONFIG = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("config", help="the effective configuration")
    sub = parser.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    show = sub.add_parser("show", help="every setting, its value and where it came from")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=cmd_show)


def effective(args: argparse.Namespace) -> config.LoadedConfig:
    """The config as the ctl sees it: file, environment, and the ctl's ``--socket`` flag."""
    return config.load(config.config_file(paths.config_dir()), flags={"socket": getattr(args, "socket", None)})


def as_json(loaded: config.LoadedConfig) -> dict[str, Any]:
    values = {
        key: {
            "value": getattr(loaded.config, key),
            "source": loaded.sources[key].kind,
            "detail": loaded.sources[key].detail,
        }
        for key in config.KEYS
    }
    return {"file": str(loaded.file), "file_exists": loaded.file_exists, "values": values}


def cmd_show(args: argparse.Namespace) -> int:
    try:
        loaded = effective(args)
    except config.ConfigError as exc:
        print(f"llmojid-ctl config: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    if args.json:
        import json

        sys.stdout.write(json.dumps(as_json(loaded)) + "\n")
        return EXIT_OK
    state = "" if loaded.file_exists else " (not present: defaults apply)"
    print(f"# config file: {loaded.file}{state}")
    width = max(len(key) for key in config.KEYS)
    for key in config.KEYS:
        value = config.to_toml_value(getattr(loaded.config, key))
        print(f"{key:<{width}} = {value:<24} # {loaded.sources[key]}")
    return EXIT_OK
