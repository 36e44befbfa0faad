"""Fault injection (issue 8): the OS keyring goes away while the daemon runs, and comes back.

The suite's own gnome-keyring (started by ``scripts/test``) is shared by every test, so it cannot be killed. Each
test here runs a D-Bus bus and a gnome-keyring of its own: a session bus from a config with no service
directories (so nothing can auto-activate a fresh, locked keyring behind the test's back) and
``gnome-keyring-daemon --foreground --unlock`` whose HOME, XDG_DATA_HOME and XDG_RUNTIME_DIR lie in the test's
temporary directory, so a restarted keyring reopens the same login keyring file, with the same keys, unlocked by
the same password. The llmojid daemon is the real ``llmojid serve`` pointed at that bus; the keyring is killed
with SIGKILL, the harshest way it can go.

The defined outcome of "keyring unavailable mid-run":

* the daemon keeps serving what its in-memory keys allow: rows and hook events are acked and stored, ``status``
  answers, stored rows still open;
* what must reach the keyring (rotating the key, the bundle's submitter secret, a backend API key, ``keys status``)
  fails at once with ``ErrorCode.KEYRING`` and a message with no data, and leaves the rotation state as it was;
* ``llmojid-ctl doctor`` fails its keyring check (and only that one);
* when the keyring is back, the same daemon rotates and the audit passes;
* a daemon (re)started while the keyring is down refuses to start (exit 1, says how to fix it), writes nothing and
  creates no key;
* no key material reaches the daemon log or any error message.

A keyring that is *locked* mid-run (the screen locker, ``secret-tool lock``; the process stays up) has the same
outcome. keyring's SecretService backend answers a locked collection by asking the Secret Service to unlock it,
which starts a prompt; with no prompter to activate gnome-keyring dismisses it at once, and the call fails with
``KeyringLocked`` rather than waiting for a user.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import secretstorage
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from secretstorage.defines import SS_PATH
from secretstorage.util import DBusAddressWrapper, format_secret, open_session

from llmojid.client import protocol as p
from llmojid.client.connection import Client, DaemonError
from llmojid.daemon.keys import HOW_TO_FIX
from tests.hook_support import journal_rows, run_hook, spool_files
from tests.support import LLMOJID, DaemonProcess, make_env
from tests.test_audit_helpers import audit, db, failures, request, rows, seed_cache, submit

PASSWORD = b"outage-test-password"
#: How long any one reply may take before the test calls it a hang (a failing keyring call answers in about a
#: second: keys.py retries twice, keys.status asks a few times per key). A bound on hangs, not a speed check.
REPLY_BOUND_SECONDS = 30.0
#: How long the private bus and keyring may take to come up or go away.
KEYRING_WAIT_SECONDS = 15.0
#: gnome-keyring's own D-Bus interface (what Seahorse uses) to unlock a collection with its password, no prompt.
GNOME_KEYRING_INTERNAL = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
#: A bus that activates nothing: only what the test starts is on it.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
API_KEY_ENTRY = "backend-api-key"  # llmojid.daemon.model.openai_backend.API_KEY_ENTRY
ROTATION_META = "key-rotation"  # llmojid.daemon.privacy.rotation.META_KEY


@dataclass
class PrivateKeyring:
    """A D-Bus session bus and a gnome-keyring on it, both children of the test; the keyring can die and return."""

    root: Path
    address: str = ""
    bus: subprocess.Popen[bytes] | None = None
    keyring: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    _log: Path = field(init=False)

    def __post_init__(self) -> None:
        self._log = self.root / "gnome-keyring.log"

    def keyring_env(self) -> dict[str, str]:
        """gnome-keyring's environment: every directory it uses is ours, so a restart finds the same files."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DBUS_", "GNOME_KEYRING", "SSH_"))}
        home = self.root / "home"
        return env | {
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "DBUS_SESSION_BUS_ADDRESS": self.address,
        }

    def open_bus(self) -> None:
        for d in (self.root, self.root / "home", self.root / "run"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        config = self.root / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.root / "bus"))
        with open(self.root / "dbus.log", "ab") as log:
            self.bus = subprocess.Popen(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.bus.stdout is not None
        self.address = self.bus.stdout.readline().decode().strip()
        assert self.address.startswith("unix:"), f"dbus-daemon printed no address (exit {self.bus.poll()})"

    def start(self) -> None:
        """Start (or restart) gnome-keyring and wait until its default collection answers, unlocked."""
        assert self.keyring is None or self.keyring.poll() is not None, "the keyring is already running"
        with open(self._log, "ab") as log:
            self.keyring = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=self.keyring_env(),
            )
        assert self.keyring.stdin is not None
        self.keyring.stdin.write(PASSWORD)
        self.keyring.stdin.close()
        self.starts += 1
        self._wait_until(self.unlocked, "the private gnome-keyring did not come up unlocked")

    def kill(self) -> None:
        """SIGKILL the keyring (no chance to tidy up) and wait until its name is gone from the bus."""
        assert self.keyring is not None and self.keyring.poll() is None
        self.kills += 1
        self.keyring.send_signal(signal.SIGKILL)
        self.keyring.wait()
        self._wait_until(lambda: not self.available(), "the killed keyring's name stayed on the bus")

    def lock(self) -> None:
        """Lock the login collection through the Secret Service, as a screen locker does; the keyring stays up."""
        with closing(self.connect()) as conn:
            secretstorage.get_default_collection(conn).lock()
        assert not self.unlocked(), "the login collection did not lock"

    def unlock(self) -> None:
        """Unlock the login collection in the running keyring with its password.

        The Secret Service's own Unlock needs a prompt, and there is none here; restarting the keyring would test
        the outage again, not a lock. gnome-keyring's internal interface takes the password over a session.
        """
        with closing(self.connect()) as conn:
            collection = secretstorage.get_default_collection(conn)
            secret = format_secret(open_session(conn), PASSWORD, "text/plain")
            internal = DBusAddressWrapper(SS_PATH, GNOME_KEYRING_INTERNAL, conn)
            internal.call("UnlockWithMasterPassword", "o(oayays)", collection.collection_path, secret)
        assert self.unlocked(), "the login collection did not unlock"

    def close(self) -> None:
        self._say_if_it_died_on_its_own()
        for proc in (self.keyring, self.bus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.bus is not None and self.bus.stdout is not None:
            self.bus.stdout.close()

    def _say_if_it_died_on_its_own(self) -> None:
        """Print (pytest shows it with a failure) how the keyring ended if no test step killed it.

        gnome-keyring 42.1 once left the bus in a full run right after an unlock, and this test failed on the
        missing reply; its exit status and log say whether it crashed.
        """
        if self.keyring is None or self.keyring.poll() is None or self.kills >= self.starts:
            return
        log = self._log.read_text(errors="replace")[-2000:] if self._log.exists() else "(no log)"
        print(f"gnome-keyring exited on its own with status {self.keyring.returncode}; its log ends:\n{log}")

    # --- looking inside, the way keyring's SecretService backend does, on our bus ---
    def connect(self) -> DBusConnection:
        return open_dbus_connection(bus=self.address)

    def available(self) -> bool:
        with closing(self.connect()) as conn:
            return bool(secretstorage.check_service_availability(conn))

    def unlocked(self) -> bool:
        try:
            with closing(self.connect()) as conn:
                return not secretstorage.get_default_collection(conn).is_locked()
        except secretstorage.exceptions.SecretStorageException:
            return False

    def entries(self, service: str) -> dict[str, str]:
        """Every entry of ``service`` (keyring's attributes: service, username), name -> secret.

        A store's entries (``<store id>/<entry>``) are listed by their short names; there is one store per test.
        """
        with closing(self.connect()) as conn:
            collection = secretstorage.get_default_collection(conn)
            found = {}
            for item in collection.search_items({"service": service}):
                found[item.get_attributes()["username"].split("/", 1)[-1]] = item.get_secret().decode()
            return found

    def put(self, service: str, entry: str, value: str) -> None:
        """Write an entry as keyring's SecretService backend writes one."""
        with closing(self.connect()) as conn:
            collection = secretstorage.get_default_collection(conn)
            attributes = {"service": service, "username": entry, "application": "Python keyring library"}
            collection.create_item(f"Password for '{entry}' on '{service}'", attributes, value.encode(), replace=True)

    def _wait_until(self, ready: Callable[[], bool], why: str) -> None:
        deadline = time.monotonic() + KEYRING_WAIT_SECONDS
        while not ready():
            if time.monotonic() > deadline:
                log = self._log.read_text(errors="replace") if self._log.exists() else ""
                raise AssertionError(f"{why}:\n{log}")
            time.sleep(0.05)


@pytest.fixture
def private_keyring(workdir: Path) -> Iterator[PrivateKeyring]:
    kr = PrivateKeyring(workdir / "kr")
    try:
        kr.open_bus()
        kr.start()
        yield kr
    finally:
        kr.close()


@pytest.fixture
def env_on_private_bus(workdir: Path, private_keyring: PrivateKeyring) -> dict[str, str]:
    return make_env(workdir) | {"DBUS_SESSION_BUS_ADDRESS": private_keyring.address}


@pytest.fixture
def outage_daemon(workdir: Path, env_on_private_bus: dict[str, str]) -> Iterator[DaemonProcess]:
    """A started daemon on the private bus. The test stops it (and checks its exit); this only cleans up."""
    proc = DaemonProcess(workdir, env_on_private_bus)
    try:
        yield proc.start()
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait()


# --- helpers -------------------------------------------------------------------------------------------------------
def service(proc: DaemonProcess) -> str:
    return proc.env["LLMOJID_KEYRING_SERVICE"]


def key_material(entries: dict[str, str]) -> dict[bytes, str]:
    """Every form a secret could leak in (its base64 as stored, with and without padding, raw, raw as hex)."""
    needles: dict[bytes, str] = {}
    for name, value in entries.items():
        if name in ("active-key", "store"):
            continue  # a key id and the store's database path, not keys: status, doctor and the log name them
        needles[value.encode()] = name
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        needles[value.rstrip("=").encode()] = name
        needles[raw] = name
        needles[raw.hex().encode()] = name
    return needles


def leaks(needles: dict[bytes, str], texts: dict[str, bytes]) -> list[str]:
    """Where key material occurs, naming the entry and the text (never printing the secret)."""
    return [f"{needles[n]} in {where}" for where, text in texts.items() for n in needles if n in text]


def keyring_refusal(proc: DaemonProcess, name: str, **args: object) -> DaemonError:
    """Send a request that must reach the keyring; it must be refused with KEYRING, not hang and not INTERNAL."""
    with Client(proc.socket_path, timeout=REPLY_BOUND_SECONDS) as client, pytest.raises(DaemonError) as caught:
        client.request(p.Request(name=name, args=args))
    assert caught.value.code == p.ErrorCode.KEYRING, f"{name}: {caught.value}"
    assert "keyring" in caught.value.message
    return caught.value


def status(proc: DaemonProcess) -> p.StatusReply:
    with Client(proc.socket_path, timeout=REPLY_BOUND_SECONDS) as client:
        reply = client.request(p.Status())
    assert isinstance(reply, p.StatusReply)
    return reply


def generic_event(canary: str, i: int) -> bytes:
    return json.dumps(
        {
            "model": "generic-test",
            "cwd": f"/work/{canary}",
            "user_text": f"ask {canary} {i}",
            "assistant_text": f"(=^･ω･^=) answer {canary} {i}",
            "ts": f"2026-11-02T09:00:{i:02d}Z",
        }
    ).encode()


def rotation_record(proc: DaemonProcess) -> object:
    conn = db(proc)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (ROTATION_META,)).fetchone()
    finally:
        conn.close()
    return row


