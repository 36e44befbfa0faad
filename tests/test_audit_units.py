"""The auditor's checks without a daemon: a migrated in-memory store, real sealed values, temporary folders."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from pathlib import Path

import pytest

from llmojid.common.lexicon import validate_bag
from llmojid.common.spool_format import SPOOL_MAGIC
from llmojid.daemon import schema
from llmojid.daemon.privacy import auditor
from llmojid.daemon.privacy import bundle as layout
from llmojid.daemon.privacy.bundle_folder import BundleFolderError, read_folder, write_folder
from llmojid.daemon.seal import seal

KEY_A, KEY_B = secrets.token_bytes(32), secrets.token_bytes(32)


def store() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for script in schema.MIGRATIONS:
        conn.executescript(script)
    for i in range(3):
        row_id = conn.execute(
            "INSERT INTO journal (dedup, ts, harness, model, kaomoji, canonical, created_at) VALUES"
            " (randomblob(16), '2026-11-01T00:00:00Z', 'claude-code', 'claude-x', '(◕‿◕)', '(◕‿◕)',"
            " '2026-11-01T00:00:00.5Z') RETURNING id"
        ).fetchone()[0]
        text = f"working on build-{i}-7f3a9c21 in /srv/project".encode()
        conn.execute(
            "UPDATE journal SET user_text = ? WHERE id = ?",
            (seal(KEY_A, "aaaaaaaa", text, table="journal", column="user_text", row_id=row_id), row_id),
        )
    return conn


def run(conn: sqlite3.Connection, keys: dict[str, bytes], active: str = "aaaaaaaa") -> tuple[auditor.Report, set[str]]:
    report = auditor.Report()
    tokens = auditor.check_sealed(conn, keys.get, active, report)
    auditor.check_plaintext(conn, report)
    return report, tokens


def messages(report: auditor.Report) -> list[str]:
    return [f"{f.check} {f.where} {f.message}" for f in report.failures]


def test_a_clean_store_passes_and_yields_journal_tokens() -> None:
    report, tokens = run(store(), {"aaaaaaaa": KEY_A})
    assert report.ok and report.checked["store.sealed"] == 3
    assert {"build-0-7f3a9c21", "build-2-7f3a9c21"} <= tokens and "working" not in tokens


def test_each_store_fault_is_named_precisely() -> None:
    conn = store()
    conn.execute("UPDATE journal SET cwd = CAST('in the clear' AS BLOB) WHERE id = 1")
    conn.execute(
        "UPDATE journal SET assistant_text = ? WHERE id = 2",
        (seal(KEY_B, "bbbbbbbb", b"x", table="journal", column="assistant_text", row_id=2),),
    )
    conn.execute(
        "UPDATE journal SET session = ? WHERE id = 3",
        (seal(KEY_A, "aaaaaaaa", b"s", table="journal", column="session", row_id=99),),
    )
    conn.execute("UPDATE journal SET harness = 'Dear diary, today I wrote code' WHERE id = 3")
    report, _ = run(conn, {"aaaaaaaa": KEY_A})
    found = messages(report)
    assert any("journal.cwd" in m and "rows 1" in m and "not sealed" in m for m in found), found
    assert any("journal.assistant_text" in m and "bbbbbbbb" in m and "not in the keyring" in m for m in found)
    assert any("journal.session" in m and "rows 3" in m and "do not open" in m for m in found)
    assert any("store.plaintext journal.harness" in m and "rows 3" in m for m in found)
    assert not any("in the clear" in m or "diary" in m for m in found)  # places, never values

    report, _ = run(conn, {"aaaaaaaa": KEY_A, "bbbbbbbb": KEY_B})
    assert any("journal.assistant_text" in m and "rotation is unfinished" in m for m in messages(report))


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("claude-sonnet-4-5", True),
        ("Qwen2.5-Coder-32B-Instruct-GGUF", True),
        ("mail bob@example.com", False),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz012345", False),
        ("one two three four words", False),
    ],
)
def test_model_names_rule(value: str, ok: bool) -> None:
    assert auditor.PLAINTEXT_RULES[("journal", "model")](value) is ok


def _bundle_files() -> dict[str, bytes]:
    bag = validate_bag({"primary_affect": ["cheery"], "stance_modality_function": ["helpful", "eager", "focused"]})
    return layout.render(
        layout.Inputs(
            cells=(layout.Cell("claude-x", "(◕‿◕)", 3, bag),),
            producer_version="llmojid/0",
            synthesis_model_id="m.gguf",
            synthesis_backend="llama.cpp",
            submitter_id="0" * 32,
            generated_at="2026-11-01T00:00:00Z",
            providers_seen=("claude-code",),
        )
    )


def test_bundle_check_finds_foreign_entries_and_journal_text(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    write_folder(folder, _bundle_files())
    report = auditor.Report()
    auditor.check_bundle(folder, {"build-0-7f3a9c21"}, report)
    assert report.ok and report.checked["bundle"] == 2
    manifest = json.loads((folder / "manifest.json").read_bytes())
    (folder / "manifest.json").write_text(layout.dumps_manifest({**manifest, "notes": "see build-0-7f3a9c21"}))
    (folder / "x.txt").write_text("")
    (folder / "sub").mkdir()
    (folder / "l.jsonl").symlink_to(folder / "x.txt")
    report = auditor.Report()
    auditor.check_bundle(folder, {"build-0-7f3a9c21"}, report)
    found = messages(report)
    for needle in ("foreign file 'x.txt'", "subfolder 'sub'", "symlink 'l.jsonl'"):
        assert any(needle in m for m in found), (needle, found)
    with pytest.raises(BundleFolderError, match="foreign file"):
        write_folder(folder, _bundle_files())  # the builder never deletes what is not a bundle's
    (folder / "x.txt").unlink()
    (folder / "sub").rmdir()
    (folder / "l.jsonl").unlink()
    report = auditor.Report()
    auditor.check_bundle(folder, {"build-0-7f3a9c21"}, report)
    assert any("journal's text" in m for m in messages(report))


def test_write_folder_replaces_the_bundle_whole(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    write_folder(folder, {**_bundle_files(), "old.jsonl": b""})
    write_folder(folder, _bundle_files())
    assert sorted(os.listdir(folder)) == ["claude-x.jsonl", "manifest.json"]
    assert read_folder(folder).files == _bundle_files()
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no sibling left behind
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_spool_and_mode_checks(tmp_path: Path) -> None:
    state = tmp_path / "state"
    spool = state / "spool"
    spool.mkdir(parents=True, mode=0o700)
    state.chmod(0o700)
    (spool / "1.spool").write_bytes(SPOOL_MAGIC + secrets.token_bytes(80))
    (spool / ".tmp-2.spool").write_bytes(b"")
    for f in spool.iterdir():
        f.chmod(0o600)
    paths = auditor.AuditPaths(
        state_dir=state,
        database=state / "llmojid.db",
        spool_dir=spool,
        socket_path=tmp_path / "run" / "s.sock",
        config_dir=tmp_path / "config",
        config_file=tmp_path / "config" / "config.toml",
        data_dir=tmp_path / "data",
        bundle_dir=tmp_path / "data" / "bundle",
    )
    report = auditor.Report()
    auditor.check_files(paths, set(), report, frozenset(auditor.CHECKS))
    assert report.ok, messages(report)
    (spool / "3.spool").write_bytes(b'{"payload": "plain"}')
    (spool / "3.spool").chmod(0o644)
    (spool / "notes").write_bytes(b"")
    report = auditor.Report()
    auditor.check_files(paths, set(), report, frozenset(auditor.CHECKS))
    found = messages(report)
    assert any("3.spool" in m and "not sealed" in m for m in found)
    assert any("3.spool" in m and "mode 0644" in m for m in found)
    assert any("notes" in m and "foreign file" in m for m in found)
