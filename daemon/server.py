"""The server: a thin trio shell around the pure protocol (``llmojid.client.protocol``) and the dispatcher.

One nursery holds the accept loop and one task per connection. Each connection's credentials are checked right
after accept, before it is registered or read (``security.peer_allowed``). The connection cap is checked before a
task is spawned. Capacity errors from accept (EMFILE and friends) are logged and retried after a pause, as trio's
serve_listeners does; other errors propagate.

Shutdown (SIGTERM, SIGINT or a Stop request) drains: the listener closes, idle connections are cancelled, and
requests in flight get ``DRAIN_TIMEOUT_SECONDS`` to finish and send their replies before the rest is cancelled.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections import OrderedDict
from dataclasses import dataclass, field

import trio

from llmojid.client import protocol as p
from llmojid.daemon.dispatch import CallContext, Dispatcher
from llmojid.daemon.security import PeerCredentials, peer_allowed

log = logging.getLogger("llmojid.server")

#: Bytes read per receive. The frame decoder judges each length prefix before a body accumulates.
READ_CHUNK = 65_536
#: After EMFILE/ENFILE/ENOMEM/ENOBUFS on accept, wait this long before accepting again.
ACCEPT_CAPACITY_PAUSE_SECONDS = 0.1
#: How long requests in flight may run after shutdown starts.
DRAIN_TIMEOUT_SECONDS = 10.0
#: Time allowed to write one reply to a slow reader.
SEND_TIMEOUT_SECONDS = 10.0
#: Rate buckets kept for distinct peer processes (oldest dropped first).
MAX_TRACKED_PEERS = 1_024
_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}


@dataclass(eq=False)  # identity: connections live in a set
class _Connection:
    stream: trio.SocketStream
    peer: PeerCredentials
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    busy: bool = False


class Server:
    """Serves one listening socket. ``serve`` runs until ``shutdown`` is called and the drain is done."""

    def __init__(self, sock: socket.socket, dispatcher: Dispatcher) -> None:
        self._listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        self.dispatcher = dispatcher
        self._connections: set[_Connection] = set()
        self._rates: OrderedDict[int, p.TokenBucket] = OrderedDict()
        self._stopping = trio.Event()
        self._idle_since = trio.current_time()
        self.requests_served = 0
        self.refused_peers = 0

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def idle_seconds(self) -> float:
        """How long no connection has been open (0 while any is)."""
        return 0.0 if self._connections else trio.current_time() - self._idle_since

    def shutdown(self) -> None:
        self._stopping.set()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._accept_loop, nursery)
            task_status.started()
            await self._stopping.wait()
            await self._listener.aclose()
            self.dispatcher.ready = False
            await self._drain()
            nursery.cancel_scope.cancel()

    async def _drain(self) -> None:
        for conn in list(self._connections):
            if not conn.busy:
                conn.scope.cancel()
        with trio.move_on_after(DRAIN_TIMEOUT_SECONDS):
            while any(c.busy for c in self._connections):
                await trio.sleep(0.01)
        for conn in list(self._connections):
            conn.scope.cancel()

    async def _accept_loop(self, nursery: trio.Nursery) -> None:
        while not self._stopping.is_set():
            try:
                stream = await self._listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except OSError as exc:
                if exc.errno in _CAPACITY_ERRNOS:
                    log.error(
                        "accept: %s; pausing %.1fs",
                        errno.errorcode.get(exc.errno or 0, "?"),
                        ACCEPT_CAPACITY_PAUSE_SECONDS,
                    )
                    await trio.sleep(ACCEPT_CAPACITY_PAUSE_SECONDS)
                    continue
                raise
            peer = peer_allowed(stream.socket)  # type: ignore[arg-type]
            if peer is None:
                self.refused_peers += 1
                log.warning("refused a connection from another user")
                await stream.aclose()
                continue
            if len(self._connections) >= p.MAX_CONNECTIONS:
                nursery.start_soon(self._refuse_busy, stream)
                continue
            conn = _Connection(stream, peer)
            self._connections.add(conn)
            nursery.start_soon(self._run_connection, conn)

    async def _refuse_busy(self, stream: trio.SocketStream) -> None:
        """Over the connection cap: say so (best effort, without reading) and close."""
        error = p.ProtocolError(p.ErrorCode.TOO_MANY_CONNECTIONS, "too many connections; retry shortly")
        with trio.move_on_after(1.0):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(p.error_frame(0, error))
        await stream.aclose()

    async def _run_connection(self, conn: _Connection) -> None:
        try:
            with conn.scope:
                await self._converse(conn)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the peer went away; nothing to tell it
        except Exception:
            # A bug in one connection must not take the daemon down: log (no payload) and close that connection.
            log.exception("connection handler failed; closing that connection")
        finally:
            self._connections.discard(conn)
            if not self._connections:
                self._idle_since = trio.current_time()
            with trio.CancelScope(shield=True):
                await conn.stream.aclose()

    async def _converse(self, conn: _Connection) -> None:
        state = p.ServerConnection()
        while True:
            with trio.move_on_after(p.IDLE_TIMEOUT_SECONDS) as idle:
                data = await conn.stream.receive_some(READ_CHUNK)
            if idle.cancelled_caught:
                await self._send(conn, p.error_frame(0, p.ProtocolError(p.ErrorCode.IDLE_TIMEOUT, "idle timeout")))
                return
            if not data:
                return
            state.receive_data(data)
            while True:
                try:
                    event = state.next_event()
                except p.ProtocolError as exc:
                    log.info("closing a connection: protocol error %s", exc.code.name)
                    await self._send(conn, p.error_frame(0, exc))
                    return
                if event is p.NEED_DATA:
                    break
                kind, message = event
                if kind == "hello":
                    await self._send(
                        conn, p.encode(p.Welcome(id=message.id, version=p.PROTOCOL_VERSION, server_version=_version()))
                    )
                    continue
                if not self._rate_ok(conn.peer):
                    error = p.ProtocolError(p.ErrorCode.RATE_LIMITED, "request rate limit exceeded")
                    await self._send(conn, p.error_frame(message.id, error))
                    return
                await self._handle(conn, message)

    async def _handle(self, conn: _Connection, message: p.Message) -> None:
        async def send_progress(event: dict[str, object]) -> None:
            await self._send(conn, p.encode(p.Progress(id=message.id, event=event)))

        conn.busy = True
        try:
            # A request in flight finishes even while the server drains (the drain waits for it).
            reply = await self.dispatcher.dispatch(message, CallContext(conn.peer, send_progress))
            self.requests_served += 1
            try:
                frame = p.encode(reply)
            except p.ProtocolError as exc:
                frame = p.error_frame(message.id, exc)
            await self._send(conn, frame)
        finally:
            conn.busy = False
        if isinstance(message, p.Stop):
            self.shutdown()

    async def _send(self, conn: _Connection, frame: bytes) -> None:
        with trio.move_on_after(SEND_TIMEOUT_SECONDS) as timeout:
            await conn.stream.send_all(frame)
        if timeout.cancelled_caught:
            raise trio.BrokenResourceError("peer did not read its reply in time")

    def _rate_ok(self, peer: PeerCredentials) -> bool:
        bucket = self._rates.get(peer.pid)
        if bucket is None:
            bucket = self._rates[peer.pid] = p.TokenBucket()
            if len(self._rates) > MAX_TRACKED_PEERS:
                self._rates.popitem(last=False)
        else:
            self._rates.move_to_end(peer.pid)
        return bucket.allow(trio.current_time())


def _version() -> str:
    from llmojid.daemon import VERSION

    return VERSION
