"""The daemon's composition: its components, their handlers, and their shared lifecycle.

A component contributes handlers to the dispatch table (``register``), may run a background task for the
daemon's life (``run``), and releases what it holds in ``close``. ``Daemon.run`` starts them in one nursery,
serves, and closes them in reverse order when the server has drained.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trio

from llmojid.client import protocol as p
from llmojid.common.version import VERSION
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError
from llmojid.daemon.journal import Journal
from llmojid.daemon.keys import KeyManager
from llmojid.daemon.server import Server
from llmojid.daemon.store import Store
from llmojid.daemon.timestamps import is_time

log = logging.getLogger("llmojid.app")


class Component(Protocol):
    def register(self, dispatcher: Dispatcher) -> None: ...

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None: ...

    def close(self) -> None: ...


@dataclass
class Daemon:
    """Everything one running daemon owns. Built by ``llmojid.daemon.main`` after the security checks."""

    socket_path: Path
    state_dir: Path
    activated_by: str
    keys: KeyManager
    store: Store
    idle_exit_seconds: float = 0.0
    started_at: float = field(default_factory=time.monotonic)
    dispatcher: Dispatcher = field(default_factory=Dispatcher)
    components: list[Any] = field(default_factory=list)
    journal: Journal = field(init=False)
    server: Server | None = None

    def __post_init__(self) -> None:
        self.journal = Journal(self.store)
        self.dispatcher.add(p.Status, self._status)
        self.dispatcher.add(p.Stop, self._stop)
        self.dispatcher.add(p.SubmitRows, self._submit_rows)
        self.dispatcher.add(p.QueryJournal, self._query_journal)

    def add_component(self, component: Any) -> None:
        component.register(self.dispatcher)
        self.components.append(component)

    async def run(self, sock: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the components, serve until shutdown has drained, then close everything in reverse order."""
        self.server = Server(sock, self.dispatcher)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.store.writer)
                for component in self.components:
                    await nursery.start(component.run)
                nursery.start_soon(self._signals)
                if self.idle_exit_seconds > 0:
                    nursery.start_soon(self._idle_exit)
                self.dispatcher.ready = True
                log.info("serving on %s (pid %d)", self.socket_path, os.getpid())
                _notify_ready()
                task_status.started()
                await self.server.serve()  # returns once shutdown has drained
                nursery.cancel_scope.cancel()
        finally:
            for component in reversed(self.components):
                component.close()
            self.store.close()

    async def _signals(self) -> None:
        import signal

        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info("received %s; draining", signal.Signals(signum).name)
                assert self.server is not None
                self.server.shutdown()
                return

    async def _idle_exit(self) -> None:
        """Socket-activated daemons exit when idle; the service manager starts them again on demand."""
        assert self.server is not None
        while True:
            await trio.sleep(min(1.0, self.idle_exit_seconds / 4))
            if self.server.idle_seconds() >= self.idle_exit_seconds:
                log.info("idle for %.0fs; exiting", self.idle_exit_seconds)
                self.server.shutdown()
                return

    # --- handlers ---
    async def _status(self, _msg: p.Status, _ctx: CallContext) -> p.StatusReply:
        counts = await self.journal.counts() if self.dispatcher.ready else {}
        return p.StatusReply(
            version=VERSION,
            protocol=p.PROTOCOL_VERSION,
            pid=os.getpid(),
            uptime_seconds=round(time.monotonic() - self.started_at, 3),
            socket_path=str(self.socket_path),
            activated_by=self.activated_by,
            store_path=str(self.store.path),
            store_bytes=self.store.size_bytes(),
            schema_version=_schema_version(),
            row_counts=counts,
            keyring_backend=self.keys.backend_name,
            key_id=self.keys.active_id,
        )

    async def _stop(self, _msg: p.Stop, _ctx: CallContext) -> p.Ok:
        log.info("stop requested by a client; draining")
        return p.Ok()

    async def _submit_rows(self, msg: p.SubmitRows, _ctx: CallContext) -> p.HookAck:
        if len(msg.rows) > p.MAX_ROWS_PER_REQUEST:
            raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, f"at most {p.MAX_ROWS_PER_REQUEST} rows per request")
        for row in msg.rows:
            if not row.message_id or not row.kaomoji or not row.harness:
                raise DispatchError(p.ErrorCode.INVALID_ARGUMENT, "each row needs harness, message_id and kaomoji")
        for n, row in enumerate(msg.rows):
            if not is_time(row.ts):  # refused whole, before anything is stored
                raise DispatchError(
                    p.ErrorCode.INVALID_ARGUMENT,
                    f"row {n}: ts is not an ISO-8601 time (e.g. 2026-11-05T10:30:00Z or ...+05:00); nothing was stored",
                )
        return p.HookAck(rows_added=await self.journal.submit(msg.rows))

    async def _query_journal(self, msg: p.QueryJournal, _ctx: CallContext) -> p.Rows:
        limit = max(0, min(msg.limit, p.MAX_ROWS_PER_REQUEST))
        return p.Rows(rows=await self.journal.tail(limit, msg.before_row_id, msg.harness))


def _schema_version() -> int:
    from llmojid.daemon.schema import SCHEMA_VERSION

    return SCHEMA_VERSION


def _notify_ready() -> None:
    """systemd Type=notify readiness (a datagram on NOTIFY_SOCKET); a no-op elsewhere."""
    import socket

    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"READY=1", address)
        except OSError as exc:
            log.warning("could not notify the service manager: %s", exc.strerror)
