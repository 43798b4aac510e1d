"""A sharded run on SQLite: each shard writes to a copy of the database taken as the run began, and what it
changed is merged back (new rows after the ids the database has by then, references moved with them)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ivr.migrations.runner import upgrade
from ivr.sim import VirtualClock
from ivr.sim import runner as sim_runner
from ivr.sim.profile import load_profile
from ivr.sim.runner import run_profile
from ivr.sim.shard_files import ShardFiles, start_shard

from ..conftest import AUTH_TOKEN, ROOT, SAMPLE_FLOWS

SAMPLE_PROFILE = ROOT / "profiles" / "acme.json"
MONDAY_6AM_CHICAGO = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW = "2026-11-23 12:00:00.000000"


def _database(tmp_path: Path, name: str = "run.sqlite3") -> Path:
    path = tmp_path / name
    upgrade(f"sqlite:///{path}")
    return path


def _add_call(db: sqlite3.Connection, sid: str, *events: str) -> int:
    """A call with events of these kinds; its id."""
    cursor = db.execute(
        "INSERT INTO calls (call_sid, account_sid, direction, role, from_number, to_number, status,"
        " status_rank, started_at, variables, tries, errors, updated_at)"
        " VALUES (?, '', 'inbound', 'caller', '+15125550111', '+15125550100', 'ringing', 0, ?,"
        " '{}', '{}', 0, ?)",
        (sid, NOW, NOW),
    )
    call_id = int(cursor.lastrowid or 0)
    for kind in events:
        db.execute(
            "INSERT INTO call_events (call_id, at, kind, data) VALUES (?, ?, ?, '{}')", (call_id, NOW, kind)
        )
    db.commit()
    return call_id


def _timeline(db: sqlite3.Connection, sid: str) -> list[str]:
    rows = db.execute(
        "SELECT e.kind FROM call_events e JOIN calls c ON c.id = e.call_id"
        " WHERE c.call_sid = ? ORDER BY e.id",
        (sid,),
    )
    return [kind for (kind,) in rows]


def _shard(files: ShardFiles, index: int) -> sqlite3.Connection:
    start_shard(files.base, files.path_for(index))
    db = sqlite3.connect(files.path_for(index))
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _run_with_a_call(path: Path, statement: str) -> ShardFiles:
    """A run's files whose shard 0 logged a call CAshard, then ran `statement`."""
    files = ShardFiles(str(path))
    files.snapshot()
    shard = _shard(files, 0)
    _add_call(shard, "CAshard", "status")
    shard.execute(statement)
    shard.commit()
    shard.close()
    return files


def test_a_shards_new_rows_come_after_the_ids_the_database_has_by_then(tmp_path: Path) -> None:
    """Another shard merged first took the ids this one's copy would give: its calls and their events move
    past them, each event still on its own call."""
    path = _database(tmp_path)
    main = sqlite3.connect(path)
    _add_call(main, "CAold", "status")
    files = ShardFiles(str(path))
    files.snapshot()
    first, second = _shard(files, 0), _shard(files, 1)
    _add_call(first, "CAfirst", "incoming", "menu")
    _add_call(second, "CAsecond", "incoming", "queue", "status")
    first.close(), second.close()
    files.merge(0, 5.0)
    files.merge(1, 5.0)
    calls = main.execute("SELECT call_sid, id FROM calls ORDER BY id").fetchall()
    assert [sid for sid, _id in calls] == ["CAold", "CAfirst", "CAsecond"]
    assert [call_id for _sid, call_id in calls] == [1, 2, 3]
    assert _timeline(main, "CAold") == ["status"]
    assert _timeline(main, "CAfirst") == ["incoming", "menu"]
    assert _timeline(main, "CAsecond") == ["incoming", "queue", "status"]
    assert not Path(files.path_for(0)).exists() and not Path(files.path_for(1)).exists()
    files.remove()
    assert not files.folder.exists()


