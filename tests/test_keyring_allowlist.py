"""The keyring check is an allow-list: only backends that keep secrets in an OS store hold llmojid's keys.

keyrings.alt is installed (test extra): its PlaintextKeyring is a viable keyring backend here, so keyring's own
chain (``ChainerBackend``, chosen by ``PYTHON_KEYRING_BACKEND`` or a keyringrc) holds it beside the Secret
Service. A chain reads from every member and writes to the first that accepts, so a key could land in (or be read
from) a plain file: the daemon must refuse the chain, name the member, and write nothing, neither its store nor
a keyring file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import keyring.backends.chainer
from keyrings.alt.file import PlaintextKeyring

from llmojid.daemon.keys import ALLOWED_BACKENDS, backend_name, backend_problem
from tests.hook_support import start
from tests.support import LLMOJID, DaemonProcess


def serve_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMOJID, "serve"], env=env, capture_output=True, timeout=60, text=True)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_chain_keyring_builds_here_holds_a_plaintext_file() -> None:
    """The premise: with keyrings.alt installed, keyring's chain holds a plaintext backend."""
    members = [backend_name(b) for b in keyring.backends.chainer.ChainerBackend.backends]
    assert "keyrings.alt.file.PlaintextKeyring" in members
    assert "keyring.backends.SecretService.Keyring" in members
    problem = backend_problem(keyring.backends.chainer.ChainerBackend())
    assert problem is not None and "keyrings.alt.file.PlaintextKeyring" in problem
    assert backend_problem(PlaintextKeyring()) is not None
    assert "keyring.backends.SecretService.Keyring" in ALLOWED_BACKENDS


def test_a_chain_holding_a_plaintext_keyring_is_refused_before_anything_is_written(
    workdir: Path, daemon_env: dict[str, str]
) -> None:
    before = files_under(workdir)
    result = serve_once(daemon_env | {"PYTHON_KEYRING_BACKEND": "keyring.backends.chainer.ChainerBackend"})
    assert result.returncode == 1
    assert "keyrings.alt.file.PlaintextKeyring" in result.stderr and "OS keyring" in result.stderr
    assert files_under(workdir) == before  # no store, no keyring_pass.cfg


def test_a_plaintext_keyring_alone_is_refused(workdir: Path, daemon_env: dict[str, str]) -> None:
    before = files_under(workdir)
    result = serve_once(daemon_env | {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"})
    assert result.returncode == 1 and "not an OS keyring" in result.stderr
    assert files_under(workdir) == before


def test_the_secret_service_chosen_by_name_is_accepted(workdir: Path, daemon_env: dict[str, str]) -> None:
    proc = start(
        DaemonProcess(workdir, daemon_env | {"PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"})
    )
    try:
        status = proc.ctl_json("status", "--json")
        assert status["keyring_backend"] == "keyring.backends.SecretService.Keyring"
    finally:
        assert proc.stop() == 0
