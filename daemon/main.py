"""``llmojid``: the daemon's command line.

Start-up order matters, and is the order of ``serve`` below: harden the process, narrow the umask, prove the
keyring is usable (before any file is written, so a missing keyring leaves no trace), check and lock the state
directory, open the store, then take the socket (handed over by the service manager, or bound privately).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

log = logging.getLogger("llmojid")


def build_parser() -> argparse.ArgumentParser:
    from llmojid.common.version import VERSION

    parser = argparse.ArgumentParser(prog="llmojid", description="The llmojid daemon.")
    parser.add_argument("--version", action="version", version=f"llmojid {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the daemon in the foreground")
    serve.add_argument("--socket", help="socket path (default: $LLMOJID_SOCKET or the runtime dir)")
    serve.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this long with no connection (default: 0 = never; 600 when socket-activated)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # --- config (issue 7, common/config.py): default < config.toml < environment < these flags ---
    from llmojid.client import paths
    from llmojid.common import config

    flags = {"socket": args.socket, "idle_exit_seconds": args.idle_exit, "log_level": "debug" if args.verbose else None}
    try:
        args.settings = config.load(config.config_file(paths.config_dir()), flags=flags).config
    except config.ConfigError as exc:
        print(f"llmojid: {exc}", file=sys.stderr)
        return EXIT_USAGE  # the unit's RestartPreventExitStatus=2: restarting cannot fix a bad config
    # --- end config ---
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, args.settings.log_level.upper()),
        # journald adds its own timestamps; a terminal user still wants them.
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return serve(args)
    except KeyboardInterrupt:
        return EXIT_OK


def serve(args: argparse.Namespace) -> int:
    import trio

    from llmojid.client import paths
    from llmojid.daemon import security, spool
    from llmojid.daemon.app import Daemon
    from llmojid.daemon.components import build_components
    from llmojid.daemon.keys import KeyManager, KeyringUnavailableError
    from llmojid.daemon.store import StorageError, Store

    security.harden_process()
    os.umask(0o077)
    try:
        keys = KeyManager.open()
    except KeyringUnavailableError as exc:
        log.error("%s", exc)
        return EXIT_ERROR

    state_dir = paths.state_dir()
    try:
        security.check_private_dir(state_dir, create=True)
        lock = security.acquire_instance_lock(state_dir)
    except security.SecurityError as exc:
        log.error("%s", exc)
        return EXIT_ERROR

    try:
        store = Store.open(paths.database_path(), keys)
    except (StorageError, KeyringUnavailableError) as exc:
        log.error("%s", exc)
        lock.close()
        return EXIT_ERROR
    try:
        if store.finished_forget:  # a forget --all a crash interrupted: its files go too, before serving
            from llmojid.daemon.privacy import forget, forget_all
            from llmojid.daemon.privacy.bundle_folder import default_folder

            forget_all.clear_files(state_dir, default_folder())
            forget.vacuum(store.path)
        # Spooled turns are sealed to the spool key's published public half: with such files waiting, a missing key
        # is refused, never remade. (No published key: no hook can have sealed anything to one.)
        sealed_waiting = paths.spool_public_key_path().exists() and spool.waiting(paths.spool_dir())
        keys.spool_private_key(create=not sealed_waiting)
    except (StorageError, KeyringUnavailableError) as exc:
        log.error("%s", exc)
        store.close()
        lock.close()
        return EXIT_ERROR

    activated = None
    bound: security.BoundSocket | None = None
    try:
        activated = security.activated_socket()
        if activated is not None:
            sock, activated_by = activated
            socket_path = security.check_activated_socket(sock)
        else:
            override = args.settings.socket or None  # config (issue 7)
            if override is None and paths.needs_recorded_runtime_dir():
                socket_path = security.fallback_runtime_dir() / paths.SOCKET_NAME
            else:
                socket_path = paths.socket_path(override)
            bound = security.bind_private_socket(socket_path)
            sock, activated_by = bound.sock, "self"
    except (security.SecurityError, OSError) as exc:
        log.error("%s", exc if isinstance(exc, security.SecurityError) else f"cannot take the socket: {exc.strerror}")
        if activated is not None:
            activated[0].close()
        store.close()
        lock.close()
        return EXIT_ERROR

    idle_exit = args.settings.idle_exit_seconds  # config (issue 7): flag, environment or config.toml
    if idle_exit is None:
        idle_exit = 600.0 if activated else 0.0
    daemon = Daemon(
        socket_path=socket_path,
        state_dir=state_dir,
        activated_by=activated_by,
        keys=keys,
        store=store,
        idle_exit_seconds=idle_exit,
    )
    for component in build_components(daemon):
        daemon.add_component(component)
    try:
        trio.run(daemon.run, sock)
    finally:
        # Only a socket we bound is ours to remove (and only if the file is still the one we bound); an activated
        # one belongs to the service manager.
        if bound is not None:
            bound.close()
        else:
            sock.close()
        lock.close()
        log.info("stopped")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
