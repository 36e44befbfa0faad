"""The suite's own keyring (``scripts/test``) survives gnome-keyring leaving the bus mid-run.

gnome-keyring 42.1 has left the session bus in a few full runs; D-Bus then starts it again on the next call. The
run's login keyring has an empty password in a temporary XDG_DATA_HOME that the bus's activation environment
names, so the restarted keyring must open the same entries unlocked, with no prompt. Only the keyring that
``scripts/test`` made is killed: anywhere else (a desktop's own keyring) the test is skipped.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from contextlib import closing
from pathlib import Path

import keyring
import pytest
import secretstorage
from jeepney import DBusAddress, new_method_call

BUS = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
TEST_KEYRING_PREFIX = "/tmp/llmojid-keyring-"


def secret_service_pid() -> int:
    with closing(secretstorage.dbus_init()) as conn:
        reply = conn.send_and_get_reply(
            new_method_call(BUS, "GetConnectionUnixProcessID", "s", ("org.freedesktop.secrets",))
        )
    return int(reply.body[0])


def data_home(pid: int) -> str:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found = [e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"XDG_DATA_HOME=")]
    return found[0] if found else ""


def test_the_suites_keyring_comes_back_unlocked_with_its_entries_after_a_kill() -> None:
    first = secret_service_pid()
    home = data_home(first)
    if not home.startswith(TEST_KEYRING_PREFIX):
        pytest.skip("not the keyring scripts/test makes: never kill a keyring this suite did not start")
    service, value = f"llmojid-harness-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    keyring.set_password(service, "entry", value)
    try:
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{first}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keyring.get_password(service, "entry") == value  # D-Bus started it again, unlocked, same entries
        second = secret_service_pid()
        assert second != first
        assert data_home(second) == home  # the bus's activation environment names the run's keyring
    finally:
        keyring.delete_password(service, "entry")
