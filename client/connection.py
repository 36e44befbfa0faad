"""A blocking client for the daemon's socket, for the CLI (the hook has its own, stdlib-only, in hook.py).

Failures fall into the kinds the CLI's exit codes name: DaemonUnreachable (exit 3: nothing answers, with how to
start it; DaemonImpostor, a kind of it: what holds the socket path is not ours, and nothing was sent), DaemonError
(exit 1: the daemon answered with a typed error), and ProtocolError from the pure core.

Before the first byte, ``llmojid.common.socket_trust`` checks the socket's directory and the listener's uid.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from llmojid.client import protocol as p
from llmojid.common import socket_trust

#: How long the CLI waits for a reply by default. Long jobs pass their own (analyze streams progress).
DEFAULT_TIMEOUT_SECONDS = 30.0


class DaemonUnreachable(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"the llmojid daemon is not reachable at {path} ({reason}). Start it with `llmojid serve` "
            "(or `llmojid-ctl service install` to have it started on demand)"
        )
        self.path = path


class DaemonImpostor(DaemonUnreachable):
    """The socket path is held by someone else (its directory or its listener is not ours): nothing was sent.

    A kind of "unreachable" (exit 3, the hook spools, ``wrap`` records nothing), with its own message: the path, the
    owner found and what to do.
    """

    def __init__(self, refusal: socket_trust.NotOurDaemon) -> None:
        Exception.__init__(self, str(refusal))
        self.path = refusal.path
        self.owner_uid = refusal.owner_uid


class DaemonError(Exception):
    def __init__(self, code: int, message: str) -> None:
        try:
            name = p.ErrorCode(code).name
        except ValueError:
            name = f"code {code}"
        super().__init__(f"{name}: {message}")
        self.code = code
        self.message = message


class Client:
    """One connection to the daemon. Use as a context manager; ``request`` sends one request and waits."""

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT_SECONDS, client_name: str = "llmojid-ctl"):
        self.path = Path(path)  # callers pass str too
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._decoder = p.FrameDecoder()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            # The directory and the listener's uid are checked before the first byte (socket_trust).
            socket_trust.connect_verified(self._sock, path)
        except socket_trust.NotOurDaemon as exc:
            self._sock.close()
            raise DaemonImpostor(exc) from None
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            self._sock.close()
            raise DaemonUnreachable(path, exc.strerror or type(exc).__name__) from None
        except PermissionError:
            self._sock.close()
            raise DaemonUnreachable(path, "permission denied: is it another user's socket?") from None
        except OSError as exc:
            self._sock.close()
            raise DaemonUnreachable(path, exc.strerror or type(exc).__name__) from None
        reply = self._exchange(p.Hello(version=p.PROTOCOL_VERSION, client=client_name))
        if not isinstance(reply, p.Welcome):
            self.close()
            raise DaemonError(int(p.ErrorCode.BAD_MESSAGE), "the daemon did not welcome us")
        self.server_version = reply.server_version

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def request(
        self, message: p.Message, on_progress: Callable[[dict[str, object]], None] | None = None
    ) -> p.ServerMessage:
        """Send ``message``; return its reply. Progress messages go to ``on_progress``. Raises DaemonError."""
        return self._exchange(message, on_progress)

    def _exchange(
        self, message: p.Message, on_progress: Callable[[dict[str, object]], None] | None = None
    ) -> p.ServerMessage:
        message.id = next(self._ids)
        try:
            self._sock.sendall(p.encode(message))
            while True:
                reply = self._read_message()
                if isinstance(reply, p.Progress) and reply.id == message.id:
                    if on_progress is not None:
                        on_progress(reply.event)
                    continue
                if isinstance(reply, p.Error):
                    raise DaemonError(reply.code, reply.message)
                return reply
        except TimeoutError:
            raise DaemonError(int(p.ErrorCode.INTERNAL), f"no reply within {self.timeout:.0f}s") from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise DaemonUnreachable(self.path, f"connection lost: {exc.strerror}") from None

    def _read_message(self) -> p.ServerMessage:
        while True:
            body = self._decoder.next_frame()
            if body is not p.NEED_DATA:
                assert isinstance(body, bytes)
                return p.decode_server_message(body)
            chunk = self._sock.recv(max(self._decoder.bytes_wanted(), 65_536))
            if not chunk:
                raise DaemonUnreachable(self.path, "the daemon closed the connection")
            self._decoder.feed(chunk)
