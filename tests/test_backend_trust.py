"""The OpenAI-compatible backend proves who it is (issue 15, item 5).

Loopback is not "this user": a server of another uid on 127.0.0.1 or on the `unix:` path is refused before a byte
is sent; an API key never crosses the network over plain http; one deadline covers a whole call however slowly
the server trickles; HTTPS to `localhost` verifies the certificate for that name; `service install` lets the unit
open inet sockets only when config.toml names a TCP backend.

The other user is real: a stand-in server run as `nobody` with `setpriv` (as tests/test_daemon.py does for a
foreign client). The servers are stand-ins for Ollama/vLLM/llama.cpp's server, which cannot run here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from llmojid.client.commands import service
from llmojid.daemon.model import openai_backend as ob
from tests.stand_ins import StandInHandler, serve_stand_in
from tests.support import LLMOJID_CTL
from tests.test_service import unit_settings

GOOD = {"primary_affect": ["sad", "weary"], "stance_modality_function": ["apologetic", "serious", "cautious"]}
KEY = "sk-CANARYBACKENDKEY0123456789"
NOBODY = 65534

#: A chat-completions stand-in for the system Python, run as another user: prints its address, then one line per
#: request it receives (so the test can tell that nothing reached it).
FOREIGN_SERVER = r"""
import json, os, socket, socketserver, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        print("GOT", self.headers.get("authorization", "-"), flush=True)
        answer = {"choices": [{"message": {"content": sys.argv[2]}}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

class Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    def get_request(self):
        return self.socket.accept()[0], ("local", 0)

if sys.argv[1] == "tcp":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT", server.server_address[1], flush=True)
else:
    server = Unix(sys.argv[1], Handler)
    print("PATH", sys.argv[1], flush=True)
server.serve_forever()
"""


@contextlib.contextmanager
def foreign_server(where: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The stand-in as `nobody`; yields (its address line, the process)."""
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "/usr/bin/python3", "-I", "-c",
         FOREIGN_SERVER, where, json.dumps(GOOD)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first, proc.stderr.read() if proc.stderr else "the foreign stand-in did not start"
        yield first, proc
    finally:
        proc.terminate()
        proc.wait(10)


def received(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    proc.terminate()
    return proc.stdout.read()


def client(url: str, key: str | None = KEY, *, allow_remote: bool = False) -> ob.OpenAICompatClient:
    return ob.OpenAICompatClient(ob.parse_endpoint(url, allow_remote=allow_remote), "stand-in-model", api_key=key)


# --- another user on this machine ----------------------------------------------------------------------------------
def test_a_loopback_port_of_another_user_is_refused_before_anything_is_sent() -> None:
    with foreign_server("tcp") as (line, proc):
        port = int(line.split()[1])
        with pytest.raises(ob.BackendNotOurs, match=f"another user \\(uid {NOBODY}\\)") as info:
            client(f"http://127.0.0.1:{port}/v1").call_sync("PROMPT", deadline_s=10, max_tokens=64)
        with pytest.raises(ob.BackendNotOurs):
            client(f"http://localhost:{port}/v1").call_sync("PROMPT", deadline_s=10, max_tokens=64)
        assert KEY not in str(info.value)
        assert "GOT" not in received(proc)  # not the prompt, not the key: nothing


def test_a_unix_socket_of_another_user_is_refused_before_anything_is_sent() -> None:
    folder = Path(tempfile.mkdtemp(prefix="lj-foreign-", dir="/tmp"))
    try:
        os.chmod(folder, 0o777)  # noqa: S103 - the other user must be able to create its socket here
        path = folder / "llm.sock"
        with foreign_server(str(path)) as (_, proc):
            with pytest.raises(ob.BackendNotOurs, match=f"another user \\(uid {NOBODY}\\)"):
                client(f"unix:{path}").call_sync("PROMPT", deadline_s=10, max_tokens=64)
            assert "GOT" not in received(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_our_own_loopback_server_is_trusted_and_the_owner_read_from_proc_is_ours() -> None:
    """The control: the same check passes for a server this uid runs (TCP and Unix), so it can tell the two."""

    class Handler(StandInHandler):
        def do_POST(self) -> None:
            self.read_body()
            self.send_chat_completion(json.dumps(GOOD))

    with serve_stand_in(Handler) as url:
        assert client(url + "/v1").call_sync("P", deadline_s=10, max_tokens=64).to_dict() == GOOD
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            assert ob.tcp_server_owners(sock.getsockname()[:2], sock.getpeername()[:2]) == {os.getuid()}


# --- the API key over the network ----------------------------------------------------------------------------------
def test_an_api_key_never_goes_over_plain_http_to_another_host() -> None:
    with pytest.raises(ob.RemoteRefused, match="https://"):
        client("http://192.0.2.10:8080/v1", allow_remote=True).call_sync("P", deadline_s=1, max_tokens=8)
    client("https://192.0.2.10/v1", allow_remote=True).check_transport()  # TLS: allowed
    client("http://192.0.2.10/v1", None, allow_remote=True).check_transport()  # no key: nothing to leak
    client("http://127.0.0.1:9/v1").check_transport()  # this machine (and its owner is checked)


# --- one deadline per call -----------------------------------------------------------------------------------------
def test_a_trickling_server_does_not_outlive_the_deadline() -> None:
    """Each byte comes well within the socket timeout, so only an overall deadline stops this."""
    body = json.dumps({"choices": [{"message": {"content": json.dumps(GOOD)}}]}).encode()

    class Trickle(StandInHandler):
        def do_POST(self) -> None:
            self.read_body()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                try:
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)

    with serve_stand_in(Trickle) as url:
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            client(url + "/v1", None).call_sync("P", deadline_s=1.0, max_tokens=64)
        assert time.monotonic() - began < 4.0  # the whole body would take about 20 s


# --- HTTPS to localhost verifies the certificate for the name ------------------------------------------------------
def _certificate(folder: Path, name: str, san: str) -> tuple[Path, Path]:
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}", "-addext", "basicConstraints=critical,CA:TRUE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key, cert


@contextlib.contextmanager
def https_stand_in(key: Path, cert: Path) -> Iterator[int]:
    class Handler(StandInHandler):
        def do_POST(self) -> None:
            self.read_body()
            self.send_chat_completion(json.dumps(GOOD))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_https_to_localhost_verifies_the_certificate_for_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both certificates are trusted (SSL_CERT_FILE); only the one for `localhost` may serve https://localhost.
    The other names 127.0.0.1 too, which a check against the resolved address would wrongly accept."""
    right = _certificate(tmp_path, "localhost", "DNS:localhost")
    wrong = _certificate(tmp_path, "other.invalid", "DNS:other.invalid,IP:127.0.0.1")
    bundle = tmp_path / "trusted.pem"
    bundle.write_bytes(right[1].read_bytes() + wrong[1].read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with https_stand_in(*right) as port:
        assert client(f"https://localhost:{port}/v1").call_sync("P", deadline_s=10, max_tokens=64).to_dict() == GOOD
    with https_stand_in(*wrong) as port, pytest.raises(ob.BackendError, match="not valid for localhost") as info:
        client(f"https://localhost:{port}/v1").call_sync("P", deadline_s=10, max_tokens=64)
    assert KEY not in str(info.value)


# --- the service unit opens inet sockets only for a configured TCP backend ------------------------------------------
@pytest.mark.parametrize(
    ("backend", "families"),
    [
        ("", ["AF_UNIX"]),
        ("unix:/run/user/1000/ollama.sock", ["AF_UNIX"]),
        ("http://127.0.0.1:11434/v1", ["AF_UNIX AF_INET AF_INET6"]),
        ("https://llm.example.org/v1", ["AF_UNIX AF_INET AF_INET6"]),
    ],
)
def test_service_install_allows_inet_only_for_a_tcp_backend(
    daemon_env: dict[str, str], backend: str, families: list[str]
) -> None:
    cfg = Path(daemon_env["XDG_CONFIG_HOME"]) / "llmojid" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'synthesis_backend_url = "{backend}"\nsynthesis_backend_model = "qwen2.5:7b"\n' if backend else "")
    result = subprocess.run(
        [LLMOJID_CTL, "service", "--manager", "systemd", "install", "--no-start"],
        env=daemon_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    unit = Path(daemon_env["XDG_CONFIG_HOME"]) / "systemd" / "user" / service.SERVICE_UNIT
    assert unit_settings(unit.read_text())["Service"]["RestrictAddressFamilies"] == families
    assert ("inet sockets" in result.stdout) == ("AF_INET" in families[0])
