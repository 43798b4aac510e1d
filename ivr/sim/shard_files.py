"""A sharded run's SQLite files: each shard writes to a copy of the run's database taken as the run began, and
its changes are merged back in shard order (docs/simulator.md, "How fast, and both cores")."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from graphlib import TopologicalSorter
from pathlib import Path

from ..writer_lock import SUFFIX

COMPANIONS = ("-wal", "-shm", "-journal", SUFFIX)  # SQLite's files beside a database, and the writer lock
ASSIGNED = "id"  # ivr's name for a key the database assigns (INTEGER: SQLite's rowid); other keys are data
STAMPED = "updated_at"  # ivr's name for when a row last changed (calls: the API's sync reads it)
STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a datetime in SQLite


@dataclass(frozen=True)
class Table:
    """What a merge needs of a table: its columns, its primary key, whether that key is a rowid the database
    assigns (a new row's id is above the copy's largest), and the columns that refer to such ids."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    assigned: bool
    references: dict[str, str]  # column -> the table whose assigned id it holds


class ShardFiles:
    """The copies of one run: `base` (the database as the run began) and one file per shard beside it."""

    def __init__(self, database: str) -> None:
        self.database = database
        # absolute: the shards' processes are forked from a fork server, whose working folder may differ
        self.folder = Path(tempfile.mkdtemp(prefix=".ivr-shards-", dir=Path(database).absolute().parent))
        self.base = str(self.folder / "base.sqlite3")

    def snapshot(self) -> None:
        """Copy the run's database as it is now (SQLite's backup: consistent while others write)."""
        with closing(sqlite3.connect(self.database)) as source, closing(sqlite3.connect(self.base)) as copy:
            source.backup(copy)

    def path_for(self, index: int) -> str:
        """Where shard `index` writes."""
        return str(self.folder / f"shard-{index}.sqlite3")

    def merge(self, index: int, busy_seconds: float) -> None:
        """Apply shard `index`'s changes since the snapshot to the run's database, in one transaction; the
        rows it writes are stamped `updated_at` now, as they become visible (the API's sync orders by it)."""
        with closing(sqlite3.connect(self.database, timeout=busy_seconds, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("ATTACH DATABASE ? AS base", (self.base,))
            db.execute("ATTACH DATABASE ? AS shard", (self.path_for(index),))
            tables = read_tables(db, "shard")
            db.execute("BEGIN IMMEDIATE")
            try:
                shifts = {t.name: _shift(db, t) for t in tables if t.assigned}
                for table in reversed(tables):  # deleted first: a row may come back under the same unique key
                    _delete(db, table)
                now = datetime.now(UTC).strftime(STORED_TIME)
                for table in tables:  # a row's references first
                    _upsert(db, table, shifts, now)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (a full disk, say)
                    db.execute("ROLLBACK")
                raise
            finally:
                for name in ("shard", "base"):
                    db.execute(f"DETACH DATABASE {name}")
        _remove(self.path_for(index))

    def remove(self) -> None:
        """Delete every copy."""
        shutil.rmtree(self.folder, ignore_errors=True)


def start_shard(base: str, path: str) -> None:
    """Make a shard's file: a copy of the snapshot (in the shard's own process, so that copies run side by
    side)."""
    shutil.copyfile(base, path)


def read_tables(db: sqlite3.Connection, schema: str) -> list[Table]:
    """The tables of an attached database, a table after those it refers to; SQLite's own left out."""
    listed = (
        f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_'"
    )
    names = [row[0] for row in db.execute(listed)]
    found: dict[str, Table] = {}
    links: dict[str, list[tuple[str, str, str | None]]] = {}  # table -> (column, target, target's column)
    for name in names:
        info = db.execute(f"PRAGMA {schema}.table_info({_quote(name)})").fetchall()
        columns = tuple(row[1] for row in info)
        key = tuple(row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        if not key:
            raise ValueError(f"table {name} has no primary key: a shard's rows in it could not be merged")
        assigned = key == (ASSIGNED,) and next(r[2] for r in info if r[1] == ASSIGNED).upper() == "INTEGER"
        found[name] = Table(name, columns, key, assigned, {})
        foreign = db.execute(f"PRAGMA {schema}.foreign_key_list({_quote(name)})").fetchall()
        links[name] = [(row[3], row[2], row[4]) for row in foreign]
    named = {name.lower(): table for name, table in found.items()}  # SQLite's names ignore case
    depends: dict[str, set[str]] = {}
    for name, table in found.items():  # a reference moves with the id it holds: an assigned key's
        depends[name] = set()
        for column, target_name, to in links[name]:
            target = named.get(target_name.lower())
            if target is None:
                continue
            if target.assigned and to in (None, ASSIGNED):
                table.references[column] = target.name
            if target.name != name:
                depends[name].add(target.name)
    return [found[name] for name in TopologicalSorter(depends).static_order() if name in found]


def _shift(db: sqlite3.Connection, table: Table) -> tuple[int, int]:
    """The snapshot's largest id in a table with assigned ids, and what the shard's new ids move by: past
    every id the run's database has now (other shards', anyone's)."""
    (key,) = table.key
    copied = _largest(db, "base", table.name, key)
    now = _largest(db, "main", table.name, key)
    return copied, max(now, copied) - copied


def _largest(db: sqlite3.Connection, schema: str, table: str, key: str) -> int:
    row = db.execute(f"SELECT COALESCE(MAX({_quote(key)}), 0) FROM {schema}.{_quote(table)}").fetchone()
    return int(row[0])


def _moved(column: str, target: str, shifts: dict[str, tuple[int, int]]) -> str:
    """An id column of a shard's row as it goes into the run's database: moved if the shard made it."""
    copied, shift = shifts[target]
    quoted = f"s.{_quote(column)}"
    return f"CASE WHEN {quoted} > {copied} THEN {quoted} + {shift} ELSE {quoted} END" if shift else quoted


def _upsert(db: sqlite3.Connection, table: Table, shifts: dict[str, tuple[int, int]], now: str) -> None:
    """The shard's new rows, and its rows that differ from the snapshot, into the run's database."""
    name, keys = _quote(table.name), ", ".join(_quote(c) for c in table.key)
    values = []
    for column in table.columns:
        if table.assigned and column == table.key[0]:
            values.append(_moved(column, table.name, shifts))
        elif column in table.references:
            values.append(_moved(column, table.references[column], shifts))
        elif column == STAMPED:
            values.append(":now")
        else:
            values.append(f"s.{_quote(column)}")
    others = [_quote(c) for c in table.columns if c not in table.key]
    update = ", ".join(f"{c} = excluded.{c}" for c in others)
    on_conflict = f"DO UPDATE SET {update}" if others else "DO NOTHING"
    rows = _changed(table, shifts)
    db.execute(
        f"INSERT INTO main.{name} ({_columns(table)}) SELECT {', '.join(values)} FROM ({rows}) AS s"
        f" WHERE true ON CONFLICT ({keys}) {on_conflict}",
        {"now": now},
    )


def _changed(table: Table, shifts: dict[str, tuple[int, int]]) -> str:
    """The shard's rows that are new or differ from the snapshot's; with assigned ids, the new ones are
    told by their ids alone (no comparing)."""
    name, columns = _quote(table.name), _columns(table)
    if not table.assigned:
        return f"SELECT {columns} FROM shard.{name} EXCEPT SELECT {columns} FROM base.{name}"
    key, copied = _quote(table.key[0]), shifts[table.name][0]
    older = f"SELECT {columns} FROM shard.{name} WHERE {key} <= {copied}"
    return (
        f"SELECT {columns} FROM shard.{name} WHERE {key} > {copied}"
        f" UNION ALL SELECT * FROM ({older} EXCEPT SELECT {columns} FROM base.{name})"
    )


def _columns(table: Table) -> str:
    return ", ".join(_quote(c) for c in table.columns)


def _delete(db: sqlite3.Connection, table: Table) -> None:
    """The snapshot's rows the shard deleted, out of the run's database."""
    name, keys = _quote(table.name), ", ".join(_quote(c) for c in table.key)
    gone = f"SELECT {keys} FROM base.{name} EXCEPT SELECT {keys} FROM shard.{name}"
    db.execute(f"DELETE FROM main.{name} WHERE ({keys}) IN ({gone})")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _remove(path: str) -> None:
    for suffix in ("", *COMPANIONS):
        with suppress(FileNotFoundError):
            os.remove(path + suffix)
