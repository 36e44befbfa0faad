"""Helpers shared by the privacy tests (audit, bundle, rotation, forget). No tests here.

Everything is real: rows go in through the daemon's socket, keys come from the Secret Service of the suite's
D-Bus session, and the synthesis cache is filled the way ``daemon/model/cache.py`` fills it (a row, then its bag
sealed under the active key with the row's associated data), so the bundle tests need no model run.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import keyring

from llmojid.client import protocol as p
from llmojid.client.connection import Client
from llmojid.daemon.seal import seal
from tests.support import DaemonProcess, store_entry

BAGS = (
    {"primary_affect": ["cheery", "excited"], "stance_modality_function": ["helpful", "eager", "confident"]},
    {"primary_affect": ["weary"], "stance_modality_function": ["apologetic", "cautious", "serious"]},
    {"primary_affect": ["playful", "smug"], "stance_modality_function": ["wry", "quirky", "performative"]},
)
FACES = ("(◕‿◕)", "(>_<)", "(;ω;)")
SYNTH_MODEL = "test-synth.gguf"


def service(env: dict[str, str]) -> str:
    return env["LLMOJID_KEYRING_SERVICE"]


def keyring_entry(env: dict[str, str], entry: str) -> str | None:
    """The store's keyring ``entry`` (by its short name: ``active-key``, ``data-key:<id>``, ...)."""
    return keyring.get_password(service(env), store_entry(env, entry))


def active_key(env: dict[str, str]) -> tuple[str, bytes]:
    key_id = keyring_entry(env, "active-key")
    assert key_id is not None, "the daemon has no active key"
    b64 = keyring_entry(env, f"data-key:{key_id}")
    assert b64 is not None
    return key_id, base64.b64decode(b64)


def db(proc: DaemonProcess) -> sqlite3.Connection:
    """A plain SQLite connection to the daemon's database (WAL: fine beside the running daemon)."""
    conn = sqlite3.connect(proc.state_dir / "llmojid.db", timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def rows(
    canary: str, n: int, *, model: str = "claude-test", harness: str = "claude-code", day: int = 1, start: int = 0
) -> list[p.JournalRow]:
    return [
        p.JournalRow(
            ts=f"2026-11-{day:02d}T10:00:{i % 60:02d}Z",
            model=model,
            harness=harness,
            session=f"sess-{canary}",
            message_id=f"{canary}-{start + i}",
            kaomoji=FACES[i % len(FACES)],
            assistant_text=f"done {canary} {i}",
            user_text=f"please {canary}",
            cwd=f"/home/someone/{canary}",
        )
        for i in range(n)
    ]


def submit(proc: DaemonProcess, batch: list[p.JournalRow]) -> int:
    with Client(proc.socket_path) as client:
        reply = client.request(p.SubmitRows(rows=batch))
    assert isinstance(reply, p.HookAck)
    return reply.rows_added


def request(proc: DaemonProcess, name: str, **args: object) -> object:
    with Client(proc.socket_path, timeout=120) as client:
        reply = client.request(p.Request(name=name, args=args))
    assert isinstance(reply, p.Result)
    return reply.value


def seed_cache(proc: DaemonProcess, source_model: str = "claude-test", synthesis_model: str = SYNTH_MODEL) -> int:
    """One cached bag per face of ``source_model`` in the journal, sealed as the synthesis cache seals it."""
    key_id, key = active_key(proc.env)
    conn = db(proc)
    try:
        faces = [r[0] for r in conn.execute("SELECT DISTINCT canonical FROM journal WHERE model = ?", (source_model,))]
        for i, face in enumerate(sorted(faces)):
            conn.execute("BEGIN IMMEDIATE")
            row_id = conn.execute(
                "INSERT INTO synthesis_cache (synthesis_model, backend, method, lexicon_version, source_model,"
                " canonical, samples_key, sample_count, created_at) VALUES (?, 'llama.cpp', 'scoring', 2, ?, ?, ?,"
                " 4, '2026-11-20T00:00:00Z') RETURNING id",
                (synthesis_model, source_model, face, bytes(16)[:-1] + bytes([i])),
            ).fetchone()[0]
            bag = json.dumps(BAGS[i % len(BAGS)]).encode()
            sealed = seal(key, key_id, bag, table="synthesis_cache", column="synthesis", row_id=row_id)
            conn.execute("UPDATE synthesis_cache SET synthesis = ? WHERE id = ?", (sealed, row_id))
            conn.execute("COMMIT")
        return len(faces)
    finally:
        conn.close()


def audit(proc: DaemonProcess, *args: str) -> tuple[int, dict[str, object], str]:
    """Run ``llmojid-ctl audit --json``: (exit code, report, stderr)."""
    result = proc.ctl("audit", "--json", *args, check=False)
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, report, result.stderr.decode(errors="replace")


def failures(report: dict[str, object]) -> list[str]:
    found = report.get("failures", [])
    assert isinstance(found, list)
    return [f"{f['check']}: {f['where']}: {f['message']}" for f in found]


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