def test_a_shards_changes_and_deletions_of_older_rows_reach_the_database(tmp_path: Path) -> None:
    """Rows that were there as the run began: what the shard changed is changed, what it deleted deleted."""
    path = _database(tmp_path)
    main = sqlite3.connect(path)
    kept = _add_call(main, "CAkept", "status")
    _add_call(main, "CAgone", "status")
    main.execute(
        "INSERT INTO throttles (scope, key, failures, first_failed_at, last_failed_at, locked_until)"
        " VALUES ('pin', 'a', 1, ?, ?, NULL), ('pin', 'b', 1, ?, ?, NULL)",
        (NOW, NOW, NOW, NOW),
    )
    main.commit()
    files = ShardFiles(str(path))
    files.snapshot()
    shard = _shard(files, 0)
    shard.execute("UPDATE calls SET status = 'completed', status_rank = 4 WHERE call_sid = 'CAkept'")
    shard.execute("DELETE FROM calls WHERE call_sid = 'CAgone'")  # its events go with it (ON DELETE CASCADE)
    shard.execute("UPDATE throttles SET failures = 3 WHERE key = 'a'")
    shard.execute("DELETE FROM throttles WHERE key = 'b'")
    shard.commit()
    shard.close()
    _add_call(main, "CAmeanwhile", "status")  # written by someone else during the run: left alone
    files.merge(0, 5.0)
    assert main.execute("SELECT call_sid, status FROM calls ORDER BY id").fetchall() == [
        ("CAkept", "completed"),
        ("CAmeanwhile", "ringing"),
    ]
    assert main.execute("SELECT COUNT(*) FROM call_events").fetchone() == (2,)
    assert main.execute("SELECT call_id FROM call_events ORDER BY id").fetchone() == (kept,)
    assert main.execute("SELECT key, failures FROM throttles").fetchall() == [("a", 3)]
    files.remove()


def test_a_row_deleted_and_made_again_under_the_same_unique_key_is_merged(tmp_path: Path) -> None:
    """An agent removed and added again keeps its agent id: the old row goes before the new one comes."""
    path = _database(tmp_path)
    main = sqlite3.connect(path)
    main.execute(
        "INSERT INTO agents (agent_id, desk, name, pin_hash, active, created_at)"
        " VALUES ('1001', 'local', 'Ann', 'x', 1, ?), ('1002', 'local', 'Bo', 'x', 1, ?)",
        (NOW, NOW),
    )
    main.commit()
    files = ShardFiles(str(path))
    files.snapshot()
    shard = _shard(files, 0)
    shard.execute("DELETE FROM agents WHERE agent_id = '1001'")
    shard.execute(
        "INSERT INTO agents (agent_id, desk, name, pin_hash, active, created_at)"
        " VALUES ('1001', 'bpo', 'Ann again', 'y', 1, ?)",
        (NOW,),
    )
    shard.commit()
    shard.close()
    files.merge(0, 5.0)
    assert main.execute("SELECT id, agent_id, desk FROM agents ORDER BY id").fetchall() == [
        (2, "1002", "local"),
        (3, "1001", "bpo"),
    ]
    files.remove()


def test_an_integer_key_that_is_data_keeps_its_value(tmp_path: Path) -> None:
    """Only a key named id is the database's to assign: a rollup's day is its own, whoever wrote it."""
    path = _database(tmp_path)
    files = ShardFiles(str(path))
    files.snapshot()
    for index, day in enumerate((20410, 20411)):
        shard = _shard(files, index)
        shard.execute(
            "INSERT INTO rollup_days (day, short_abandon_seconds, service_level_seconds, repeat_days,"
            " definitions_version, built_at) VALUES (?, 5, 20, 7, 1, ?)",
            (day, NOW),
        )
        shard.commit()
        shard.close()
    files.merge(0, 5.0)
    files.merge(1, 5.0)
    days = sqlite3.connect(path).execute("SELECT day FROM rollup_days ORDER BY day").fetchall()
    assert days == [(20410,), (20411,)]
    files.remove()


def test_merged_rows_are_stamped_when_they_become_visible(tmp_path: Path) -> None:
    """The API's sync reads changes in updated_at order: a shard's calls carry the time of their merge,
    not of their writing in the copy (a sync may have read past that meanwhile)."""
    path = _database(tmp_path)
    files = ShardFiles(str(path))
    files.snapshot()
    shard = _shard(files, 0)
    _add_call(shard, "CAshard", "status")  # stamped NOW, long before the merge
    shard.close()
    before = datetime.now(UTC).replace(tzinfo=None)
    files.merge(0, 5.0)
    (stamp,) = sqlite3.connect(path).execute("SELECT updated_at FROM calls").fetchone()
    assert datetime.fromisoformat(stamp) >= before
    files.remove()


def test_a_reference_to_another_column_than_the_id_is_kept_as_it_is(tmp_path: Path) -> None:
    """A column that refers to a call by its CallSid (not its id) is not moved with the call's id."""
    path = _database(tmp_path)
    main = sqlite3.connect(path)
    main.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, call_sid TEXT REFERENCES calls (call_sid))")
    main.commit()
    files = _run_with_a_call(path, "INSERT INTO notes (call_sid) VALUES ('CAshard')")
    _add_call(main, "CAmeanwhile", "status")  # the shard's call and note move past it
    files.merge(0, 5.0)
    assert main.execute("SELECT id, call_sid FROM notes").fetchall() == [(1, "CAshard")]
    assert _timeline(main, "CAshard") == ["status"]
    files.remove()


