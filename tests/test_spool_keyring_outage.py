"""A spool file met while the keyring is away is kept and retried, never set aside as ``.bad`` (issue 15, item 9).

Journaling a spooled event can need the keyring: a transcript's cursor sealed under a data key that is not the
active one (a rotation stopped after making the new key active, before re-sealing everything) is opened with a
key the daemon fetches from the keyring on first use. With the keyring gone (the private gnome-keyring of
``tests/test_keyring_outage.py``, SIGKILLed), that fetch fails: the hook's live event is refused with KEYRING and
spooled, and the drain meets the file. It must keep it, in order, and journal it once the keyring is back.
"""

from __future__ import annotations

import base64
import secrets
import time
from pathlib import Path

from llmojid.daemon.adapters.ingest import SPOOL_POLL_SECONDS
from tests.harness_transcripts import ClaudeSession, jsonl
from tests.hook_support import journal_rows, run_hook, spool_files
from tests.support import DaemonProcess, store_entry
from tests.test_keyring_outage import (  # noqa: F401 - fixtures
    PrivateKeyring,
    env_on_private_bus,
    outage_daemon,
    private_keyring,
    service,
)

#: Enough drain rounds to be sure the drain met the file while the keyring was down.
WAIT_SECONDS = 3 * SPOOL_POLL_SECONDS


def test_a_spool_file_met_while_the_keyring_is_away_is_retried_not_quarantined(
    outage_daemon: DaemonProcess,  # noqa: F811
    private_keyring: PrivateKeyring,  # noqa: F811
    workdir: Path,
) -> None:
    proc, kr = outage_daemon, private_keyring
    session = ClaudeSession(canary=f"RETRY{secrets.token_hex(4)}")
    transcript = workdir / "session.jsonl"
    events, first = session.turn(0)
    transcript.write_bytes(jsonl(events))
    assert run_hook(proc.env, "claude-code", session.stop_payload(str(transcript))).returncode == 0
    assert len(journal_rows(proc)) == len(first) and spool_files(proc) == []  # the cursor is sealed under key A

    # A new data key made active, the old one still in the keyring (as a rotation leaves it after its step 2).
    assert proc.stop() == 0
    new_id = secrets.token_hex(4)
    data_key = base64.b64encode(secrets.token_bytes(32)).decode()
    kr.put(service(proc), store_entry(proc.env, f"data-key:{new_id}"), data_key)
    kr.put(service(proc), store_entry(proc.env, "active-key"), new_id)
    proc.start()

    more, second = session.turn(1)
    with transcript.open("ab") as f:
        f.write(jsonl(more))
    kr.kill()
    hook = run_hook(proc.env, "claude-code", session.stop_payload(str(transcript)))
    assert (hook.returncode, hook.stdout, hook.stderr) == (0, b"", b"")
    assert len(spool_files(proc)) == 1, "the refused event was not spooled"

    deadline = time.monotonic() + WAIT_SECONDS
    while "draining the spool stopped: KeyringUnavailableError" not in proc.log():
        assert "could not be journaled" not in proc.log(), "the spool file was set aside, never to be retried"
        assert time.monotonic() < deadline, proc.log()
        time.sleep(0.2)
    files = spool_files(proc)
    assert [f.suffix for f in files] == [".spool"], files  # kept as it was, not renamed .bad

    kr.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while spool_files(proc):
        assert time.monotonic() < deadline, f"the spool was not retried once the keyring was back:\n{proc.log()}"
        time.sleep(0.2)
    stored = journal_rows(proc)
    assert len(stored) == len(first) + len(second)
    assert sorted(r.assistant_text for r in stored) == sorted(e.assistant_text for e in first + second)
    assert proc.stop() == 0
