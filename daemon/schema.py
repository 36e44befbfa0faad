"""The database schema, as an append-only list of migrations (``PRAGMA user_version`` counts them).

Plaintext columns hold only what aggregates need: timestamps, harness and model names, faces, counts, ids.
Everything a person wrote or could be identified by (prompts, messages, working directories, session ids,
embeddings, synthesis inputs) is a sealed BLOB (see ``llmojid.daemon.seal``). The auditor checks this split.
"""

from __future__ import annotations

from typing import Final

#: Migration N (1-based) takes the schema from version N-1 to N. Never edit a released entry: append.
MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the journal.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    CREATE TABLE journal (
        id             INTEGER PRIMARY KEY,
        dedup          BLOB NOT NULL UNIQUE,   -- HMAC(index key, harness, session, message id)
        ts             TEXT NOT NULL,          -- ISO-8601 UTC
        harness        TEXT NOT NULL,
        model          TEXT NOT NULL,
        kaomoji        TEXT NOT NULL,
        canonical      TEXT NOT NULL,
        session        BLOB,                   -- sealed
        user_text      BLOB,                   -- sealed
        assistant_text BLOB,                   -- sealed
        cwd            BLOB,                   -- sealed
        created_at     TEXT NOT NULL
    ) STRICT;
    CREATE INDEX journal_ts ON journal (ts);
    CREATE INDEX journal_cell ON journal (model, canonical);
    """,
    # 2 (owner: synthesis, daemon/model/cache.py): the per-cell synthesis cache. One row per (synthesis model,
    # backend, method, lexicon version, source model, canonical face); samples_key is an HMAC of the samples the
    # bag was made from, so a changed cell misses. The bag itself is sealed.
    """
    CREATE TABLE synthesis_cache (
        id              INTEGER PRIMARY KEY,
        synthesis_model TEXT NOT NULL,          -- GGUF file name or endpoint model name, never a path
        backend         TEXT NOT NULL,          -- 'llama.cpp' | 'openai-compatible'
        method          TEXT NOT NULL,          -- 'scoring' | 'generation'
        lexicon_version INTEGER NOT NULL,
        source_model    TEXT NOT NULL,
        canonical       TEXT NOT NULL,
        samples_key     BLOB NOT NULL,          -- HMAC(index key, prepared samples + synthesizer identity)
        sample_count    INTEGER NOT NULL,
        synthesis       BLOB,                   -- sealed JSON bag
        created_at      TEXT NOT NULL,
        UNIQUE (synthesis_model, backend, method, lexicon_version, source_model, canonical)
    ) STRICT;
    CREATE INDEX synthesis_cache_cell ON synthesis_cache (source_model, canonical);
    """,
    # 3 (owner: hooks and adapters, daemon/adapters/): per-transcript read cursors, so a hook reads only what was
    # appended since the last one, and per-harness ingest counters for `stats` (health: stale hooks, bad input).
    # A cursor is keyed by an HMAC of (harness, path) and its state (offset, file identity, hashes of the file's
    # head and of the bytes before the offset, the parse state with the latest prompt) is sealed.
    """
    CREATE TABLE transcript_cursor (
        id         INTEGER PRIMARY KEY,
        path_key   BLOB NOT NULL UNIQUE,        -- HMAC(index key, 'cursor', harness, transcript path)
        harness    TEXT NOT NULL,
        state      BLOB,                        -- sealed msgpack Cursor (llmojid.daemon.adapters.reader)
        updated_at TEXT NOT NULL
    ) STRICT;
    CREATE TABLE ingest_health (
        harness       TEXT PRIMARY KEY,
        events        INTEGER NOT NULL DEFAULT 0,   -- hook events handled (direct and spooled)
        spooled       INTEGER NOT NULL DEFAULT 0,   -- of which arrived through the spool
        rows_added    INTEGER NOT NULL DEFAULT 0,
        bad_payloads  INTEGER NOT NULL DEFAULT 0,   -- payloads that did not decode or named no readable file
        bad_lines     INTEGER NOT NULL DEFAULT 0,   -- transcript lines skipped (not JSON, wrong shape, over-long)
        last_event_at TEXT NOT NULL DEFAULT ''
    ) STRICT;
    """,
    # 4 (owner: keystrokes, daemon/keystrokes/state.py): typing windows (one per submitted prompt) and the
    # user's typing baseline. Raw key events are never stored. Plaintext: when a window closed (to link journal
    # turns to it), the sender kind ('wrap', an editor plugin's name) and what happened to it; everything about
    # how the user typed (counts, timing aggregates, embedding, deviation score, flag, the baseline) is sealed.
    """
    CREATE TABLE typing_window (
        id         INTEGER PRIMARY KEY,
        closed_at  TEXT NOT NULL,               -- ISO-8601 UTC, when the prompt's Enter reached the daemon
        source     TEXT NOT NULL,               -- sender kind only, never its session token
        status     TEXT NOT NULL,               -- 'short' | 'pending' | 'enrolled' | 'scored' | 'unencoded'
        summary    BLOB,                        -- sealed JSON: event and class counts, timing aggregates
        embedding  BLOB,                        -- sealed float32 TCN embedding
        score      BLOB,                        -- sealed JSON: deviation, threshold, flagged
        created_at TEXT NOT NULL
    ) STRICT;
    CREATE INDEX typing_window_closed ON typing_window (closed_at);
    CREATE TABLE typing_baseline (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        state      BLOB NOT NULL,               -- sealed: enrolled count + mean embedding
        updated_at TEXT NOT NULL
    ) STRICT;
    """,
    # 5 (owner: taxonomy, daemon/resplit.py): the face rules became llmoji 3.0's (issue 13). Rows written before
    # are re-split when the store opens (it needs the keys); this only marks the journal as pending, from row 0.
    """
    INSERT INTO meta (key, value) VALUES ('resplit_after', '0')
        ON CONFLICT (key) DO UPDATE SET value = '0';
    """,
)

SCHEMA_VERSION: Final = len(MIGRATIONS)

#: ``meta`` rows the store itself keeps: its random id (the keyring entries are named by it, ``keys.bind``), a
#: pending move of keyring entries from the names used before the binding, and an unfinished ``forget --all``.
META_STORE_ID: Final = "store-id"
META_KEYRING_MOVE: Final = "keyring-move"
META_FORGET_ALL: Final = "forget-all"

#: Columns whose values are keyed hashes under the index key (dedup ids, cursor keys, cache keys): a store with a
#: row in any of these needs its index key, never a new one.
INDEX_KEYED_COLUMNS: Final[dict[str, str]] = {
    "journal": "dedup",
    "synthesis_cache": "samples_key",
    "transcript_cursor": "path_key",
}

#: Sealed columns per table: the auditor, key rotation and forgetting walk exactly these.
SEALED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "journal": ("session", "user_text", "assistant_text", "cwd"),
    "synthesis_cache": ("synthesis",),
    "transcript_cursor": ("state",),
    "typing_window": ("summary", "embedding", "score"),
    "typing_baseline": ("state",),
}
