"""Dispatch, pure: routing by type and by name, readiness gating, error mapping. No sockets."""

from __future__ import annotations

import msgspec
import pytest

from llmojid.client import protocol as p
from llmojid.daemon.dispatch import CallContext, Dispatcher, DispatchError, args_as
from llmojid.daemon.security import PeerCredentials
from llmojid.daemon.store import StorageFullError


async def _no_progress(_event: dict[str, object]) -> None:
    return None


CTX = CallContext(peer=PeerCredentials(uid=0, pid=1), send_progress=_no_progress)


async def status(_msg: p.Status, _ctx: CallContext) -> p.Message:
    return p.Ok()


class EchoArgs(msgspec.Struct, forbid_unknown_fields=True):
    n: int


async def echo(msg: p.Request, _ctx: CallContext) -> p.Message:
    return p.Result(value=args_as(EchoArgs, msg).n)


async def fails_full(_msg: p.Message, _ctx: CallContext) -> p.Message:
    raise StorageFullError("the disk holding the store is full")


async def fails_bug(_msg: p.Message, _ctx: CallContext) -> p.Message:
    raise RuntimeError("secret-bearing detail CANARY-1")


def make() -> Dispatcher:
    d = Dispatcher()
    d.add(p.Status, status)
    d.add_named("echo", echo)
    d.add(p.Stop, fails_full)
    d.add_named("bug", fails_bug)
    return d


async def test_routes_by_type_and_name_and_echoes_request_id() -> None:
    d = make()
    d.ready = True
    assert isinstance(await d.dispatch(p.Status(id=7), CTX), p.Ok)
    reply = await d.dispatch(p.Request(name="echo", args={"n": 5}, id=8), CTX)
    assert isinstance(reply, p.Result) and reply.value == 5 and reply.id == 8


async def test_unknown_type_and_name_are_typed_errors() -> None:
    d = make()
    d.ready = True
    for msg in (p.QueryJournal(limit=1, id=3), p.Request(name="nope", args={}, id=4)):
        reply = await d.dispatch(msg, CTX)
        assert isinstance(reply, p.Error) and reply.code == p.ErrorCode.UNKNOWN_REQUEST and reply.id == msg.id


async def test_not_ready_serves_only_status_and_stop() -> None:
    d = make()
    assert isinstance(await d.dispatch(p.Status(), CTX), p.Ok)
    reply = await d.dispatch(p.Request(name="echo", args={"n": 1}), CTX)
    assert isinstance(reply, p.Error) and reply.code == p.ErrorCode.NOT_READY


async def test_wrong_argument_types_are_invalid_argument_without_the_value() -> None:
    d = make()
    d.ready = True
    reply = await d.dispatch(p.Request(name="echo", args={"n": "CANARY-2"}), CTX)
    assert isinstance(reply, p.Error) and reply.code == p.ErrorCode.INVALID_ARGUMENT
    assert "CANARY-2" not in reply.message


async def test_component_failures_map_to_stable_codes_and_hide_details() -> None:
    d = make()
    d.ready = True
    full = await d.dispatch(p.Stop(), CTX)
    assert isinstance(full, p.Error) and full.code == p.ErrorCode.STORAGE_FULL
    bug = await d.dispatch(p.Request(name="bug", args={}), CTX)
    assert isinstance(bug, p.Error) and bug.code == p.ErrorCode.INTERNAL and "CANARY-1" not in bug.message


def test_duplicate_handlers_are_refused() -> None:
    d = make()
    with pytest.raises(ValueError):
        d.add(p.Status, status)
    with pytest.raises(ValueError):
        d.add_named("echo", echo)


def test_route_is_pure_and_raises_dispatch_error() -> None:
    d = make()
    d.ready = True
    assert d.route(p.Status()) is status
    with pytest.raises(DispatchError):
        d.route(p.Keystrokes(source="x", events=[]))