def state_digest(state_dir: Path) -> dict[str, str]:
    """Every file under the state directory (store, WAL, lock, spool key), by path, with its SHA-256."""
    return {
        str(path.relative_to(state_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(state_dir.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def seed_synthesis_cache(proc: DaemonProcess, kr: PrivateKeyring, monkeypatch: pytest.MonkeyPatch) -> int:
    """``test_audit_helpers.seed_cache`` reads the active key through ``keyring``, which asks the D-Bus session
    named by the environment: point it at the private bus for this one call."""
    with monkeypatch.context() as m:
        m.setenv("DBUS_SESSION_BUS_ADDRESS", kr.address)
        return seed_cache(proc)


def rotate_fresh(proc: DaemonProcess, kr: PrivateKeyring, old: str) -> dict[str, str]:
    """Rotate on the same daemon once the keyring answers again: a new rotation, not a resumed one, and the old key
    gone from the keyring. Returns the keyring's entries after it."""
    summary = request(proc, "keys.rotate")
    assert isinstance(summary, dict)
    assert summary["to"] != old and summary["deleted"] == [old] and not summary["resumed"]
    assert status(proc).key_id == summary["to"]
    after = kr.entries(service(proc))
    assert after["active-key"] == summary["to"] and f"data-key:{old}" not in after
    return after


# --- the tests -----------------------------------------------------------------------------------------------------
def test_daemon_serves_through_a_keyring_outage_and_recovers(
    outage_daemon: DaemonProcess, private_keyring: PrivateKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, kr = outage_daemon, private_keyring
    kr.put(service(proc), API_KEY_ENTRY, f"sk-outage-{os.urandom(12).hex()}")
    # Before: rows, a hook event, a synthesized face per row face, and a bundle (which creates the submitter secret).
    assert submit(proc, rows("OUTAGE-BEFORE", 6)) == 6
    assert run_hook(proc.env, "generic", generic_event("OUTAGE-HOOK", 0)).returncode == 0
    assert seed_synthesis_cache(proc, kr, monkeypatch) > 0
    bundle_before = request(proc, "bundle.build")
    assert isinstance(bundle_before, dict)
    old = status(proc).key_id
    before = kr.entries(service(proc))
    assert before["active-key"] == old
    assert {f"data-key:{old}", "index-key", "spool-key", "submitter-secret", API_KEY_ENTRY} <= set(before)
    needles = key_material(before)
    assert {f"data-key:{old}", "index-key", "spool-key", "submitter-secret", API_KEY_ENTRY} <= set(needles.values())
    replies: dict[str, bytes] = {}

    kr.kill()

    # 1. It keeps serving what the keys in memory allow.
    during = status(proc)
    assert during.key_id == old and during.keyring_backend.startswith("keyring.backends.SecretService")
    assert submit(proc, rows("OUTAGE-DURING", 5, model="other-model")) == 5  # leaves the bundle's cells as they are
    hook = run_hook(proc.env, "generic", generic_event("OUTAGE-HOOK", 1))
    assert (hook.returncode, hook.stdout) == (0, b"")
    assert spool_files(proc) == [], "the hook event went to the spool, not to the live daemon"
    stored = journal_rows(proc)  # every row opens: the data key is in memory
    assert len(stored) == 6 + 1 + 5 + 1
    assert {r.assistant_text for r in stored if r.harness == "generic"} == {
        "answer OUTAGE-HOOK 0",
        "answer OUTAGE-HOOK 1",
    }
    assert sum("OUTAGE-DURING" in r.assistant_text for r in stored) == 5

    # 2. What needs the keyring fails at once with KEYRING, and the rotation state is unharmed.
    refusals = {
        "keys.rotate": keyring_refusal(proc, "keys.rotate"),
        "keys.status": keyring_refusal(proc, "keys.status"),
        "bundle.build": keyring_refusal(proc, "bundle.build"),  # the submitter secret is read, not cached
        "analyze.plan": keyring_refusal(  # the backend API key is read per job; the refusal comes before any call
            proc, "analyze.plan", backend_url="http://127.0.0.1:9/v1", backend_model="m", method="generation"
        ),
    }
    replies |= {name: str(exc).encode() for name, exc in refusals.items()}
    assert HOW_TO_FIX in proc.log(), "the replies send the user to the daemon log for how to fix it"
    cli = proc.ctl("keys", "rotate", check=False, timeout=REPLY_BOUND_SECONDS * 2)
    assert cli.returncode == 1, cli.stderr
    assert b"KEYRING" in cli.stderr and b"keyring" in cli.stderr
    replies["ctl keys rotate"] = cli.stdout + cli.stderr
    assert rotation_record(proc) is None, "a failed rotation left a rotation record"
    assert status(proc).key_id == old
    assert len(journal_rows(proc)) == 13

    # 3. doctor names the keyring (and nothing else) as the problem.
    doctor = proc.ctl("doctor", "--json", check=False, timeout=120)
    replies["ctl doctor"] = doctor.stdout + doctor.stderr
    assert doctor.returncode == 1, doctor.stderr
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert {name for name, c in checks.items() if c["status"] == "fail"} == {"keyring"}, checks
    assert checks["daemon"]["status"] == "ok"
    assert "running daemon opened it earlier" in checks["keyring"]["detail"]
    assert checks["keyring"]["fix"]

    # 4. The keyring comes back (same files, unlocked by the same password): the same daemon rotates again.
    kr.start()
    assert kr.entries(service(proc)) == before, "the outage changed the keyring's entries"
    keys = request(proc, "keys.status")
    assert isinstance(keys, dict)
    assert keys["active"] == old and keys["rotation"] is None
    assert all(k["in_keyring"] for k in keys["keys"]), keys
    needles |= key_material(rotate_fresh(proc, kr, old))
    bundle_after = request(proc, "bundle.build")
    assert isinstance(bundle_after, dict)
    assert bundle_after["files"] == bundle_before["files"], "the bundle (its submitter id) changed across the outage"
    assert bundle_after["unchanged"] is True
    code, report, err = audit(proc)
    assert code == 0, failures(report) or err
    assert len(journal_rows(proc)) == 13

    assert proc.stop() == 0, proc.log()

    # 6. No key material anywhere the user or a log collector can see.
    assert leaks(needles, replies | {"daemon log": proc.log_path.read_bytes()}) == []


def test_start_while_the_keyring_is_down_refuses_and_writes_nothing(
    outage_daemon: DaemonProcess, private_keyring: PrivateKeyring
) -> None:
    proc, kr = outage_daemon, private_keyring
    assert submit(proc, rows("OUTAGE-RESTART", 4)) == 4
    old = status(proc).key_id
    before = kr.entries(service(proc))
    needles = key_material(before)

    kr.kill()
    assert proc.stop() == 0, f"the daemon did not stop cleanly without its keyring:\n{proc.log()}"
    digest = state_digest(proc.state_dir)
    assert "llmojid.db" in digest

    # 5. A (re)start without the keyring: exit 1, says what and how to fix it, touches nothing.
    refused = subprocess.run([LLMOJID, "serve"], env=proc.env, capture_output=True, timeout=120)
    assert refused.returncode == 1, refused.stderr
    assert b"keyring" in refused.stderr and b"gnome-keyring-daemon --unlock" in refused.stderr
    assert state_digest(proc.state_dir) == digest, "a refused start changed the state directory"
    assert not proc.socket_path.exists()

    kr.start()
    assert kr.entries(service(proc)) == before, "a refused start created or changed a key"
    proc.start()
    assert status(proc).key_id == old
    assert sum("OUTAGE-RESTART" in r.assistant_text for r in journal_rows(proc)) == 4
    assert proc.stop() == 0, proc.log()

    assert (
        leaks(needles, {"refused start": refused.stdout + refused.stderr, "daemon log": proc.log_path.read_bytes()})
        == []
    )


def test_forget_all_while_the_keyring_is_down_stops_and_can_be_run_again(
    outage_daemon: DaemonProcess, private_keyring: PrivateKeyring
) -> None:
    """``forget --all`` deletes rows, spool and bundle, then the keys, then stops the daemon (even when a step
    fails). Without a keyring: the rows go, the keys cannot, the user is told KEYRING, the daemon stops cleanly,
    and the same command finishes the job once the keyring is back."""
    proc, kr = outage_daemon, private_keyring
    assert submit(proc, rows("OUTAGE-FORGET", 4)) == 4
    before = kr.entries(service(proc))
    needles = key_material(before)

    kr.kill()
    failed = proc.ctl("forget", "--all", "--yes", check=False, timeout=REPLY_BOUND_SECONDS * 2)
    assert failed.returncode == 1 and b"KEYRING" in failed.stderr, failed.stderr
    assert proc.proc is not None and proc.proc.wait(REPLY_BOUND_SECONDS) == 0, proc.log()
    conn = db(proc)
    try:
        assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 0
    finally:
        conn.close()

    kr.start()
    assert kr.entries(service(proc)) == before, "keys were (partly) deleted although the keyring was down"
    proc.start()
    assert journal_rows(proc) == []
    done = proc.ctl("forget", "--all", "--yes", "--json", timeout=REPLY_BOUND_SECONDS * 2)
    assert json.loads(done.stdout)["keys_deleted"] is True
    assert proc.proc is not None and proc.proc.wait(REPLY_BOUND_SECONDS) == 0, proc.log()
    assert kr.entries(service(proc)) == {}

    assert leaks(needles, {"forget": failed.stdout + failed.stderr, "daemon log": proc.log_path.read_bytes()}) == []


def test_audit_while_the_keyring_is_down_says_so(outage_daemon: DaemonProcess, private_keyring: PrivateKeyring) -> None:
    """An unreachable keyring is not a lost key: the audit must not tell the user to forget readable data."""
    proc, kr = outage_daemon, private_keyring
    assert submit(proc, rows("OUTAGE-AUDIT", 2)) == 2
    kr.kill()
    try:
        keyring_refusal(proc, "audit")
    finally:
        kr.start()
        assert proc.stop() == 0, proc.log()


def test_keyring_locked_mid_run_refuses_what_needs_it_and_recovers_when_unlocked(
    outage_daemon: DaemonProcess, private_keyring: PrivateKeyring
) -> None:
    """A locked keyring is still there, and answers: each call that needs it must fail (KEYRING) instead of
    waiting on an unlock prompt no one can answer, while the keys in memory keep the journal working."""
    proc, kr = outage_daemon, private_keyring
    assert submit(proc, rows("LOCKED-BEFORE", 4)) == 4
    old = status(proc).key_id
    before = kr.entries(service(proc))
    needles = key_material(before)
    assert kr.keyring is not None
    keyring_pid = kr.keyring.pid

    kr.lock()

    # The keys in memory keep it serving.
    assert status(proc).key_id == old
    assert submit(proc, rows("LOCKED-DURING", 3, model="other-model")) == 3
    stored = journal_rows(proc)
    assert len(stored) == 7 and sum("LOCKED-DURING" in r.assistant_text for r in stored) == 3
    # What must reach the keyring is refused, within REPLY_BOUND_SECONDS (a hang fails in keyring_refusal).
    refusals = {name: keyring_refusal(proc, name) for name in ("keys.rotate", "audit", "keys.status")}
    assert rotation_record(proc) is None, "a rotation refused by a locked keyring left a rotation record"
    assert status(proc).key_id == old
    assert not kr.unlocked(), "something unlocked the keyring without its password"
    assert kr.keyring.poll() is None and kr.keyring.pid == keyring_pid

    kr.unlock()

    # The same daemon (and the same keyring process) rotates, and the audit passes.
    assert kr.entries(service(proc)) == before, "the refused requests changed the keyring's entries"
    needles |= key_material(rotate_fresh(proc, kr, old))
    code, report, err = audit(proc)
    assert code == 0, failures(report) or err
    assert len(journal_rows(proc)) == 7
    assert kr.keyring.poll() is None and kr.keyring.pid == keyring_pid

    assert proc.stop() == 0, proc.log()
    replies = {name: str(exc).encode() for name, exc in refusals.items()}
    assert leaks(needles, replies | {"daemon log": proc.log_path.read_bytes()}) == []
