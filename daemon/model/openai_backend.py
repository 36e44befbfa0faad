"""The optional backend: an OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp's server) that a user already
runs with a bigger model. Only the `generation` method applies (scoring needs the model's logits in-process).

Trust boundary: the prompt holds sanitized journal samples, so by default it may go only to this machine: the base
URL must be a Unix socket (`unix:/path/to.sock`) or an http(s) URL whose host is loopback (an IP literal in
127.0.0.0/8 or ::1, or `localhost`, which must then resolve to loopback addresses only). Any other host needs an
explicit `allow_remote` (`--allow-remote`). Credentials in the URL are refused: an API key, if the endpoint needs
one, lives in the OS keyring (entry `backend-api-key` of llmojid's service; set it with
`keyring set llmojid backend-api-key`) and travels only in the Authorization header. It never appears in a log line,
an error or a cache key.

The answer is untrusted too: it is read up to `MAX_RESPONSE_BYTES`, must be exactly one lexicon bag (a JSON object,
optionally in a code fence), and passes `validate_bag`; anything else fails the cell. Error messages carry the
HTTP status or the rule broken, never the response body (it may echo a sample).

Resource handling: one HTTP connection per cell, opened and closed inside `call_sync`; `cancel` closes it from
another thread so a cancelled analyze does not wait for the endpoint.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from llmojid.common.lexicon import (
    PRIMARY_COUNT,
    PRIMARY_KEY,
    PRIMARY_WORDS,
    STANCE_COUNT,
    STANCE_KEY,
    STANCE_WORDS,
    Bag,
    LexiconError,
    validate_bag_json,
)

BACKEND_NAME: Final = "openai-compatible"
API_KEY_ENTRY: Final = "backend-api-key"
#: A bag is under 300 bytes; an endpoint's envelope adds a few hundred. Anything past this is not an answer.
MAX_RESPONSE_BYTES: Final = 256 * 1024
UNIX_API_PREFIX: Final = "/v1"
SYSTEM_PROMPT: Final = "You are a careful annotator. You describe the emotional tone of kaomoji."
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class BackendError(Exception):
    """The endpoint is refused, unreachable, or answered with an error. Names the endpoint, never data or keys."""


class RemoteRefused(BackendError):
    """The base URL names a non-loopback host and remote backends were not allowed."""


class BackendAnswerError(LexiconError):
    """The endpoint answered, but not with a valid lexicon bag."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A checked base URL. `display` is safe to show (no credentials; the user wrote it)."""

    scheme: str  # "http" | "https" | "unix"
    host: str
    port: int | None
    socket_path: str
    prefix: str
    display: str


