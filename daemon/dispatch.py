"""Dispatch: one table from request type to handler, gated by the daemon's state.

The routing is pure (``Dispatcher.route``) and tested without sockets. Handlers are async functions that
components contribute; an unknown type or name gets a typed UNKNOWN_REQUEST error, and while the store is not
ready only the requests in ``ALWAYS_SERVED`` are served.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from llmojid.client import protocol as p
from llmojid.daemon.security import PeerCredentials

log = logging.getLogger("llmojid.dispatch")


@dataclass
class CallContext:
    """What a handler knows about its caller, and how it streams progress on the caller's connection."""

    peer: PeerCredentials
    send_progress: Callable[[dict[str, object]], Awaitable[None]]


Handler = Callable[[Any, CallContext], Awaitable[p.Message]]

#: Served even while the daemon is starting or draining: they touch no store.
ALWAYS_SERVED: frozenset[type[p.Message]] = frozenset({p.Status, p.Stop})


class DispatchError(Exception):
    """A handler's typed failure: becomes an Error reply with this code. The message must hold no data."""

    def __init__(self, code: p.ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Dispatcher:
    by_type: dict[type[p.Message], Handler] = field(default_factory=dict)
    by_name: dict[str, Handler] = field(default_factory=dict)
    ready: bool = False

    def add(self, message_type: type[p.Message], handler: Handler) -> None:
        if message_type in self.by_type:
            raise ValueError(f"two handlers for {message_type.__name__}")
        self.by_type[message_type] = handler

    def add_named(self, name: str, handler: Handler) -> None:
        if name in self.by_name:
            raise ValueError(f"two handlers for request {name!r}")
        self.by_name[name] = handler

    def route(self, message: p.Message) -> Handler:
        """The handler for ``message``, or DispatchError. Pure."""
        if not self.ready and type(message) not in ALWAYS_SERVED:
            raise DispatchError(p.ErrorCode.NOT_READY, "the daemon is not ready (starting or shutting down)")
        if isinstance(message, p.Request):
            named = self.by_name.get(message.name)
            if named is None:
                raise DispatchError(p.ErrorCode.UNKNOWN_REQUEST, "unknown request name")
            return named
        handler = self.by_type.get(type(message))
        if handler is None:
            raise DispatchError(p.ErrorCode.UNKNOWN_REQUEST, f"no handler for {type(message).__name__}")
        return handler

    async def dispatch(self, message: p.Message, ctx: CallContext) -> p.Message:
        """Route and run; every failure becomes an Error reply (an unexpected one is logged as a bug)."""
        try:
            reply = await self.route(message)(message, ctx)
        except DispatchError as exc:
            return p.Error(id=message.id, code=int(exc.code), message=exc.message)
        except msgspec.ValidationError as exc:
            return p.Error(id=message.id, code=int(p.ErrorCode.INVALID_ARGUMENT), message=p._path_only(str(exc)))
        except Exception as exc:
            code, text = error_reply_for(exc)
            if code is p.ErrorCode.INTERNAL:
                log.exception("handler for %s failed", type(message).__name__)
            elif code is p.ErrorCode.KEYRING:
                # The reply sends the user to this log: say here what failed and how to fix it. A keyring error's
                # text holds no secret (keys.py), and it names no journal data.
                log.error("handler for %s failed: %s", type(message).__name__, exc)
            return p.Error(id=message.id, code=int(code), message=text)
        reply.id = message.id
        return reply


def error_reply_for(exc: BaseException) -> tuple[p.ErrorCode, str]:
    """Map a component's exception to a code and a message that holds no data."""
    from llmojid.daemon.keys import KeyringUnavailableError
    from llmojid.daemon.store import StorageError, StorageFullError

    if isinstance(exc, StorageFullError):
        return p.ErrorCode.STORAGE_FULL, str(exc)
    if isinstance(exc, StorageError):
        return p.ErrorCode.STORAGE, str(exc)
    if isinstance(exc, KeyringUnavailableError):
        return p.ErrorCode.KEYRING, "the OS keyring is unavailable; see the daemon log for how to fix it"
    return p.ErrorCode.INTERNAL, f"internal error ({type(exc).__name__}); see the daemon log"


def args_as(struct_type: type[Any], message: p.Request) -> Any:
    """Validate a named request's arguments against the handler's Struct (wrong types: INVALID_ARGUMENT)."""
    return msgspec.convert(message.args, struct_type)
