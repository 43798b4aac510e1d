"""The call page as a story: summary band, the agent leg linked, recording player, a quiet timeline."""

from __future__ import annotations

from lxml import html

from ivr.accounts.agents import create_agent

from ..helpers import caller_meets_agent
from ..twilio import CallDriver

BASE = "https://ivr.test"


def page(client, url: str):
    """The page at `url` (200 expected), parsed."""
    response = client.get(url)
    assert response.status_code == 200
    return html.fromstring(response.data)


def band(doc) -> dict[str, str]:
    """The summary band: label -> value."""
    items = doc.xpath("//section[@class='story-band']/div")
    return {
        i.xpath("string(span[@class='band-label'])"): i.xpath("string(span[@class='band-value'])")
        for i in items
    }


def facts(doc) -> dict[str, str]:
    """The facts list: term -> text."""
    names, values = doc.xpath("//dl[@class='facts']/dt/text()"), doc.xpath("//dl[@class='facts']/dd")
    return {n: " ".join(v.text_content().split()) for n, v in zip(names, values, strict=True)}


def timeline(doc) -> list[str]:
    """Each timeline entry's text, spaces collapsed."""
    return [" ".join(li.text_content().split()) for li in doc.xpath("//ol[@class='timeline']/li")]


def test_an_answered_call_through_the_agent_line_reads_like_a_story(app, session, ops):
    create_agent(session, "1001", "local", "432198", "Ana")
    session.commit()
    meeting = caller_meets_agent(app)
    caller, agent = meeting.caller, meeting.agent

    doc = page(ops, f"/calls/{caller.sid}")
    summary = band(doc)
    assert summary["Talk"] == "3 min 20 s" and summary["Survey"] == "5"
    assert summary["IVR"].endswith(" s") and summary["Queue wait"].endswith(" s")
    assert doc.xpath("string(//p[@class='story-lead']/span[contains(@class,'outcome')])") == "answered"
    shown = facts(doc)
    assert shown["Agent"] == f"1001 · agent leg {agent.sid}"
    assert shown["Menu path"] == "language:1 > main_menu:2"
    leg_link = doc.xpath("string(//a[@class='peer']/@href)")
    assert leg_link == f"/calls/{agent.sid}"
    leg = page(ops, leg_link)
    assert leg.xpath("string(//h1/text())").strip() == "Agent leg"
    assert leg.xpath("string(//a[@class='peer']/@href)") == f"/calls/{caller.sid}"

    entries = timeline(doc)
    statuses = [e for e in entries if e.split()[1] == "status"]
    assert statuses[0].endswith("initiated → ringing")  # the callbacks before the flow, folded
    assert not any(e.split()[1] == "node" for e in entries)
    assert not any("incoming repeated" in e for e in entries)
    text = " ".join(entries)
    assert "{" not in text and "None" not in text and "'" not in text  # no Python reprs
    assert "pressed 1" in text and "to desk local: fixed desk" in text
    assert doc.xpath("string(//ol[@class='timeline']/li[1]/time)") == "10:00:00"  # Chicago


def test_a_voicemail_gets_a_player_only_for_an_https_recording(ops, twilio):
    sids = {}
    for url in ("https://api.twilio.com/rec/RE1", "javascript:alert(1)"):
        call = CallDriver(twilio)
        queue = call.press(call.press(call.start(), "1"), "2")
        moved = call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="250")
        record = call.post(moved.xpath("//Enqueue/@action")[0], QueueResult="leave", QueueTime="700")
        call.post(record.xpath("//Record/@action")[0], RecordingUrl=url, RecordingDuration="75")
        sids[url] = call.sid
    doc = page(ops, f"/calls/{sids['https://api.twilio.com/rec/RE1']}")
    assert doc.xpath("//audio/@src") == ["https://api.twilio.com/rec/RE1"]
    assert facts(doc)["Recording"] == "1 min 15 s recording"
    assert facts(doc)["Overflowed from"] == "local"
    assert "https://api.twilio.com/rec/RE1" in doc.xpath("//ol[@class='timeline']//a/@href")
    unsafe = page(ops, f"/calls/{sids['javascript:alert(1)']}")
    assert unsafe.xpath("//audio") == []
    assert not any(href.startswith("javascript") for href in unsafe.xpath("//a/@href"))


def test_waits_in_the_queue_are_folded_into_one_line(ops, call):
    queue = call.press(call.press(call.start(), "1"), "2")
    wait = queue.xpath("//Enqueue/@waitUrl")[0]
    for seconds in (0, 30, 60):
        call.post(wait, QueuePosition="2", QueueTime=str(seconds), CurrentQueueSize="2")
    doc = page(ops, f"/calls/{call.sid}?tz=utc")
    waits = [e for e in timeline(doc) if "queue wait" in e]
    assert waits == ["16:00:00 queue wait queue position 2, 1 min so far (3 updates)"]
    assert "UTC" in doc.xpath("string(//p[@class='story-lead'])")
