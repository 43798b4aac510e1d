"""The journal file: appends from several processes at once, each record whole; bounded; rotation."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

from ivr.calls.journal import Journal, read

PROCESSES = 4
RECORDS = 50
PADDING = "x" * 9000  # more than PIPE_BUF (4096): a record is written whole only thanks to the lock


def _append_many(path: str, writer: int) -> None:
    book = Journal(Path(path))
    for number in range(RECORDS):
        assert book.append({"id": f"{writer}-{number}", "writer": writer, "number": number, "pad": PADDING})


def test_processes_appending_at_once_leave_every_record_whole(tmp_path):
    path = tmp_path / "journal.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(path), w)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    records = list(read(path))
    assert sorted(r["id"] for r in records) == sorted(
        f"{w}-{n}" for w in range(PROCESSES) for n in range(RECORDS)
    )
    assert all(r["pad"] == PADDING for r in records)
    for writer in range(PROCESSES):  # each process's records in the order it wrote them
        assert [r["number"] for r in records if r["writer"] == writer] == list(range(RECORDS))


def test_a_full_journal_drops_and_counts(tmp_path, caplog):
    book = Journal(tmp_path / "journal.jsonl", max_bytes=100)
    assert book.append({"id": "a"})
    with caplog.at_level(logging.ERROR):
        assert not book.append({"id": "b", "pad": "y" * 100})
        assert not book.append({"id": "c", "pad": "y" * 100})
    assert [r["id"] for r in read(book.path)] == ["a"]
    assert book.status().dropped == 2
    assert "JOURNAL FULL" in caplog.text


def test_records_appended_after_a_replay_took_the_file_are_kept(tmp_path):
    book = Journal(tmp_path / "journal.jsonl")
    book.append({"id": "before"})
    taken = book.take()
    assert taken == book.replaying
    book.append({"id": "during"})
    assert book.take() == book.replaying  # an unfinished replay's records come first
    book.done(taken)
    assert [r["id"] for r in read(book.path)] == ["during"]
    assert book.pending()


def test_a_torn_last_line_is_skipped(tmp_path, caplog):
    book = Journal(tmp_path / "journal.jsonl")
    book.append({"id": "whole"})
    with book.path.open("a") as file:
        file.write('{"id": "to')  # a crash in the middle of a write
    assert [r["id"] for r in read(book.path)] == ["whole"]
    assert "not a whole record" in caplog.text


def test_only_one_replay_at_a_time(tmp_path):
    book = Journal(tmp_path / "journal.jsonl")
    with book.replay_lock() as first, Journal(book.path).replay_lock() as second:
        assert (first, second) == (True, False)


def test_a_journal_that_cannot_be_written_drops_the_record_loudly(tmp_path, caplog) -> None:
    """A file where the journal's folder should be: nothing can be written or read, and nothing raises."""
    (tmp_path / "blocked").write_text("a file, not a folder")
    unwritable = Journal(tmp_path / "blocked" / "journal.jsonl")
    assert unwritable.append({"kind": "step"}) is False
    assert "JOURNAL UNWRITABLE" in caplog.text
    assert unwritable.pending() is False