def parse_endpoint(url: str, *, allow_remote: bool) -> Endpoint:
    """Check a base URL against the loopback rule (module docstring).

    Raises:
        BackendError: malformed, credentials in the URL, or an unsupported scheme.
        RemoteRefused: a non-loopback host without `allow_remote`.
    """
    url = url.strip()
    if url.startswith("unix:"):
        path = url[len("unix:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path.startswith("/"):
            raise BackendError("a unix: backend URL needs an absolute socket path (unix:/path/to.sock)")
        return Endpoint("unix", "localhost", None, path, UNIX_API_PREFIX, f"unix:{path}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BackendError("the backend URL must start with http://, https:// or unix:")
    if parts.username is not None or parts.password is not None:
        raise BackendError("the backend URL must not hold credentials; keep an API key in the keyring")
    if parts.query or parts.fragment:
        raise BackendError("the backend URL must not have a query or a fragment")
    host = parts.hostname or ""
    if not host:
        raise BackendError("the backend URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise BackendError("the backend URL has an invalid port") from None
    if not allow_remote and not _is_loopback_name(host):
        raise RemoteRefused(
            f"the backend host {host} is not this machine; journal samples go only to a loopback address or a "
            "Unix socket unless you pass --allow-remote"
        )
    display = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return Endpoint(parts.scheme, host, port, "", parts.path.rstrip("/"), display)


def _is_loopback_name(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() in _LOOPBACK_NAMES


def _loopback_address(host: str, port: int) -> str:
    """Resolve a loopback *name* and insist every address is loopback (a hosts file could say otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise BackendError(f"cannot resolve the backend host {host}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise RemoteRefused(f"the backend host {host} does not resolve to loopback addresses only")
    return addresses[0]


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix stream socket (what `unix:` base URLs use)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def response_schema() -> dict[str, Any]:
    """The JSON schema of a bag (for `response_format`); the answer is validated after the call regardless."""

    def words(choices: tuple[str, ...], bounds: tuple[int, int]) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {"type": "string", "enum": list(choices)},
            "minItems": bounds[0],
            "maxItems": bounds[1],
            "uniqueItems": True,
        }

    return {
        "type": "object",
        "properties": {
            PRIMARY_KEY: words(PRIMARY_WORDS, PRIMARY_COUNT),
            STANCE_KEY: words(STANCE_WORDS, STANCE_COUNT),
        },
        "required": [PRIMARY_KEY, STANCE_KEY],
        "additionalProperties": False,
    }


def parse_answer(content: str) -> Bag:
    """One bag from a chat answer: the JSON object alone, or inside one ``` fence. Nothing is repaired.

    Raises:
        BackendAnswerError: anything else (the message names the rule, never the text).
    """
    text = content.strip()
    if text.startswith("```"):
        text = text.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return validate_bag_json(text)
    except LexiconError as exc:
        raise BackendAnswerError(f"the backend's answer is not a valid bag ({exc})") from None


class _Envelope(msgspec.Struct):
    choices: list[_Choice]


class _Choice(msgspec.Struct):
    message: _ChatMessage


class _ChatMessage(msgspec.Struct):
    content: str | None = None


@dataclass
class OpenAICompatClient:
    """Chat completions against one endpoint. `call_sync` blocks; `cancel` may be called from another thread."""

    endpoint: Endpoint
    model: str
    api_key: str | None = field(default=None, repr=False)
    _active: set[http.client.HTTPConnection] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    calls: int = 0

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        ep = self.endpoint
        if ep.scheme == "unix":
            return _UnixHTTPConnection(ep.socket_path, timeout)
        port = ep.port or (443 if ep.scheme == "https" else 80)
        host = ep.host
        if not _is_ip(host) and _is_loopback_name(host):
            host = _loopback_address(host, port)  # a loopback *name* must resolve to loopback only
        if ep.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def cancel(self) -> None:
        """Close every connection in flight (their threads then fail fast with a socket error)."""
        with self._lock:
            for conn in list(self._active):
                conn.close()

    def _post(self, body: dict[str, Any], deadline: float) -> tuple[int, bytes]:
        timeout = max(0.05, deadline - time.monotonic())
        conn = self._connection(timeout)
        with self._lock:
            self._active.add(conn)
        try:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            conn.request("POST", f"{self.endpoint.prefix}/chat/completions", msgspec.json.encode(body), headers)
            response = conn.getresponse()
            data = response.read(MAX_RESPONSE_BYTES + 1)
            return response.status, data
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError("backend call deadline exceeded") from None
            raise BackendError(
                f"the backend at {self.endpoint.display} is unreachable ({type(exc).__name__})"
            ) from None
        finally:
            with self._lock:
                self._active.discard(conn)
            conn.close()

    def call_sync(self, prompt: str, *, deadline_s: float, max_tokens: int) -> Bag:
        """One chat completion for one cell, validated.

        Raises:
            BackendError: unreachable, or an HTTP error status.
            BackendAnswerError: the answer is not a valid bag.
            TimeoutError: the deadline passed.
        """
        deadline = time.monotonic() + deadline_s
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0,
            "max_tokens": max_tokens,
            "stream": False,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "lexicon_bag", "strict": True, "schema": response_schema()},
            },
        }
        self.calls += 1
        status, data = self._post(body, deadline)
        if status in (400, 422):
            # Servers without structured output reject response_format; the answer is validated either way.
            del body["response_format"]
            status, data = self._post(body, deadline)
        if status in (401, 403):
            raise BackendError(f"the backend at {self.endpoint.display} refused the credentials (HTTP {status})")
        if status != 200:
            raise BackendError(f"the backend at {self.endpoint.display} answered HTTP {status}")
        if len(data) > MAX_RESPONSE_BYTES:
            raise BackendAnswerError("the backend's answer is larger than any bag")
        try:
            envelope = msgspec.json.decode(data, type=_Envelope)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise BackendAnswerError("the backend's answer is not a chat completion") from None
        if not envelope.choices or envelope.choices[0].message.content is None:
            raise BackendAnswerError("the backend's answer holds no message")
        return parse_answer(envelope.choices[0].message.content)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
