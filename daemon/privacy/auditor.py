"""The auditor (``llmojid-ctl audit``): checks that the privacy promises hold, on this machine, now.

Checks, each named in the report:

* ``store.sealed``    every value of every sealed column (``schema.SEALED_COLUMNS``) is a sealed value, names a key
                      the keyring holds, is under the active key (else a rotation is unfinished), and opens with
                      its own associated data (table, column, row id, key id);
* ``store.plaintext`` every column that is not sealed holds only what the schema allows: known columns by a rule
                      (timestamps, harness and model names, faces, keyed hashes), any other column by the generic
                      rule (short, no prose, no personal data as ``find_pii`` sees it);
* ``bundle``          the bundle folder holds only ``manifest.json`` and ``<slug>.jsonl`` files (no subfolder, no
                      symlink), each valid (``bundle.validate``), and none of the journal's distinctive tokens;
* ``spool``           the spool holds only sealed spool files (their magic, private modes) and in-flight temps;
                      OpenCode's hand-off folder (``client/handoff.py``) holds no message older than
                      ``HANDOFF_STALE_SECONDS`` (a hand-off is plaintext: a hook removes it within its budget);
* ``logs``            the log files named (``--log``, and ``*.log`` in the state folder) hold no personal data and
                      none of the journal's distinctive tokens;
* ``sessions``        the session diary (``llmojid.daemon.sessions``, what ``llmojid-ctl sessions`` and the report
                      show) holds only its fields, each by its rule (harness and model names, times, faces,
                      circumplex cells, numbers), and none of the journal's distinctive tokens;
* ``modes``           every path llmojid owns is ours, is no symlink, and is closed to others: the state and runtime
                      folders and all they hold (0700 folders, 0600 files), the config and bundle (not writable by
                      others).

"The journal's distinctive tokens" are the words of its sealed text that could identify it (ten or more
characters with a digit or punctuation inside, or twenty or more): a bundle or log holding one holds journal
text. They are collected while the sealed values are opened, kept in memory for the audit only.

A failure names the check, the place (table.column and row ids, or a path) and what is wrong, never a value.
Resource handling: the store checks run inside ``Store.read`` on its reader connection; the file checks only
read (``lstat``, no symlink is followed).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from llmojid.common.lexicon import CELLS, PRIMARY_WORDS, STANCE_WORDS
from llmojid.common.sanitizer import find_pii
from llmojid.common.spool_format import SPOOL_HEADER_BYTES, SPOOL_MAGIC, SPOOL_SUFFIX, SPOOL_TMP_PREFIX, TAG_BYTES
from llmojid.common.taxonomy import MAX_FACE_LEN
from llmojid.daemon.privacy import bundle as layout
from llmojid.daemon.privacy.bundle_folder import read_folder
from llmojid.daemon.privacy.sealed import (
    columns,
    is_sealed_shape,
    iter_values,
    quote,
    sealed_columns,
    tables,
)
from llmojid.daemon.seal import SealError, key_id_of, open_sealed
from llmojid.daemon.sessions import SESSION_FIELDS, TYPING_FIELDS

CHECKS: Final = ("store.sealed", "store.plaintext", "sessions", "bundle", "spool", "logs", "modes")
#: Row ids named per failure (the count says how many there are).
MAX_ROW_IDS: Final = 5
#: Log bytes read per file (the newest part).
MAX_LOG_BYTES: Final = 16 * 1024 * 1024
#: Distinct journal tokens kept; past this the token check covers the first ones only (and says so).
MAX_TOKENS: Final = 500_000
#: The generic rule's longest plaintext value.
MAX_PLAIN_CHARS: Final = 256
#: Whitespace-separated words of two or more letters that make a value prose.
PROSE_WORDS: Final = 4

_ISO: Final = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})\Z")
_NAME: Final = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,31}\Z")
_MODEL: Final = re.compile(r"\A[\w.:/@+()\[\]-]{0,200}\Z")
_TOKEN: Final = re.compile(r"[^\s\"'`()<>\[\]{},;|]{10,256}")
_PART_SPLIT: Final = re.compile(r"[/\\:@=]")
_LEXICON: Final = frozenset(PRIMARY_WORDS) | frozenset(STANCE_WORDS)


@dataclass(frozen=True, slots=True)
class Failure:
    check: str
    where: str
    message: str


@dataclass
class Report:
    """What was checked (items per check) and every failure. ``ok`` when there is none."""

    checked: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, check: str, where: str, message: str) -> None:
        self.failures.append(Failure(check, where, message))

    def count(self, check: str, n: int = 1) -> None:
        self.checked[check] = self.checked.get(check, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": dict(self.checked),
            "failures": [{"check": f.check, "where": f.where, "message": f.message} for f in self.failures],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class AuditPaths:
    """Every path llmojid owns, as the running daemon sees them."""

    state_dir: Path
    database: Path
    spool_dir: Path
    socket_path: Path
    config_dir: Path
    config_file: Path
    data_dir: Path
    bundle_dir: Path
    logs: tuple[Path, ...] = ()
    #: OpenCode's hand-off folder (``<runtime dir>/opencode``), checked with the spool.
    handoff_dir: Path | None = None


# --- tokens --------------------------------------------------------------------------------------------------------
def distinctive_tokens(text: str) -> set[str]:
    """The tokens of ``text`` that could identify it (see the module docstring), with their path-like parts."""
    out: set[str] = set()
    for match in _TOKEN.finditer(text):
        for part in (match.group(0), *_PART_SPLIT.split(match.group(0))):
            token = part.strip(".:!?-")
            if len(token) >= 20 or (
                len(token) >= 10 and any(c.isdigit() or c in "-_./" for c in token) and token not in _LEXICON
            ):
                out.add(token)
    return out


# --- store ---------------------------------------------------------------------------------------------------------
KeyLookup = Callable[[str], "bytes | None"]


def _fixed(key: bytes) -> Callable[[str], bytes]:
    """A key lookup that always gives ``key`` (the caller already chose it by the value's key id)."""

    def lookup(_key_id: str) -> bytes:
        return key

    return lookup


def check_sealed(conn: sqlite3.Connection, key_for: KeyLookup, active_id: str, report: Report) -> set[str]:
    """The ``store.sealed`` check; returns the journal's distinctive tokens (for the bundle and log checks)."""
    tokens: set[str] = set()
    groups: dict[tuple[str, str, str], list[object]] = {}

    def note(where: str, kind: str, key_id: str, row_id: object) -> None:
        groups.setdefault((where, kind, key_id), []).append(row_id)

    for sc in sealed_columns(conn):
        for row_id, value in iter_values(conn, sc):
            report.count("store.sealed")
            if not is_sealed_shape(value):
                note(sc.where, "plain", "", row_id)
                continue
            assert isinstance(value, bytes)
            key_id = key_id_of(value)
            key = key_for(key_id)
            if key is None:
                note(sc.where, "missing", key_id, row_id)
                continue
            try:
                plain = open_sealed(_fixed(key), value, table=sc.table, column=sc.column, row_id=row_id)
            except SealError:
                note(sc.where, "noopen", key_id, row_id)
                continue
            if key_id != active_id:
                note(sc.where, "stale", key_id, row_id)
            if sc.table == "journal" and len(tokens) < MAX_TOKENS:
                tokens |= distinctive_tokens(plain.decode("utf-8", "replace"))
    for (where, kind, key_id), ids in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        shown = ", ".join(str(i) for i in ids[:MAX_ROW_IDS]) + (", ..." if len(ids) > MAX_ROW_IDS else "")
        n = len(ids)
        if kind == "plain":
            msg = f"{n} value(s) are not sealed (plaintext or malformed) in rows {shown}"
        elif kind == "missing":
            msg = (
                f"{n} value(s) in rows {shown} are sealed under key {key_id}, which is not in the keyring (deleted?):"
                " they can never be opened; forget them (llmojid-ctl forget)"
            )
        elif kind == "noopen":
            msg = (
                f"{n} value(s) in rows {shown} do not open under key {key_id} with their associated data"
                " (moved to another row, or damaged)"
            )
        else:
            msg = (
                f"{n} value(s) in rows {shown} are sealed under key {key_id}, not the active key {active_id}:"
                " a key rotation is unfinished; run llmojid-ctl keys rotate"
            )
        report.fail("store.sealed", where, msg)
    if len(tokens) >= MAX_TOKENS:
        report.notes.append(f"the journal has more than {MAX_TOKENS} distinctive tokens; the first were used")
    return tokens


def _is_prose(text: str) -> bool:
    words = [w for w in text.split() if sum(c.isalpha() for c in w) >= 2]
    return len(words) >= PROSE_WORDS


def _face_ok(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_FACE_LEN
        and value.isprintable()
        and not re.search(r"[A-Za-z]{4}", value)
        and not find_pii(value)
    )


def _hmac_ok(value: object) -> bool:
    return isinstance(value, bytes) and 16 <= len(value) <= 32


def _generic_ok(value: object) -> bool:
    if value is None or isinstance(value, int | float):
        return True
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return len(value) <= 64  # a keyed hash or id; a long opaque blob belongs in a sealed column
    assert isinstance(value, str)
    return len(value) <= MAX_PLAIN_CHARS and not _is_prose(value) and not find_pii(value)


def _text_rule(pattern: re.Pattern[str], *, pii: bool = True) -> Callable[[object], bool]:
    def rule(value: object) -> bool:
        return (
            isinstance(value, str)
            and bool(pattern.match(value))
            and not _is_prose(value)
            and not (pii and layout.name_pii_types(value))
        )

    return rule


def _int_rule(value: object) -> bool:
    return isinstance(value, int)


#: What the known plaintext columns may hold. Columns of tables added later fall under the generic rule.
PLAINTEXT_RULES: Final[dict[tuple[str, str], Callable[[object], bool]]] = {
    ("journal", "id"): _int_rule,
    ("journal", "dedup"): _hmac_ok,
    ("journal", "ts"): _text_rule(_ISO, pii=False),
    ("journal", "created_at"): _text_rule(_ISO, pii=False),
    ("journal", "harness"): _text_rule(_NAME),
    ("journal", "model"): _text_rule(_MODEL),
    ("journal", "kaomoji"): _face_ok,
    ("journal", "canonical"): _face_ok,
    ("synthesis_cache", "id"): _int_rule,
    ("synthesis_cache", "synthesis_model"): _text_rule(_MODEL),
    ("synthesis_cache", "backend"): _text_rule(_NAME),
    ("synthesis_cache", "method"): _text_rule(_NAME),
    ("synthesis_cache", "lexicon_version"): _int_rule,
    ("synthesis_cache", "source_model"): _text_rule(_MODEL),
    ("synthesis_cache", "canonical"): _face_ok,
    ("synthesis_cache", "samples_key"): _hmac_ok,
    ("synthesis_cache", "sample_count"): _int_rule,
    ("synthesis_cache", "created_at"): _text_rule(_ISO, pii=False),
}


def check_plaintext(conn: sqlite3.Connection, report: Report) -> None:
    """The ``store.plaintext`` check: distinct values per column, judged by the column's rule."""
    sealed = {(sc.table, sc.column) for sc in sealed_columns(conn)}
    for table in tables(conn):
        cols = columns(conn, table)
        pk = [name for name, _t, pos in cols if pos > 0]
        key = quote(pk[0]) if len(pk) == 1 else "rowid"
        for name, _type, _pos in cols:
            if (table, name) in sealed:
                continue
            rule = PLAINTEXT_RULES.get((table, name), _generic_ok)
            bad: list[object] = []
            sql = f"SELECT DISTINCT {quote(name)} FROM {quote(table)}"  # noqa: S608 - our schema's names, quoted
            for (value,) in conn.execute(sql):
                report.count("store.plaintext")
                if value is None and (table, name) not in PLAINTEXT_RULES:
                    continue
                if not rule(value):
                    bad.append(value)
            if not bad:
                continue
            ids: list[object] = []
            for value in bad[:MAX_ROW_IDS]:
                ids += [
                    r[0]
                    for r in conn.execute(
                        f"SELECT {key} FROM {quote(table)} WHERE {quote(name)} IS ? LIMIT ?",  # noqa: S608
                        (value, MAX_ROW_IDS),
                    )
                ]
            shown = ", ".join(str(i) for i in ids[:MAX_ROW_IDS]) + (", ..." if len(bad) > 1 else "")
            what = "what the schema allows" if (table, name) in PLAINTEXT_RULES else "short, non-prose, PII-free text"
            report.fail(
                "store.plaintext",
                f"{table}.{name}",
                f"{len(bad)} distinct value(s) in rows {shown} are not {what} (prose or personal data in clear)",
            )


# --- the session diary -----------------------------------------------------------------------------------------
def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def session_problems(line: dict[str, Any], tokens: set[str]) -> list[str]:
    """What is wrong with one diary line (empty when nothing): unknown fields, a field against its rule, or a
    distinctive token of the journal's text anywhere but in the model names (those are the journal's own
    plaintext column, checked by ``store.plaintext``). Pure."""
    problems: list[str] = []
    if set(line) != SESSION_FIELDS:
        return [f"fields other than the diary's: {', '.join(sorted(set(line) ^ SESSION_FIELDS))}"]
    typing = line["typing"]
    rules = {
        "harness": _text_rule(_NAME)(line["harness"]),
        "models": isinstance(line["models"], list)
        and line["model"] in line["models"]
        and all(_text_rule(_MODEL)(m) for m in line["models"]),
        "times": all(_text_rule(_ISO, pii=False)(line[k]) for k in ("start", "end")),
        "counts": all(_number(line[k]) for k in ("duration_seconds", "turns", "messages", "faces_total")),
        "faces": all(
            set(f) == {"canonical", "count"} and _face_ok(f["canonical"]) and _number(f["count"]) for f in line["faces"]
        ),
        "cells": all(
            set(c) == {"cell", "messages"} and c["cell"] in CELLS and _number(c["messages"]) for c in line["cells"]
        ),
        "typing": isinstance(typing, dict)
        and set(typing) == TYPING_FIELDS
        and all(v is None or _number(v) for v in typing.values()),
    }
    problems += [f"{name} break their rule" for name, ok in rules.items() if not ok]
    rest = {k: v for k, v in line.items() if k not in ("model", "models")}
    if distinctive_tokens(json.dumps(rest, ensure_ascii=False)) & tokens:
        problems.append("holds your journal's text")
    return problems


def check_sessions(lines: list[dict[str, Any]], tokens: set[str], report: Report) -> None:
    """The ``sessions`` check over the diary's lines as the daemon serves them (the newest
    ``sessions.MAX_SESSIONS``: what ``llmojid-ctl sessions`` and the report can show), numbered from 1, oldest
    first."""
    bad: dict[str, list[int]] = {}
    for number, line in enumerate(lines, start=1):
        report.count("sessions")
        for problem in session_problems(line, tokens):
            bad.setdefault(problem, []).append(number)
    for problem, numbers in sorted(bad.items()):
        shown = ", ".join(str(n) for n in numbers[:MAX_ROW_IDS]) + (", ..." if len(numbers) > MAX_ROW_IDS else "")
        report.fail("sessions", "journal.sessions", f"{len(numbers)} line(s) ({shown}): {problem}")


# --- files ---------------------------------------------------------------------------------------------------------
def check_bundle(folder: Path, tokens: set[str], report: Report) -> None:
    contents = read_folder(folder)
    if not contents.exists:
        report.notes.append(f"no bundle folder at {folder}")
        return
    for problem in contents.problems:
        report.fail("bundle", str(folder), problem)
    report.count("bundle", len(contents.files))
    if contents.problems:
        for problem in layout.validate(contents.files):
            if not problem.startswith("foreign file"):
                report.fail("bundle", str(folder), problem)
        return
    for problem in layout.validate(contents.files):
        report.fail("bundle", str(folder), problem)
    for name, data in sorted(contents.files.items()):
        hits = distinctive_tokens(data.decode("utf-8", "replace")) & tokens
        if hits:
            report.fail("bundle", str(folder / name), f"holds {len(hits)} word(s) of your journal's text")


def check_spool(spool_dir: Path, report: Report) -> None:
    try:
        st = os.lstat(spool_dir)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        report.fail("spool", str(spool_dir), "the spool is not a real folder (a symlink or a file)")
        return
    for entry in sorted(os.listdir(spool_dir)):
        path = spool_dir / entry
        report.count("spool")
        est = os.lstat(path)
        if not stat.S_ISREG(est.st_mode):
            report.fail("spool", str(path), "not a regular file (a symlink, folder or special file) in the spool")
            continue
        if entry.startswith(SPOOL_TMP_PREFIX):
            continue  # a hook is writing it (modes are the ``modes`` check's)
        if not entry.endswith(SPOOL_SUFFIX):
            report.fail("spool", str(path), "a foreign file in the spool (not a spool entry)")
            continue
        with open(path, "rb") as handle:
            head = handle.read(len(SPOOL_MAGIC))
        if head != SPOOL_MAGIC or est.st_size < SPOOL_HEADER_BYTES + TAG_BYTES:
            report.fail("spool", str(path), "a spool file that is not sealed (wrong magic or too short)")


#: A hand-off file older than this was left by a hook that did not finish and no later message picked it up.
HANDOFF_STALE_SECONDS: Final = 300.0


def check_handoffs(handoff_dir: Path, report: Report, *, now: float) -> None:
    """OpenCode's hand-off folder: a private folder, and no plaintext message left waiting in it."""
    try:
        st = os.lstat(handoff_dir)
    except FileNotFoundError:
        return
    report.count("spool")
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or _mode_problem(st, private=True):
        report.fail("spool", str(handoff_dir), "the OpenCode hand-off folder is not a private folder of ours")
        return
    for entry in sorted(os.listdir(handoff_dir)):
        path = handoff_dir / entry
        report.count("spool")
        est = os.lstat(path)
        if now - est.st_mtime > HANDOFF_STALE_SECONDS:
            report.fail(
                "spool",
                str(path),
                "an OpenCode message left in plaintext by a hook that did not finish; the next OpenCode message"
                " sends it (or delete the file)",
            )


def check_logs(logs: Iterable[Path], tokens: set[str], report: Report) -> None:
    for path in logs:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            report.fail("logs", str(path), "the log file named does not exist")
            continue
        if not stat.S_ISREG(st.st_mode):
            report.fail("logs", str(path), "not a regular file")
            continue
        with open(path, "rb") as handle:
            if st.st_size > MAX_LOG_BYTES:
                handle.seek(st.st_size - MAX_LOG_BYTES)
            text = handle.read(MAX_LOG_BYTES).decode("utf-8", "replace")
        report.count("logs")
        pii_lines: list[int] = []
        token_lines: list[int] = []
        for number, line in enumerate(text.splitlines(), start=1):
            # A log names our own paths (the state folder sits under the home folder): PATH is expected there.
            if any(f.type != "PATH" for f in find_pii(line)):
                pii_lines.append(number)
            if distinctive_tokens(line) & tokens:
                token_lines.append(number)
        if pii_lines:
            report.fail("logs", str(path), f"{len(pii_lines)} line(s) hold personal data (first: line {pii_lines[0]})")
        if token_lines:
            report.fail(
                "logs", str(path), f"{len(token_lines)} line(s) hold your journal's text (first: line {token_lines[0]})"
            )


def _mode_problem(st: os.stat_result, *, private: bool) -> str | None:
    if st.st_uid != os.getuid():
        return f"owned by uid {st.st_uid}, not by us"
    mode = stat.S_IMODE(st.st_mode)
    if private and mode & 0o077:
        want = "0700" if stat.S_ISDIR(st.st_mode) else "0600"
        return f"open to group/others (mode {mode:04o}); it must be private ({want})"
    if not private and mode & 0o022:
        return f"writable by group/others (mode {mode:04o})"
    return None


def _walk_private(root: Path, report: Report, *, private: bool) -> None:
    """Check ``root`` and everything under it: no symlink, ours, and closed (``private``) or not writable."""
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return
    stack: list[tuple[Path, os.stat_result]] = [(root, st)]
    while stack:
        path, st = stack.pop()
        report.count("modes")
        if stat.S_ISLNK(st.st_mode):
            report.fail("modes", str(path), "a symlink where llmojid keeps its own files")
            continue
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            report.fail("modes", str(path), "a special file where llmojid keeps its own files")
            continue
        problem = _mode_problem(st, private=private)
        if problem:
            report.fail("modes", str(path), problem)
        if stat.S_ISDIR(st.st_mode):
            for entry in sorted(os.listdir(path)):
                child = path / entry
                stack.append((child, os.lstat(child)))


def _check_socket(socket_path: Path, report: Report) -> None:
    """The socket and its folder (not recursive: ``--socket`` may put it in a shared folder such as /tmp, whose
    other entries are not ours)."""
    for path, want_socket in ((socket_path.parent, False), (socket_path, True)):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        report.count("modes")
        if want_socket and not stat.S_ISSOCK(st.st_mode):
            report.fail("modes", str(path), "the socket path is not a socket")
            continue
        if not want_socket and (stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode)):
            report.fail("modes", str(path), "the socket folder is not a real folder")
            continue
        problem = _mode_problem(st, private=True)
        if problem:
            report.fail("modes", str(path), problem)


def check_modes(p: AuditPaths, report: Report) -> None:
    _walk_private(p.state_dir, report, private=True)
    _check_socket(p.socket_path, report)
    _walk_private(p.bundle_dir, report, private=False)
    for path in (p.config_dir, p.config_file, p.data_dir):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        report.count("modes")
        if stat.S_ISLNK(st.st_mode) and path != p.config_file:
            report.fail("modes", str(path), "a symlink where llmojid keeps its own files")
            continue
        problem = _mode_problem(os.stat(path), private=False)
        if problem:
            report.fail("modes", str(path), problem)


def check_files(p: AuditPaths, tokens: set[str], report: Report, only: frozenset[str]) -> None:
    """The file checks (blocking: run in a worker thread)."""
    if "bundle" in only:
        check_bundle(p.bundle_dir, tokens, report)
    if "spool" in only:
        check_spool(p.spool_dir, report)
        if p.handoff_dir is not None:
            check_handoffs(p.handoff_dir, report, now=time.time())
    if "logs" in only:
        found = sorted(p.state_dir.glob("*.log")) if p.state_dir.is_dir() else []
        check_logs([*p.logs, *found], tokens, report)
    if "modes" in only:
        check_modes(p, report)
