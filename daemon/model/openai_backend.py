"""The optional backend: an OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp's server) that a user already
runs with a bigger model. Only the `generation` method applies (scoring needs the model's logits in-process).

Trust boundary: the prompt holds sanitized journal samples, so by default it may go only to this machine: the base
URL must be a Unix socket (`unix:/path/to.sock`) or an http(s) URL whose host is loopback (an IP literal in
127.0.0.0/8 or ::1, or `localhost`, which must then resolve to loopback addresses only). Any other host needs an
explicit `allow_remote` (`--allow-remote`). Credentials in the URL are refused: an API key, if the endpoint needs
one, lives in the OS keyring (entry `backend-api-key` of llmojid's service; set it with
`keyring set llmojid backend-api-key`) and travels only in the Authorization header. It never appears in a log line,
an error or a cache key.

Loopback is not "this user": any local user can listen on 127.0.0.1:11434 while Ollama is down, or own the socket
path. So, once connected and before a byte is sent (`_check_owner`): a `unix:` peer must have our uid
(SO_PEERCRED / getpeereid); a loopback TCP peer must be a socket our uid owns (on Linux, the uid that
/proc/net/tcp and tcp6 give for the listening socket and for the server end of our connection; elsewhere there is
no such check, so a loopback TCP backend is refused with a pointer to `unix:`). An API key never goes over plain
http:// to another host. HTTPS to a loopback *name* connects to its checked address but verifies the
certificate for the name. One deadline covers a whole call, however slowly the server sends: a watchdog shuts
the connection down when it passes.

The answer is untrusted too: it is read up to `MAX_RESPONSE_BYTES`, must be exactly one lexicon bag (a JSON object,
optionally in a code fence), and passes `validate_bag`; anything else fails the cell. Error messages carry the
HTTP status or the rule broken, never the response body (it may echo a sample).

Resource handling: one HTTP connection per cell, opened and closed inside `call_sync`; `cancel` (and the deadline's
watchdog, a timer thread per request) shuts it down from another thread so a cancelled analyze does not wait for
the endpoint.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import ipaddress
import os
import socket
import ssl
import sys
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
from llmojid.daemon.security import peer_credentials

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


class BackendNotOurs(BackendError):
    """The endpoint on this machine is served by another user, or who serves it cannot be checked here."""


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


_PROC_NET_TCP: Final = ("/proc/net/tcp", "/proc/net/tcp6")
_TCP_LISTEN: Final = "0A"
_TCP_ESTABLISHED: Final = "01"


def _proc_address(field: str) -> tuple[str, int]:
    """``0100007F:2B67`` (IPv4) or 32 hex digits + port (IPv6), as the kernel prints them: each 32-bit word of the
    address in host byte order, the port in hex."""
    hex_ip, hex_port = field.split(":")
    raw = bytes.fromhex(hex_ip)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), int(hex_port, 16)


def _same_host(a: str, b: str) -> bool:
    """Two textual addresses that name one host (``::ffff:127.0.0.1`` is ``127.0.0.1``)."""

    def norm(x: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        ip = ipaddress.ip_address(x.split("%")[0])
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        return mapped or ip

    return norm(a) == norm(b)


def tcp_server_owners(local: tuple[str, int], remote: tuple[str, int]) -> set[int]:
    """The uids owning the server side of a loopback TCP connection from ``local`` to ``remote``: the listening
    socket(s) that could have accepted it and the server end of the connection itself (Linux ``/proc/net``).

    Raises:
        BackendNotOurs: no ``/proc/net/tcp`` here (not Linux), or nothing in it matches the connection.
    """
    owners: set[int] = set()
    seen_table = False
    for table in _PROC_NET_TCP:
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        seen_table = True
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            (lhost, lport), (rhost, rport), state = _proc_address(fields[1]), _proc_address(fields[2]), fields[3]
            uid = int(fields[7])
            if state == _TCP_LISTEN and lport == remote[1]:
                if ipaddress.ip_address(lhost).is_unspecified or _same_host(lhost, remote[0]):
                    owners.add(uid)
            elif (
                state == _TCP_ESTABLISHED
                and (lport, rport) == (remote[1], local[1])
                and _same_host(lhost, remote[0])
                and _same_host(rhost, local[0])
            ):
                owners.add(uid)
    if not seen_table:
        raise BackendNotOurs(
            "on this system llmojid cannot check who serves a TCP port on this machine; serve the backend on a "
            "Unix socket and pass --backend-url unix:/path/to.sock"
        )
    if not owners:
        raise BackendNotOurs("cannot find the socket that serves the backend's port, so not who owns it")
    return owners


def _check_owner(sock: socket.socket, display: str) -> None:
    """Refuse a server on this machine that another user runs (module docstring). Before any byte is sent."""
    me = os.getuid()
    if sock.family == socket.AF_UNIX:
        uid = peer_credentials(sock).uid
        if uid != me:
            raise BackendNotOurs(
                f"the backend at {display} is served by another user (uid {uid}); llmojid sends samples and the API "
                "key only to a server you run"
            )
        return
    local, remote = sock.getsockname()[:2], sock.getpeername()[:2]
    others = sorted(tcp_server_owners(local, remote) - {me})
    if others:
        raise BackendNotOurs(
            f"the backend at {display} listens on a socket of another user (uid {others[0]}); llmojid sends samples "
            "and the API key only to a server you run (or serve it on a Unix socket: --backend-url unix:/path)"
        )


class _CheckedConnection(http.client.HTTPConnection):
    """HTTP(S) to one endpoint: connects to a checked address, checks who serves it, then (HTTPS) verifies the
    certificate for the *name* the user wrote. ``Host`` stays that name too."""

    def __init__(
        self, endpoint: Endpoint, address: str, port: int | None, timeout: float, *, owner_check: bool
    ) -> None:
        super().__init__(endpoint.host, port, timeout=timeout)
        self._endpoint = endpoint
        self._address = address
        self._owner_check = owner_check
        self._tls = ssl.create_default_context() if endpoint.scheme == "https" else None

    def connect(self) -> None:
        sock: socket.socket
        if self._endpoint.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self._endpoint.socket_path)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self._address, self.port), self.timeout)  # port set for TCP
        try:
            if self._owner_check:
                _check_owner(sock, self._endpoint.display)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._endpoint.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _abort(conn: http.client.HTTPConnection) -> None:
    """Stop a connection from another thread: shutdown wakes a blocked read (close alone does not)."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    conn.close()


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
            return _CheckedConnection(ep, "", None, timeout, owner_check=True)  # Host: localhost
        port = ep.port or (443 if ep.scheme == "https" else 80)
        address = ep.host.strip("[]")
        local = _is_loopback_name(ep.host)
        if local and not _is_ip(address):
            address = _loopback_address(address, port)  # a loopback *name* must resolve to loopback only
        return _CheckedConnection(ep, address, port, timeout, owner_check=local)

    def check_transport(self) -> None:
        """Refuse to send an API key in the clear to another host.

        Raises:
            RemoteRefused: a key is set and the endpoint is plain http:// to a non-loopback host.
        """
        ep = self.endpoint
        if self.api_key and ep.scheme == "http" and not _is_loopback_name(ep.host):
            raise RemoteRefused(
                f"an API key is set, and the backend at {ep.display} is plain http:// to another host: the key would "
                "cross the network in the clear; use https://"
            )

    def cancel(self) -> None:
        """Shut down every connection in flight (their threads then fail fast with a socket error)."""
        with self._lock:
            for conn in list(self._active):
                _abort(conn)

    def _post(self, body: dict[str, Any], deadline: float) -> tuple[int, bytes]:
        timeout = max(0.05, deadline - time.monotonic())
        conn = self._connection(timeout)
        with self._lock:
            self._active.add(conn)
        # The socket timeout bounds each wait; this bounds the call, however slowly the bytes trickle in.
        watchdog = threading.Timer(timeout, _abort, (conn,))
        watchdog.daemon = True
        watchdog.start()
        try:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            conn.request("POST", f"{self.endpoint.prefix}/chat/completions", msgspec.json.encode(body), headers)
            response = conn.getresponse()
            data = response.read(MAX_RESPONSE_BYTES + 1)
            if time.monotonic() >= deadline:  # the watchdog may have cut the body short
                raise TimeoutError("backend call deadline exceeded")
            return response.status, data
        except ssl.SSLCertVerificationError:
            raise BackendError(
                f"the backend at {self.endpoint.display} presented a certificate that is not valid for "
                f"{self.endpoint.host}"
            ) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
                raise TimeoutError("backend call deadline exceeded") from None
            if isinstance(exc, OSError) and exc.errno in (errno.EAFNOSUPPORT, errno.EPERM, errno.EACCES):
                raise BackendError(
                    f"this daemon may not open a connection to {self.endpoint.display} ({errno.errorcode[exc.errno]}):"
                    " its service unit allows Unix sockets only unless config.toml names a TCP backend; set "
                    "synthesis_backend_url there and run `llmojid-ctl service install` again, or serve the "
                    "backend on a Unix socket"
                ) from None
            raise BackendError(
                f"the backend at {self.endpoint.display} is unreachable ({type(exc).__name__})"
            ) from None
        finally:
            watchdog.cancel()
            with self._lock:
                self._active.discard(conn)
            conn.close()

    def call_sync(self, prompt: str, *, deadline_s: float, max_tokens: int) -> Bag:
        """One chat completion for one cell, validated.

        Raises:
            BackendError: unreachable, an HTTP error status, served by another user (BackendNotOurs), an API key
                that would go in the clear (RemoteRefused), a certificate not valid for the host name.
            BackendAnswerError: the answer is not a valid bag.
            TimeoutError: the deadline passed.
        """
        self.check_transport()
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
