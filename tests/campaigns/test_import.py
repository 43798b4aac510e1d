"""Contact import: E.164, every bad row reported by line, duplicates merged, headers checked, streamed."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from ivr.campaigns import importer
from ivr.campaigns.csvfile import FileError
from ivr.campaigns.dnc import block
from ivr.campaigns.importer import ImportRefused, Merged, import_contacts
from ivr.campaigns.service import change_state
from ivr.models import Contact

from ..campaign_helpers import contacts, load, new_campaign
from ..conftest import OPEN
from ..twilio import xpath


@pytest.fixture
def campaign(app, session):
    return new_campaign(app, session)


def test_numbers_are_normalised_and_extra_columns_become_variables(session, campaign) -> None:
    text = (
        "Phone,NAME,TimeZone,appointment,Doctor\n"
        "(512) 555-0101,Ann Lee,,Monday 10:00,Dr Who\n"
        "+1 212 555 1234,Bob,America/New_York,Tuesday 9:30,\n"
        "1-208-555-0100,Cleo,,,\n"
    )
    report = load(session, campaign, text)
    assert (report.rows, report.imported, report.merged, report.invalid) == (3, 3, [], [])
    assert report.region == "US"  # from the campaign's caller ID
    found = contacts(session, campaign)
    assert sorted(found) == ["+12085550100", "+12125551234", "+15125550101"]
    ann = found["+15125550101"]
    assert (ann.name, ann.timezone, ann.line, ann.state, ann.attempts) == ("Ann Lee", None, 2, "pending", 0)
    assert ann.variables == {"appointment": "Monday 10:00", "Doctor": "Dr Who"}
    assert found["+12125551234"].timezone == "America/New_York"
    assert found["+12085550100"].variables == {"appointment": "", "Doctor": ""}


def test_every_bad_row_is_reported_with_its_line_and_reason(session, campaign) -> None:
    text = (
        "phone,name,timezone,note\n"  # 1
        "+15125550101,Good,,\n"  # 2
        ",No number,,\n"  # 3
        "12345,Too short,,\n"  # 4
        "hello,Words,,\n"  # 5
        "+15125550102,Bad zone,Mars/Base,\n"  # 6
        "+15125550103,Extra,,,surplus\n"  # 7
        '+15125550104,"Two\nlines",,\n'  # 8-9: a quoted line break; the row starts on line 8
        "\n"  # 10: blank
        "+15125550105,Nul\x00,,\n"  # 11
        "+15125550106,Short row\n"  # 12: fewer fields than the header is fine
        "+44 20 7946 0000,London,,\n"  # 13
        "+80012345678,Freephone,,\n"  # 14: no time zone known and no default
    )
    report = load(session, campaign, text)
    assert [(i.line, i.reason) for i in report.invalid] == [
        (3, "missing phone number"),
        (4, "bad number '12345': not a valid number for its country and area"),
        (5, "bad number 'hello': not a phone number"),
        (6, "bad time zone 'Mars/Base' (an IANA name like America/Chicago)"),
        (7, "5 fields but the header has 4 (a stray comma?)"),
        (11, "contains a NUL character"),
        (
            14,
            "no time zone: phonenumbers knows none for this number and the campaign has no "
            "default_timezone; add a timezone column",
        ),
    ]
    assert [i.value for i in report.invalid][:3] == ["", "12345", "hello"]
    assert (report.rows, report.imported, report.blank_lines) == (11, 4, 1)
    found = contacts(session, campaign)
    assert sorted(found) == ["+15125550101", "+15125550104", "+15125550106", "+442079460000"]
    assert found["+15125550104"].name == "Two\nlines"
    assert found["+15125550104"].line == 8
    assert report.rows == report.imported + len(report.invalid) + len(report.merged)  # none dropped
    lines = list(report.lines())
    assert lines[0] == "line 3: missing phone number"
    assert lines[-1].startswith(
        "11 rows: 4 imported, 0 merged as duplicates, 7 invalid; 0 on the do-not-call"
    )


def test_a_default_time_zone_lets_numbers_without_one_in(app, session) -> None:
    campaign = new_campaign(app, session, "Freephone", default_timezone="Europe/Paris")
    report = load(session, campaign, "phone\n+80012345678\n")
    assert (report.imported, report.invalid) == (1, [])


def test_zones_that_never_share_the_window_are_reported(app, session) -> None:
    campaign = new_campaign(app, session, "Short", window="09:00-10:00")
    report = load(session, campaign, "phone\n+18005550100\n+15125550101\n")
    assert [(i.line, i.reason.split(" (")[0]) for i in report.invalid] == [
        (2, "the calling window 09:00-10:00 is never open in all of the number's time zones at once")
    ]
    assert report.imported == 1


def test_duplicates_in_the_file_are_merged_keeping_the_first(session, campaign) -> None:
    text = (
        "phone,name,timezone,appointment,doctor\n"
        "512-555-0101,Ann,,Monday,\n"  # 2
        "+15125550102,Bob,,Tuesday,Dr B\n"  # 3
        "(512) 555-0101,Ann Again,America/Denver,Friday,Dr A\n"  # 4: fills doctor and time zone only
        "+1 512 555 0101,,,,\n"  # 5
    )
    report = load(session, campaign, text)
    assert report.imported == 2
    assert report.merged == [
        Merged(4, "+15125550101", 2, False),
        Merged(5, "+15125550101", 2, False),
    ]
    ann = contacts(session, campaign)["+15125550101"]
    assert (ann.name, ann.timezone, ann.line) == ("Ann", "America/Denver", 2)
    assert ann.variables == {"appointment": "Monday", "doctor": "Dr A"}
    assert "line 4: +15125550101 merged into the contact of line 2 of this file" in report.lines()


def test_duplicates_across_chunks_and_with_an_earlier_import(session, campaign, monkeypatch) -> None:
    monkeypatch.setattr(importer, "CHUNK", 2)
    first = load(session, campaign, "phone,name,code\n+15125550101,Ann,\n+15125550102,Bob,B1\n")
    assert first.imported == 2
    text = (
        "phone,name,code,extra\n"
        "+15125550103,Cat,C1,\n"  # 2
        "+15125550102,Bobby,B2,x\n"  # 3: earlier import; adds `extra` only
        "+15125550104,Dan,,\n"  # 4
        "+15125550103,Cathy,,y\n"  # 5: line 2 of this file, already written in an earlier chunk
        "+15125550101,,A1,\n"  # 6: earlier import; fills the empty code
        "+15125550101,,A2,z\n"  # 7: the same again, in the same chunk as line 6
    )
    report = load(session, campaign, text)
    assert report.imported == 2
    assert report.merged == [
        Merged(3, "+15125550102", 3, True),
        Merged(5, "+15125550103", 2, False),
        Merged(6, "+15125550101", 2, True),
        Merged(7, "+15125550101", 2, True),
    ]
    found = contacts(session, campaign)
    assert len(found) == 4
    assert (found["+15125550102"].name, found["+15125550102"].variables) == (
        "Bob",
        {"code": "B1", "extra": "x"},
    )
    assert found["+15125550103"].variables == {"code": "C1", "extra": "y"}
    assert found["+15125550101"].variables == {"code": "A1", "extra": "z"}
    assert "line 6: +15125550101 merged into the contact of line 2 of an earlier import" in report.lines()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("name,number\n", "no 'phone' column"),
        ("phone,first name\n", "column 'first name' is not a valid variable name"),
        ("phone,caller\n", "column 'caller' is a built-in variable of every call"),
        ("phone,Phone\n", "column 'Phone' appears twice"),
        ("phone,code,code\n", "column 'code' appears twice"),
        ("phone,,name\n", "column 2 has no name"),
        ("", "the file is empty"),
    ],
)
def test_a_bad_header_refuses_the_whole_file(session, campaign, header: str, message: str) -> None:
    with pytest.raises(FileError, match=message):
        body = "+15125550101,x,y\n" if header else ""
        import_contacts(session, campaign, io.StringIO(header + body), OPEN)
    session.rollback()
    assert contacts(session, campaign) == {}


def test_the_region_reads_national_numbers(app, session) -> None:
    london = new_campaign(app, session, "London", caller_id="+442079460000")
    report = load(session, london, "phone\n020 7946 0001\n07911 123456\n")
    assert report.region == "GB"
    assert sorted(contacts(session, london)) == ["+442079460001", "+447911123456"]
    us = load(session, new_campaign(app, session, "Other"), "phone\n020 7946 0002\n", region="GB")
    assert us.imported == 1


def test_numbers_on_the_do_not_call_list_are_imported_and_counted(session, campaign) -> None:
    block(session, "+15125550102", "manual", now=OPEN)
    session.commit()
    report = load(session, campaign, "phone\n+15125550101\n+15125550102\n")
    assert (report.imported, report.on_do_not_call) == (2, 1)
    again = load(session, campaign, "phone\n+15125550102\n+15125550102\n")
    assert (again.imported, len(again.merged), again.on_do_not_call) == (0, 2, 1)


def test_the_file_needs_a_column_for_each_variable_the_flow_declares(app, session) -> None:
    campaign = new_campaign(app, session, desk="local")
    needs = ("name", "desk", "lang", "appointment", "doctor")
    with pytest.raises(
        FileError, match="the flow 'main' uses variables this file has no column for: doctor$"
    ):
        import_contacts(
            session, campaign, io.StringIO("phone,appointment\n+15125550101,Monday\n"), OPEN, needs=needs
        )
    session.rollback()
    text = "phone,appointment,doctor\n+15125550101,Monday,Dr Who\n"
    report = import_contacts(session, campaign, io.StringIO(text), OPEN, needs=needs)
    assert report.imported == 1


@pytest.mark.parametrize("state", ["finished", "cancelled"])
def test_a_closed_campaign_takes_no_contacts(session, campaign, state: str) -> None:
    load(session, campaign, "phone\n+15125550101\n")
    change_state(session, campaign, "cancel" if state == "cancelled" else "start", OPEN)
    if state == "finished":
        session.execute(update(Contact).values(state="done"))
        change_state(session, campaign, "finish", OPEN)
    session.commit()
    with pytest.raises(ImportRefused, match=f"is {state}: it takes no more contacts"):
        import_contacts(session, campaign, io.StringIO("phone\n+15125550102\n"), OPEN)


class Generated(io.TextIOBase):
    """A CSV made up line by line as it is read: the whole file never exists in memory."""

    def __init__(self, rows: int) -> None:
        self.lines: Iterator[str] = self._lines(rows)

    @staticmethod
    def _lines(rows: int) -> Iterator[str]:
        yield "phone,name,account\n"
        for n in range(rows):
            area = ("512", "212", "415", "305", "617")[n % 5]
            yield f"+1{area}{200 + n // 10000:03d}{n % 10000:04d},Person {n},{n}\n"

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:
        return next(self.lines, "")

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def test_a_hundred_thousand_rows_are_streamed_in_chunks(session, campaign, monkeypatch) -> None:
    writes = []
    real_flush = importer._Writer.flush

    def flush(writer: importer._Writer) -> None:
        writes.append(len(writer.chunk))
        real_flush(writer)

    monkeypatch.setattr(importer._Writer, "flush", flush)
    report = import_contacts(session, campaign, Generated(100_000), OPEN)
    session.commit()
    assert (report.rows, report.imported, report.invalid, report.merged) == (100_000, 100_000, [], [])
    assert max(writes) == importer.CHUNK and len(writes) == 101  # 100 full chunks, then the empty rest
    count = session.scalar(select(func.count()).where(Contact.campaign_id == campaign.id))
    assert count == 100_000


# --- short transactions: a big import never holds webhooks up (docs/campaigns.md, "Contact lists") ------


def numbered(rows: int, tail: str = "") -> str:
    return "phone,name\n" + "".join(f"+1512555{n:04d},N{n}\n" for n in range(rows)) + tail


def test_with_checkpoints_every_chunk_is_committed_by_itself(app, session, campaign, monkeypatch) -> None:
    monkeypatch.setattr(importer, "CHUNK", 10)
    seen: list[int] = []

    def checkpoint() -> None:
        session.commit()
        with app.extensions["ivr.db"].sessionmaker() as other:  # what every other connection sees
            seen.append(other.scalar(select(func.count()).where(Contact.campaign_id == campaign.id)) or 0)

    stream = io.StringIO(numbered(35), newline="")
    report = import_contacts(session, campaign, stream, OPEN, checkpoint=checkpoint)
    assert report.imported == 35
    assert seen == [10, 20, 30, 35]  # one transaction per chunk, each committed before the next began


def test_with_checkpoints_a_file_that_breaks_near_its_end_imports_nothing(session, campaign, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 10)
    commits: list[None] = []
    body = numbered(2000).encode() + b"+15125559999,caf\xe9\n"  # Latin-1 on the last line
    stream = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", newline="")
    with pytest.raises(FileError, match="the file is not UTF-8 text"):
        import_contacts(session, campaign, stream, OPEN, checkpoint=lambda: commits.append(None))
    session.rollback()
    assert commits == []
    assert contacts(session, campaign) == {}


def test_a_webhook_is_answered_while_a_big_import_runs(app, session, campaign, call, monkeypatch) -> None:
    """The import pauses while reading the file and between two chunks; a call comes in each time."""
    monkeypatch.setattr(importer, "CHUNK", 10)
    pause, go_on = threading.Event(), threading.Event()
    paused: set[str] = set()
    done: list[importer.ImportReport] = []

    def wait_for_the_call(phase: str) -> None:
        if phase not in paused:  # the first time only
            paused.add(phase)
            pause.set()
            assert go_on.wait(60)
            go_on.clear()

    def run() -> None:
        with app.extensions["ivr.db"].sessionmaker() as importing:
            found = importing.get(type(campaign), campaign.id)
            assert found is not None

            def checkpoint() -> None:
                importing.commit()
                wait_for_the_call("between two chunks")

            stream = io.StringIO(numbered(35), newline="")
            report = import_contacts(
                importing,
                found,
                stream,
                OPEN,
                None,
                lambda _rows: wait_for_the_call("reading"),
                (),
                checkpoint,
            )
            importing.commit()
            done.append(report)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    menu = None
    for phase in ("reading the file", "between two chunks"):
        assert pause.wait(60)
        pause.clear()
        menu = call.start() if menu is None else call.press(menu, "1")
        assert not xpath(menu, "/Response/Enqueue[text()='local-desk']"), phase  # not the fallback
        go_on.set()
    worker.join(60)
    assert not worker.is_alive()
    assert done[-1].imported == 35
