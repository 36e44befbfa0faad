"""The store's sealed values, walked generically: every column ``schema.SEALED_COLUMNS`` names.

Why generic: the auditor, key rotation and forgetting must cover tables that other components add later (typing
data, transcript cursors) without a change here. A sealed table only has to follow the store's convention: the
row id in a value's associated data is the table's primary key (``id INTEGER PRIMARY KEY`` in every table so
far; a table without a single-column primary key uses ``rowid``).

The key id of a value is bytes 2-5 of its header (``llmojid.daemon.seal``), so SQL can count and select values by
key (``substr(col, 2, 4)``) without opening them: that is what lets rotation resume by selecting only the values
not yet under the new key.

Resource handling: every function takes a connection it does not own and runs on the caller's thread (inside
``Store.read`` or ``Store.write``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from llmojid.daemon import schema
from llmojid.daemon.seal import HEADER_BYTES, KEY_ID_BYTES, VERSION

#: A row id as the associated data names it: the table's primary key (an integer in every table so far).
RowId = int | str


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """One sealed column, and the column whose value is the row id its associated data binds."""

    table: str
    column: str
    key: str

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}"


def quote(identifier: str) -> str:
    """An SQL identifier, quoted (names come from our own schema, but quoting keeps odd names harmless)."""
    return '"' + identifier.replace('"', '""') + '"'


def tables(conn: sqlite3.Connection) -> list[str]:
    """Every user table in the database (SQLite's own tables left out), sorted."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, int]]:
    """(name, declared type, primary-key position) of each column of ``table``."""
    return [(str(r[1]), str(r[2]).upper(), int(r[5])) for r in conn.execute(f"PRAGMA table_info({quote(table)})")]


def key_column(conn: sqlite3.Connection, table: str) -> str:
    pk = [name for name, _type, position in columns(conn, table) if position > 0]
    return pk[0] if len(pk) == 1 else "rowid"


def sealed_columns(conn: sqlite3.Connection) -> list[SealedColumn]:
    """The sealed columns of the tables that exist, in ``SEALED_COLUMNS`` order."""
    present = set(tables(conn))
    out: list[SealedColumn] = []
    for table, cols in schema.SEALED_COLUMNS.items():
        if table not in present:
            continue
        key = key_column(conn, table)
        out.extend(SealedColumn(table, col, key) for col in cols)
    return out


def is_sealed_shape(value: object) -> bool:
    """True when ``value`` has a sealed value's shape (a BLOB, version byte, room for header and tag)."""
    return isinstance(value, bytes) and len(value) >= HEADER_BYTES + 16 and value[0] == VERSION


def key_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many sealed values each key id seals, over every sealed column (values of the wrong shape left out)."""
    counts: dict[str, int] = {}
    for sc in sealed_columns(conn):
        col = quote(sc.column)
        # Our schema's names, quoted.
        sql = (
            f"SELECT lower(hex(substr({col}, 2, {KEY_ID_BYTES}))), count(*) FROM {quote(sc.table)}"  # noqa: S608
            f" WHERE typeof({col}) = 'blob' AND length({col}) >= {HEADER_BYTES + 16}"
            f" AND substr({col}, 1, 1) = X'{VERSION:02x}' GROUP BY 1"
        )
        for key_id, n in conn.execute(sql):
            counts[str(key_id)] = counts.get(str(key_id), 0) + int(n)
    return counts


def values_not_under(
    conn: sqlite3.Connection, sc: SealedColumn, key_id: str, after: RowId | None, limit: int
) -> list[tuple[RowId, object]]:
    """Up to ``limit`` (row id, value) pairs of ``sc`` not sealed under ``key_id``, row id > ``after``, in order.

    ``after`` None starts at the beginning. Values of any shape are returned (a malformed one is the caller's to
    report), NULLs are not.
    """
    col, key = quote(sc.column), quote(sc.key) if sc.key != "rowid" else "rowid"
    where = f"{col} IS NOT NULL AND (typeof({col}) != 'blob' OR substr({col}, 2, {KEY_ID_BYTES}) != ?)"
    params: list[object] = [bytes.fromhex(key_id)]
    if after is not None:
        where += f" AND {key} > ?"
        params.append(after)
    sql = f"SELECT {key}, {col} FROM {quote(sc.table)} WHERE {where} ORDER BY {key} LIMIT ?"  # noqa: S608
    return [(r[0], r[1]) for r in conn.execute(sql, (*params, limit))]


def iter_values(conn: sqlite3.Connection, sc: SealedColumn, batch: int = 1024) -> Iterator[tuple[RowId, object]]:
    """Every non-NULL (row id, value) of ``sc``, in row-id order, fetched in batches."""
    col, key = quote(sc.column), quote(sc.key) if sc.key != "rowid" else "rowid"
    after: RowId | None = None
    while True:
        if after is None:
            rows = conn.execute(
                f"SELECT {key}, {col} FROM {quote(sc.table)} WHERE {col} IS NOT NULL ORDER BY {key} LIMIT ?",  # noqa: S608
                (batch,),
            ).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {key}, {col} FROM {quote(sc.table)} WHERE {col} IS NOT NULL AND {key} > ?"  # noqa: S608
                f" ORDER BY {key} LIMIT ?",
                (after, batch),
            ).fetchall()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]
