"""Loopback stand-ins for remote model APIs (the real ones cannot be reached from here; named as such).

One handler base for all of them: the harness APIs the real Claude Code and Codex CLIs talk to, and the
OpenAI-compatible chat-completions endpoint llmojid's optional synthesis backend talks to (over TCP loopback or a
Unix socket).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class StandInHandler(BaseHTTPRequestHandler):
    """Base of the stand-ins: quiet, and with the few ways they read requests and answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def read_json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.read_body() or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def send(self, content_type: str, data: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, events: list[dict[str, Any]]) -> None:
        stream = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
        self.send("text/event-stream", stream)

    def send_chat_completion(self, content: str, status: int = 200) -> None:
        """An OpenAI-compatible chat-completions answer whose assistant message is ``content``."""
        body = {"choices": [{"message": {"role": "assistant", "content": content}}]}
        self.send("application/json", json.dumps(body).encode(), status)

    def send_chat_completion_stream(
        self, content: str, model: str, tool_call: tuple[str, dict[str, Any]] | None = None
    ) -> None:
        """An OpenAI-compatible streamed chat completion (``data:`` lines, then ``[DONE]``) saying ``content`` in
        two deltas, the way the API streams (OpenCode's ``@ai-sdk/openai-compatible`` provider reads this), then
        optionally calling one tool (name, arguments), its arguments streamed in two pieces too."""
        head = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1, "model": model}
        half = len(content) // 2
        deltas: list[dict[str, Any]] = [
            {"role": "assistant", "content": ""},
            {"content": content[:half]},
            {"content": content[half:]},
        ]
        if tool_call is not None:
            name, arguments = tool_call
            raw = json.dumps(arguments)
            call = {"index": 0, "id": "call_standin", "type": "function", "function": {"name": name, "arguments": ""}}
            deltas.append({"tool_calls": [call]})
            for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        chunks = [head | {"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
        usage = {"prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22}
        finish = "tool_calls" if tool_call is not None else "stop"
        chunks.append(head | {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage})
        stream = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
        self.send("text/event-stream", stream)


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """HTTP over a Unix socket (http.server assumes an (address, port) peer: give it one)."""

    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        request, _ = super().get_request()
        return request, ("local", 0)


@contextlib.contextmanager
def serve_stand_in(handler: type[StandInHandler], unix_path: Path | None = None) -> Iterator[str]:
    """Serve ``handler`` on an ephemeral loopback port (base URL ``http://127.0.0.1:PORT``) or on a Unix socket
    (``unix:PATH``); yields the address."""
    server: socketserver.BaseServer
    if unix_path is None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        address = f"http://127.0.0.1:{server.server_address[1]}"
    else:
        server = UnixHTTPServer(str(unix_path), handler)
        address = f"unix:{unix_path}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield address
    finally:
        server.shutdown()
        server.server_close()
