"""Publishing services: texts, drafts and rollbacks; refusals; conflicts between two editors; the audit."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ivr.accounts.audit import Actor
from ivr.flows.drafts import discard_draft, drafts_of, overlay, save_draft
from ivr.flows.history import history, newest_texts, newest_version_id, version_texts
from ivr.flows.publishing import NothingToPublish, PublishRefused, publish_drafts, publish_texts, rollback
from ivr.models import AuditEntry, Call, SiteVersion

from ..conftest import OPEN
from .sample import edited, greeting, sample_texts

ANN = Actor("ann", "10.0.0.1")
BOB = Actor("bob", "10.0.0.2")


NEWEST: Any = object()  # the publisher started from the newest version


def _publish(session, texts, note="test", actor=ANN, based_on=NEWEST, **kwargs: Any) -> SiteVersion:
    if based_on is NEWEST:
        based_on = newest_version_id(session)
    version = publish_texts(
        session, texts, note=note, actor=actor, now=OPEN, source="test", based_on=based_on, **kwargs
    )
    session.commit()
    return version


@pytest.fixture
def first(session) -> SiteVersion:
    """Version 1: the sample site as on disk."""
    return _publish(session, sample_texts(), note="first")


def _greeting_of(texts: dict[str, str]) -> str:
    return json.loads(texts["main.json"])["nodes"]["greeting"]["prompt"]


def test_a_publish_keeps_who_when_why_what_changed_and_the_exact_texts(session, first) -> None:
    texts = edited(sample_texts(), greeting("Hello!"))
    version = _publish(session, texts, note="  friendlier greeting ", based_on=first.id)
    assert (version.note, version.published_by, version.based_on) == ("friendlier greeting", "ann", first.id)
    assert version.published_at == OPEN and version.summary == "main: reworded 'greeting'"
    assert version_texts(session, version.id) == texts
    assert newest_version_id(session) == version.id and newest_texts(session) == (version.id, texts)
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.target == f"version {version.id}"))
    assert (entry.action, entry.actor, entry.address) == ("flows.publish", "ann", "10.0.0.1")
    assert entry.details == {"version": version.id, "note": "friendlier greeting", "summary": version.summary}


def test_the_service_does_not_commit(app, session, first) -> None:
    publish_texts(
        session, edited(sample_texts(), greeting("Uncommitted.")), note="x", actor=ANN, now=OPEN, source="t",
        based_on=first.id,
    )  # fmt: skip
    session.rollback()
    assert newest_version_id(session) == first.id


@pytest.mark.parametrize("note", ["", "   "])
def test_a_note_is_required(session, note: str) -> None:
    with pytest.raises(PublishRefused, match="a note is required"):
        _publish(session, sample_texts(), note=note)


def test_errors_refuse_with_every_problem_warnings_do_not(session, first) -> None:
    def broken(flow: dict[str, Any]) -> None:
        flow["nodes"]["greeting"]["next"] = "nowhere"
        flow["nodes"]["survey"]["prompt"] = " "

    with pytest.raises(PublishRefused) as refused:
        _publish(session, edited(sample_texts(), broken))
    errors = [(p.node, p.field) for p in refused.value.problems if p.severity == "error"]
    assert errors == [("greeting", None), ("greeting", "next"), ("survey", "prompt")]  # None: never ends
    assert refused.value.message == "not published: 3 error(s) to fix"
    assert newest_version_id(session) == first.id

    def spare(flow: dict[str, Any]) -> None:
        flow["nodes"]["spare"] = {"type": "hangup", "prompt": "Unused."}

    assert _publish(session, edited(sample_texts(), spare)).summary == "main: added node 'spare'"


def test_the_same_documents_again_are_nothing_to_publish(session, first) -> None:
    with pytest.raises(NothingToPublish, match=f"the documents are those of version {first.id}"):
        _publish(session, sample_texts())


def test_the_second_of_two_editors_gets_a_conflict_with_what_changed_meanwhile(session, first) -> None:
    ann = _publish(session, edited(sample_texts(), greeting("Ann's greeting.")), based_on=first.id)
    with pytest.raises(PublishRefused) as refused:
        _publish(session, edited(sample_texts(), greeting("Bob's greeting.")), actor=BOB, based_on=first.id)
    [conflict] = refused.value.conflicts
    assert (conflict.document, conflict.current_version) == ("main.json", ann.id)
    assert conflict.base_text == sample_texts()["main.json"]
    assert _greeting_of({"main.json": conflict.current_text}) == "Ann's greeting."
    assert conflict.diff.status == "changed" and "+" in conflict.diff.unified()
    assert "Ann's greeting." in conflict.diff.unified()
    assert newest_version_id(session) == ann.id


def test_a_change_to_another_document_is_laid_over_the_newest_version(session, first) -> None:
    ann = _publish(session, edited(sample_texts(), greeting("Ann's greeting.")), based_on=first.id)
    bob_texts = edited(sample_texts(), lambda site: site.update(name="Acme"), "site.json")
    bob = _publish(session, bob_texts, actor=BOB, based_on=first.id)
    published = version_texts(session, bob.id)
    assert _greeting_of(published) == "Ann's greeting."  # not Bob's stale copy of main.json
    assert json.loads(published["site.json"])["name"] == "Acme"
    assert bob.summary == "changed site settings" and bob.based_on == first.id and ann.id < bob.id


def test_drafts_are_per_owner_and_published_over_the_newest(session, first) -> None:
    main = edited(sample_texts(), greeting("Drafted."))["main.json"]
    save_draft(session, "user:1", "main.json", "{ not yet", first.id, OPEN)
    draft = save_draft(session, "user:1", "main.json", main, first.id, OPEN + timedelta(minutes=1))
    save_draft(session, "user:2", "site.json", None, first.id, OPEN)
    session.commit()
    assert list(drafts_of(session, "user:1")) == ["main.json"] and draft.updated_at > OPEN
    assert drafts_of(session, "user:1")["main.json"].text == main
    version = publish_drafts(session, "user:1", note="from my draft", actor=ANN, now=OPEN, source="browser")
    session.commit()
    assert _greeting_of(version_texts(session, version.id)) == "Drafted."
    assert drafts_of(session, "user:1") == {} and list(drafts_of(session, "user:2")) == ["site.json"]
    assert discard_draft(session, "user:2", "site.json") and not discard_draft(session, "user:2", "site.json")


def test_a_conflicting_draft_is_refused_and_kept(session, first) -> None:
    save_draft(
        session, "user:2", "main.json", edited(sample_texts(), greeting("Bob."))["main.json"], first.id, OPEN
    )
    session.commit()
    _publish(session, edited(sample_texts(), greeting("Ann.")), based_on=first.id)
    with pytest.raises(PublishRefused) as refused:
        publish_drafts(session, "user:2", note="mine", actor=BOB, now=OPEN, source="browser")
    session.rollback()
    assert [c.document for c in refused.value.conflicts] == ["main.json"]
    assert list(drafts_of(session, "user:2")) == ["main.json"]


def test_no_drafts_nothing_to_publish(session, first) -> None:
    with pytest.raises(PublishRefused, match="no drafts"):
        publish_drafts(session, "user:9", note="x", actor=ANN, now=OPEN, source="browser")


@pytest.mark.parametrize("name", ["../x.json", "a/b.json", "x.txt"])
def test_a_draft_needs_a_document_name(session, name: str) -> None:
    with pytest.raises(ValueError, match="not a document name"):
        save_draft(session, "user:1", name, "{}", None, OPEN)


def test_overlay_replaces_adds_and_removes() -> None:
    published = {"site.json": "s", "main.json": "m", "old.json": "o"}
    assert overlay(published, {"main.json": "M", "new.json": "n", "old.json": None}) == {
        "site.json": "s",
        "main.json": "M",
        "new.json": "n",
    }


def test_a_rollback_publishes_the_old_documents_as_a_new_version(session, first) -> None:
    second = _publish(session, edited(sample_texts(), greeting("Second.")))
    back = rollback(session, first.id, note="callers missed the old greeting", actor=BOB, now=OPEN)
    session.commit()
    assert back.id > second.id and back.rolled_back_from == first.id and back.based_on == second.id
    assert version_texts(session, back.id) == version_texts(session, first.id)
    assert back.summary == f"back to version {first.id}: main: reworded 'greeting'"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "flows.rollback")).one()
    assert (entry.actor, entry.target) == ("bob", f"version {back.id}")
    assert entry.details["rolled_back_from"] == first.id
    with pytest.raises(NothingToPublish):
        rollback(session, back.id, note="again", actor=BOB, now=OPEN)
    with pytest.raises(LookupError, match="no version 999"):
        rollback(session, 999, note="x", actor=BOB, now=OPEN)


def test_history_newest_first_with_the_calls_that_started_on_each(session, first) -> None:
    second = _publish(session, edited(sample_texts(), greeting("Second.")), note="second", actor=BOB)
    rows = [
        (first.id, "caller"),
        (first.id, "caller"),
        (first.id, "agent"),
        (second.id, "caller"),
        (None, "caller"),
    ]
    for index, (version, role) in enumerate(rows):
        session.add(Call(call_sid=f"CA{index:032d}", role=role, site_version_id=version, started_at=OPEN))
    session.commit()
    found = history(session)
    assert [(v.id, v.note, v.published_by, v.calls_started) for v in found] == [
        (second.id, "second", "bob", 1),
        (first.id, "first", "ann", 2),
    ]
    assert found[1].summary == "added flow 'main'; changed site settings"
    assert [v.id for v in history(session, limit=1)] == [second.id]
    with pytest.raises(LookupError):
        version_texts(session, 999)


def test_two_publishes_at_once_take_turns_and_the_second_sees_the_first(app, session, first) -> None:
    sessions = app.extensions["ivr.db"].sessionmaker
    outcome: list[BaseException | SiteVersion] = []

    def bob() -> None:
        with sessions() as s:
            try:
                outcome.append(
                    _publish(s, edited(sample_texts(), greeting("Bob.")), actor=BOB, based_on=first.id)
                )
            except PublishRefused as refused:
                outcome.append(refused)

    with sessions() as ann:
        publish_texts(
            ann, edited(sample_texts(), greeting("Ann.")), note="n", actor=ANN, now=OPEN, source="t",
            based_on=first.id,
        )  # fmt: skip
        racer = threading.Thread(target=bob)
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive()  # waiting for Ann's publish to finish
        ann.commit()
    racer.join(timeout=30)
    [refused] = outcome
    assert isinstance(refused, PublishRefused) and [c.document for c in refused.conflicts] == ["main.json"]


def test_only_the_documents_edited_may_be_sent_and_a_removal_is_named(session, first) -> None:
    promo = {"name": "promo", "start": "bye", "nodes": {"bye": {"type": "hangup", "prompt": "Bye."}}}
    added = _publish(session, {"promo.json": json.dumps(promo)}, based_on=first.id)
    assert set(version_texts(session, added.id)) == {"site.json", "main.json", "promo.json"}
    assert added.summary == "added flow 'promo'"
    removed = _publish(session, {}, based_on=added.id, changed=["promo.json"])
    assert set(version_texts(session, removed.id)) == {"site.json", "main.json"}


def test_a_draft_saved_without_a_change_does_not_conflict(session, first) -> None:
    save_draft(session, "user:2", "main.json", sample_texts()["main.json"], first.id, OPEN)
    site = edited(sample_texts(), lambda data: data.update(name="Acme"), "site.json")["site.json"]
    save_draft(session, "user:2", "site.json", site, first.id, OPEN)
    ann = _publish(session, edited(sample_texts(), greeting("Ann.")), based_on=first.id)
    version = publish_drafts(session, "user:2", note="site name", actor=BOB, now=OPEN, source="browser")
    session.commit()
    assert (
        _greeting_of(version_texts(session, version.id)) == "Ann." and version.based_on == first.id < ann.id
    )
    assert version.summary == "changed site settings" and drafts_of(session, "user:2") == {}


def test_only_the_edited_documents_are_laid_over_the_newest_inside_the_lock(session, first) -> None:
    texts = version_texts(session, first.id)
    site = json.loads(texts["site.json"])
    site["timezone"] = "America/Denver"
    bob = _publish(session, {"site.json": json.dumps(site, indent=2) + "\n"}, actor=BOB, based_on=first.id)
    mine = edited(texts, greeting("Ann."))  # the whole site as Ann saw it at version 1
    ann = _publish(session, mine, based_on=first.id)
    published = version_texts(session, ann.id)
    assert (
        _greeting_of(published) == "Ann."
        and published["site.json"] == version_texts(session, bob.id)["site.json"]
    )


def test_a_publish_started_from_nothing_conflicts_with_what_is_published(session, first) -> None:
    with pytest.raises(PublishRefused) as refused:
        _publish(session, edited(sample_texts(), greeting("Mine.")), based_on=None)
    assert [c.document for c in refused.value.conflicts] == ["main.json"]
