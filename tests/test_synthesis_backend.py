"""The optional OpenAI-compatible backend: loopback rule, answer validation, API key handling.

The endpoint is a stand-in chat-completions server in this process (a real HTTP server on loopback or a Unix
socket, answering what each test tells it to): no real Ollama/vLLM can run here.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmojid.daemon.model import openai_backend as ob
from tests.stand_ins import StandInHandler, serve_stand_in

GOOD = {"primary_affect": ["sad", "weary"], "stance_modality_function": ["apologetic", "serious", "cautious"]}


class StandIn:
    """Answers POST /v1/chat/completions with `reply(body) -> (status, content)`; records what it received."""

    def __init__(self, reply: Callable[[dict[str, Any]], tuple[int, str]]) -> None:
        self.reply = reply
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []


def _handler(stand_in: StandIn) -> type[StandInHandler]:
    class Handler(StandInHandler):
        def do_POST(self) -> None:
            body = json.loads(self.read_body())
            stand_in.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status, content = stand_in.reply(body)
            self.send_chat_completion(content, status)

    return Handler


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[str, StandIn]]]:
    with contextlib.ExitStack() as servers:

        def start(reply: Callable[[dict[str, Any]], tuple[int, str]], *, unix: bool = False) -> tuple[str, StandIn]:
            stand_in = StandIn(reply)
            if unix:
                path = Path(tempfile.mkdtemp(prefix="lj-oa-", dir="/tmp")) / "s.sock"
                return servers.enter_context(serve_stand_in(_handler(stand_in), path)), stand_in
            return servers.enter_context(serve_stand_in(_handler(stand_in))) + "/v1", stand_in

        yield start


def client(url: str, key: str | None = None) -> ob.OpenAICompatClient:
    return ob.OpenAICompatClient(ob.parse_endpoint(url, allow_remote=False), "stand-in-model", api_key=key)


# --- the loopback rule ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:11434/v1", "http://[::1]:8080/v1", "http://localhost:8000/v1", "unix:/run/llm.sock"]
)
def test_loopback_and_unix_endpoints_are_accepted(url: str) -> None:
    assert ob.parse_endpoint(url, allow_remote=False).display


@pytest.mark.parametrize("url", ["http://example.com/v1", "https://10.0.0.5/v1", "http://192.168.1.2:11434/v1"])
def test_remote_hosts_need_the_explicit_flag(url: str) -> None:
    with pytest.raises(ob.RemoteRefused, match="--allow-remote"):
        ob.parse_endpoint(url, allow_remote=False)
    assert ob.parse_endpoint(url, allow_remote=True).host


@pytest.mark.parametrize(
    "url",
    ["http://user:pw@127.0.0.1/v1", "ftp://127.0.0.1/", "unix:relative.sock", "http://127.0.0.1/v1?x=1", "http:///v1"],
)
def test_malformed_endpoints_are_refused(url: str) -> None:
    with pytest.raises(ob.BackendError) as info:
        ob.parse_endpoint(url, allow_remote=True)
    assert "pw" not in str(info.value)


# --- calls ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("unix", [False, True])
def test_a_valid_answer_becomes_a_bag(serve: Callable[..., tuple[str, StandIn]], unix: bool) -> None:
    url, stand_in = serve(lambda body: (200, json.dumps(GOOD)), unix=unix)
    bag = client(url).call_sync("PROMPT", deadline_s=10, max_tokens=64)
    assert bag.to_dict() == GOOD
    headers, body = stand_in.requests[0]
    assert body["messages"][-1]["content"] == "PROMPT"
    assert body["response_format"]["json_schema"]["schema"]["additionalProperties"] is False
    assert "authorization" not in headers


def test_a_fenced_answer_is_accepted(serve: Callable[..., tuple[str, StandIn]]) -> None:
    url, _ = serve(lambda body: (200, "```json\n" + json.dumps(GOOD) + "\n```"))
    assert client(url).call_sync("P", deadline_s=10, max_tokens=64).to_dict() == GOOD


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({**GOOD, "notes": "CANARYNOTES123"}),
        json.dumps({"primary_affect": ["CANARYWORD123"], "stance_modality_function": ["wry", "eager", "proud"]}),
        "Sure! Here is the answer: " + json.dumps(GOOD),
        "CANARYPROSE123",
        json.dumps({"primary_affect": ["sad", "sad"], "stance_modality_function": ["wry", "eager", "proud"]}),
    ],
)
def test_anything_but_a_bag_fails_the_cell_without_echoing(
    serve: Callable[..., tuple[str, StandIn]], content: str
) -> None:
    url, _ = serve(lambda body: (200, content))
    with pytest.raises(ob.BackendAnswerError) as info:
        client(url).call_sync("P", deadline_s=10, max_tokens=64)
    assert "CANARY" not in str(info.value)


def test_servers_without_structured_output_get_a_plain_retry(serve: Callable[..., tuple[str, StandIn]]) -> None:
    url, stand_in = serve(lambda body: (400, "") if "response_format" in body else (200, json.dumps(GOOD)))
    assert client(url).call_sync("P", deadline_s=10, max_tokens=64).to_dict() == GOOD
    assert len(stand_in.requests) == 2 and "response_format" not in stand_in.requests[1][1]


def test_the_api_key_goes_only_into_the_header(serve: Callable[..., tuple[str, StandIn]]) -> None:
    key = "sk-CANARYKEY0123456789abcdef"
    url, stand_in = serve(lambda body: (401, ""))
    with pytest.raises(ob.BackendError) as info:
        client(url, key).call_sync("P", deadline_s=10, max_tokens=64)
    assert stand_in.requests[0][0]["authorization"] == f"Bearer {key}"
    assert key not in str(info.value) and "401" in str(info.value)
    assert key not in repr(client(url, key))


def test_an_unreachable_endpoint_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ob.BackendError, match="unreachable"):
        client(f"http://127.0.0.1:{port}/v1").call_sync("P", deadline_s=5, max_tokens=64)


# --- through the daemon ---------------------------------------------------------------------------------------------
def test_analyze_through_a_loopback_backend(serve: Callable[..., tuple[str, StandIn]], daemon: Any) -> None:
    """`analyze --backend-url` sends sanitized samples to the endpoint, with the keyring's API key, and caches."""
    import keyring

    from llmojid.client import protocol as p
    from llmojid.client.connection import Client

    key = "sk-CANARYKEYDAEMON0123456789"
    keyring.set_password(daemon.env["LLMOJID_KEYRING_SERVICE"], ob.API_KEY_ENTRY, key)
    row = p.JournalRow(
        ts="2026-11-01T10:00:00Z", model="m", harness="claude-code", session="s", message_id="1",
        kaomoji="(╥﹏╥)", user_text="mail me at jane.doe@example.com", assistant_text="Sorry, I broke it.",
    )  # fmt: skip
    with Client(daemon.socket_path) as client:
        client.request(p.SubmitRows(rows=[row]))
    url, stand_in = serve(lambda body: (200, json.dumps(GOOD)))
    args = ("analyze", "--json", "--backend-url", url, "--backend-model", "stand-in-model")
    lines = daemon.ctl_json_lines(*args)
    assert lines[0]["synthesis"] == GOOD and lines[-1]["backend"] == "openai-compatible"
    assert lines[-1]["method"] == "generation" and lines[-1]["model"] == "stand-in-model"
    headers, body = stand_in.requests[0]
    assert headers["authorization"] == f"Bearer {key}"
    sent = body["messages"][-1]["content"]
    assert "[FACE] Sorry, I broke it." in sent and "jane.doe@example.com" not in sent
    assert daemon.ctl_json_lines(*args)[-1]["cached"] == 1 and len(stand_in.requests) == 1
    assert key not in daemon.log()

    refused = daemon.ctl("analyze", "--backend-url", "http://example.com/v1", "--backend-model", "x", check=False)
    assert refused.returncode == 1 and b"--allow-remote" in refused.stderr
    scoring = daemon.ctl("analyze", "--method", "scoring", "--backend-url", url, "--backend-model", "x", check=False)
    assert scoring.returncode == 1 and b"generation" in scoring.stderr
