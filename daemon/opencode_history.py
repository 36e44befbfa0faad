"""OpenCode's own history (``opencode.db``), read for ``import opencode`` without getting in OpenCode's way.

Where: ``$OPENCODE_DB`` (absolute, or relative to OpenCode's data folder), else every ``opencode*.db`` in
``$XDG_DATA_HOME/opencode`` (``~/.local/share/opencode``): ``opencode.db`` for the release channels, and
``opencode-<channel>.db`` for others (OpenCode 1.18 names them so).

How: the database is in WAL mode and may be open in a running OpenCode. It is opened read-only through a
``file:...?mode=ro`` URI with ``query_only`` on and a short busy timeout, and read one session at a time in
autocommit mode, so no read transaction outlives a few statements: a WAL reader never blocks OpenCode's writes,
and short snapshots never hold its checkpoints back for long.

What: the tables ``session(id, parent_id, directory, ...)``, ``message(id, session_id, time_created, data)`` and
``part(id, message_id, session_id, data)``; ids live in the columns only, so each document gets them put back.
Each assistant message becomes the document our plugin hands the hook (``adapters.opencode``), so both paths
derive the same rows and ids. Subagent sessions (with a parent) are skipped. Nothing here logs a path or text.
"""

from __future__ import annotations

import glob
import json
import os
import sqlite3
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

from llmojid.daemon.adapters.reader import NotReadable

#: Seconds a statement may wait on a lock before the file is reported unreadable (OpenCode is never waited on long).
BUSY_TIMEOUT_SECONDS: Final = 0.5
SessionRow = tuple[str, str, str]  # id, parent id, directory


def data_dir(home: str, environ: Mapping[str, str]) -> str:
    base = environ.get("XDG_DATA_HOME", "")
    return os.path.join(base if os.path.isabs(base) else os.path.join(home, ".local", "share"), "opencode")


def database_paths(home: str, environ: Mapping[str, str]) -> list[str]:
    """The history databases to read (existing files only), in a stable order."""
    folder = data_dir(home, environ)
    chosen = environ.get("OPENCODE_DB", "")
    if chosen and chosen != ":memory:":
        path = chosen if os.path.isabs(chosen) else os.path.join(folder, chosen)
        return [path] if os.path.isfile(path) else []
    return sorted(p for p in glob.glob(os.path.join(glob.escape(folder), "opencode*.db")) if os.path.isfile(p))


def connect_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection that never writes the file and gives up quickly on a lock. Raises NotReadable."""
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
        return conn
    except sqlite3.Error as exc:
        raise NotReadable(f"cannot open the OpenCode history ({type(exc).__name__})") from None


def sessions(path: str) -> list[SessionRow]:
    """Every top-level session (subagent sessions left out), oldest first. Raises NotReadable."""
    conn = connect_readonly(path)
    try:
        found = conn.execute("SELECT id, parent_id, directory FROM session ORDER BY time_created, id").fetchall()
    except sqlite3.Error as exc:
        raise NotReadable(f"cannot read the OpenCode history ({type(exc).__name__})") from None
    finally:
        conn.close()
    return [(str(i), str(p or ""), str(d or "")) for i, p, d in found if isinstance(i, str) and not p]


def _json_object(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def documents(path: str, chosen: list[SessionRow]) -> tuple[list[dict[str, Any]], int]:
    """The plugin-shaped document of every assistant message in the chosen sessions, and how many records did not
    decode. Raises NotReadable."""
    conn = connect_readonly(path)
    out: list[dict[str, Any]] = []
    bad = 0
    try:
        for session_id, parent_id, directory in chosen:
            infos: dict[str, dict[str, Any]] = {}
            order: list[str] = []
            for message_id, raw in conn.execute(
                "SELECT id, data FROM message WHERE session_id = ? ORDER BY time_created, id", (session_id,)
            ):
                info = _json_object(raw)
                if info is None or not isinstance(message_id, str):
                    bad += 1
                    continue
                infos[message_id] = info | {"id": message_id, "sessionID": session_id}
                order.append(message_id)
            texts: dict[str, list[dict[str, Any]]] = {}
            for part_id, message_id, raw in conn.execute(
                "SELECT id, message_id, data FROM part WHERE session_id = ?"
                " AND json_valid(data) AND json_extract(data, '$.type') = 'text' ORDER BY id",
                (session_id,),
            ):
                part = _json_object(raw)
                if part is None:
                    bad += 1
                    continue
                texts.setdefault(str(message_id), []).append(part | {"id": part_id, "messageID": message_id})
            session = {"id": session_id, "parentID": parent_id or None, "directory": directory}
            for message_id in order:
                info = infos[message_id]
                if info.get("role") != "assistant":
                    continue
                parent = info.get("parentID")
                prompt_info = infos.get(parent) if isinstance(parent, str) else None
                prompt_parts = texts.get(parent, []) if isinstance(parent, str) else []
                out.append(
                    {
                        "info": info,
                        "parts": texts.get(message_id, []),
                        "prompt": {"info": prompt_info, "parts": prompt_parts},
                        "session": session,
                    }
                )
    except sqlite3.Error as exc:
        raise NotReadable(f"cannot read the OpenCode history ({type(exc).__name__})") from None
    finally:
        conn.close()
    return out, bad