def test_a_table_without_a_primary_key_is_refused_before_anything_is_merged(tmp_path: Path) -> None:
    """Its rows could not be told apart: the merge stops, naming the table, and changes nothing."""
    path = _database(tmp_path)
    files = _run_with_a_call(path, "CREATE TABLE notes (text TEXT)")
    with pytest.raises(ValueError, match="table notes has no primary key"):
        files.merge(0, 5.0)
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM calls").fetchone() == (0,)
    files.remove()


def _call_log(path: Path) -> dict[str, Counter[Any]]:
    """What a run logged, told apart by everything but ids and CallSids (new in every run)."""
    db = sqlite3.connect(path)
    calls = db.execute(
        "SELECT direction, role, from_number, to_number, status, started_at, ended_at, duration, flow, node,"
        " desk, path, queue_time, queue_result, talk_time, agent, survey_score, errors FROM calls"
    )
    events = db.execute(
        "SELECT c.role, c.from_number, c.started_at, e.at, e.kind, e.node FROM call_events e"
        " JOIN calls c ON c.id = e.call_id"
    )
    counts = {
        name: db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]  # noqa: S608 - our own table names
        for name in ("status_callbacks", "webhook_answers", "agents", "throttles", "audit_log")
    }
    return {"calls": Counter(calls), "events": Counter(events), "counts": Counter(counts)}


def test_shards_on_copies_log_what_shards_sharing_the_database_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two shards in two processes, once on copies merged back and once on the database itself: the same
    calls, events and rows (ids and CallSids aside), and no copy left behind."""
    profile = load_profile(SAMPLE_PROFILE)
    monkeypatch.setenv("FLOWS_DIR", str(SAMPLE_FLOWS))
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("WEBHOOK_DEADLINE_SECONDS", "10")
    monkeypatch.setenv("WEBHOOK_LOCK_TIMEOUT_SECONDS", "5")
    logs = []
    for name, shared in (("copies", False), ("shared", True)):
        folder = tmp_path / name
        folder.mkdir()
        path = _database(folder)
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
        monkeypatch.setenv("JOURNAL_PATH", str(folder / "journal.jsonl"))
        if shared:
            monkeypatch.setattr(sim_runner, "_shard_files", lambda _settings: None)
        result = run_profile(profile, 60, 2, VirtualClock(MONDAY_6AM_CHICAGO), None, 3, lambda _n: None, 2)
        assert len(result.load) == 2 and result.summary()["errors"] == 0
        logs.append(_call_log(path))
        assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".ivr-shards")) == []
    copies, shared_log = logs
    assert sum(copies["calls"].values()) > 60  # the callers, and the agents' legs
    assert copies == shared_log


def test_a_merge_that_fails_keeps_the_copies_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second shard cannot be merged: the run stops naming the folder of the copies, which is kept;
    the first shard's calls are in the database."""
    profile = load_profile(SAMPLE_PROFILE)
    for name, value in {"FLOWS_DIR": str(SAMPLE_FLOWS), "SECRET_KEY": "x", "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                        "WEBHOOK_DEADLINE_SECONDS": "10", "WEBHOOK_LOCK_TIMEOUT_SECONDS": "5",
                        "JOURNAL_PATH": str(tmp_path / "journal.jsonl")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    path = _database(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    merge = ShardFiles.merge

    def failing(files: ShardFiles, index: int, busy_seconds: float) -> None:
        if index == 1:
            raise sqlite3.IntegrityError("UNIQUE constraint failed: calls.call_sid")
        merge(files, index, busy_seconds)

    monkeypatch.setattr(ShardFiles, "merge", failing)
    with pytest.raises(sim_runner.MergeFailed, match="shard 1 could not be merged") as failed:
        run_profile(profile, 40, 2, VirtualClock(MONDAY_6AM_CHICAGO), None, 3, lambda _n: None, 2)
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith(".ivr-shards")]
    assert str(folder) in str(failed.value)
    assert (folder / "shard-1.sqlite3").exists() and (folder / "base.sqlite3").exists()
    callers = sqlite3.connect(path).execute("SELECT COUNT(*) FROM calls WHERE role = 'caller'").fetchone()[0]
    assert 0 < callers < 40  # the first shard's
