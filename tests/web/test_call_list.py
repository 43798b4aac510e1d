"""The call list people work in: columns, outcome, legs and desk filters, sorting, pages, the site's zone,
and every filter value checked (the same rules as the API: ivr.calls.query.CallFilters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import html

from ivr.calls.query import CallFilters, FilterError

from ..conftest import OPEN
from ..twilio import CallDriver

ROWS = "//table[@class='calls']/tbody/tr[not(td[@class='empty'])]"


def page(client, url: str):
    """The page at `url` (200 expected), parsed."""
    response = client.get(url)
    assert response.status_code == 200, response.data[:500]
    return html.fromstring(response.data)


def cells(doc, column: str) -> list[str]:
    """The text of one column (by its header's first word) in every row."""
    headers = [h.text_content().split()[0] for h in doc.xpath("//table[@class='calls']/thead/tr/th")]
    index = headers.index(column) + 1
    return [" ".join(row.xpath(f"string(td[{index}])").split()) for row in doc.xpath(ROWS)]


def answered(twilio, caller: str, wait: int, choice: str = "2") -> CallDriver:
    """A caller who waited `wait` seconds at a desk and was answered, then hung up."""
    call = CallDriver(twilio, caller=caller)
    queue = call.press(call.press(call.start(), "1"), choice)
    call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="bridged", QueueTime=str(wait))
    twilio.status(call.sid, "completed", 9, CallDuration=str(wait + 100))
    return call


def abandoned(twilio, caller: str, wait: int) -> CallDriver:
    """A caller who hung up after `wait` seconds in the local desk's queue."""
    call = CallDriver(twilio, caller=caller)
    queue = call.press(call.press(call.start(), "1"), "2")
    call.post(queue.xpath("//Enqueue/@action")[0], QueueResult="hangup", QueueTime=str(wait))
    twilio.status(call.sid, "completed", 9, CallDuration=str(wait + 20))
    return call


def test_columns_say_direction_desk_path_outcome_and_durations_with_units(ops, twilio):
    answered(twilio, "+15125550101", 95)
    doc = page(ops, "/")
    headers = [h.text_content() for h in doc.xpath("//table[@class='calls']/thead/tr/th")]
    assert headers == [
        "Started (America/Chicago)", "From", "To", "Direction", "Desk", "Menu path / segment", "Agent",
        "Outcome", "Wait", "Talk",
    ]  # fmt: skip
    assert cells(doc, "Direction") == ["inbound"]
    assert cells(doc, "Desk") == ["local"]
    assert cells(doc, "Menu") == ["language:1 > main_menu:2 · support"]
    assert cells(doc, "Outcome") == ["answered"]
    assert cells(doc, "Wait") == ["1 min 35 s"]
    assert doc.xpath("//table[@class='calls']/parent::div/@class") == ["table-box"]


def test_times_in_the_site_zone_named_or_utc_on_request(ops, twilio):
    answered(twilio, "+15125550101", 30)  # OPEN: 16:00 UTC, 10:00 in Chicago
    doc = page(ops, "/")
    assert cells(doc, "Started") == ["2026-11-24 10:00:00"]
    assert "times in America/Chicago" in " ".join(doc.xpath("string(//p[@class='summary'])").split())
    utc = page(ops, doc.xpath("string(//a[text()='show UTC']/@href)"))
    assert cells(utc, "Started") == ["2026-11-24 16:00:00"]
    assert utc.xpath("string(//strong[@class='zone'])") == "UTC"
    # the call's link keeps the choice
    assert utc.xpath(f"string({ROWS}/td[1]/a/@href)").endswith("?tz=utc")


def test_a_date_is_a_day_in_the_zone_shown(ops, twilio, app):
    app.config["IVR_CLOCK"] = lambda: datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 21:00 on the 24th in Chicago
    evening = CallDriver(twilio, caller="+15125550120")
    evening.start()
    assert cells(page(ops, "/?since=2026-11-24&until=2026-11-24"), "From") == ["+15125550120"]
    assert cells(page(ops, "/?since=2026-11-25&tz=utc"), "From") == ["+15125550120"]
    assert cells(page(ops, "/?since=2026-11-25"), "From") == []


def test_outcome_legs_and_desk_filters(ops, twilio):
    answered(twilio, "+15125550101", 30)
    abandoned(twilio, "+15125550102", 80)
    agent = CallDriver(twilio, caller="+17375550101", called="+15125550199")  # the agent line
    agent.start()
    doc = page(ops, "/")
    assert sorted(cells(doc, "From")) == ["+15125550101", "+15125550102"]  # callers only by default
    assert cells(page(ops, "/?outcome=abandoned"), "From") == ["+15125550102"]
    assert cells(page(ops, "/?legs=agents"), "From") == ["+17375550101"]
    assert cells(page(ops, "/?legs=all"), "From").count("+17375550101") == 1
    desks = doc.xpath("//select[@name='desk']/option/@value")
    assert desks == ["", "bpo", "local"]
    outcomes = doc.xpath("//select[@name='outcome']/option/text()")
    assert "after hours" in outcomes and "outbound: machine" in outcomes
    assert cells(page(ops, "/?desk=bpo"), "From") == []


def test_sort_by_wait_and_talk(ops, twilio):
    for caller, wait in (("+15125550101", 30), ("+15125550102", 300), ("+15125550103", 120)):
        answered(twilio, caller, wait)
    CallDriver(twilio, caller="+15125550104").start()  # never waited: last either way
    assert cells(page(ops, "/?sort=-wait"), "Wait") == ["5 min", "2 min", "30 s", ""]
    assert cells(page(ops, "/?sort=wait"), "Wait") == ["30 s", "2 min", "5 min", ""]
    assert cells(page(ops, "/?sort=start"), "From")[0] == "+15125550101"


def test_page_count_and_links_keep_every_filter(ops, twilio, app):
    for n in range(5):
        app.config["IVR_CLOCK"] = lambda n=n: OPEN + timedelta(minutes=n)
        abandoned(twilio, f"+1512555020{n}", 10 + n)
    doc = page(ops, "/?per_page=2&outcome=abandoned&sort=-wait")
    assert "page 1 of 3" in doc.xpath("string(//p[@class='summary'])")
    assert doc.xpath("string(//nav[@class='pages']/span)") == "Page 1 of 3"
    last = doc.xpath("string(//a[@rel='last']/@href)")
    assert "per_page=2" in last and "outcome=abandoned" in last and "sort=-wait" in last and "page=3" in last
    assert cells(page(ops, last), "Wait") == ["10 s"]


def test_an_unknown_zone_is_a_400_naming_the_choices(ops):
    for path in ("/?tz=mars", "/calls.csv?tz=mars"):
        response = ops.get(path)
        assert (
            response.status_code == 400
            and "tz: unknown &#39;mars&#39;; choose from site, utc" in response.text
        )
    assert ops.get("/?tz=site").status_code == ops.get("/?tz=UTC").status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("number=abc", "number: &#39;abc&#39; is not a phone number"),
        ("desk=nosuch", "desk: unknown desk &#39;nosuch&#39;; the site&#39;s desks are bpo, local"),
        ("status=done", "status: unknown &#39;done&#39;; choose from queued, initiated, ringing"),
        ("direction=sideways", "direction: unknown &#39;sideways&#39;; choose from inbound, outbound-api"),
        ("outcome=lost", "outcome: unknown &#39;lost&#39;; choose from answered, abandoned, voicemail"),
        ("legs=some", "legs: unknown &#39;some&#39;; choose from callers, agents, outbound, all"),
        ("sort=cost", "sort: unknown order &#39;cost&#39;; choose from start, -start, wait, -wait"),
        ("per_page=501", "per_page: 501 is more than the most allowed, 500"),
        ("page=0", "page: &#39;0&#39; is not a positive whole number"),
        ("since=2026-11-25&until=2026-11-24", "since: 2026-11-25 is not before until 2026-11-24"),
        (
            "until=0001-01-01T01:00:00Z",
            "until: &#39;0001-01-01T01:00:00Z&#39; is too near the ends of the calendar",
        ),
    ],
)
def test_every_filter_value_is_checked(ops, query, message):
    response = ops.get(f"/?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert ops.get(f"/calls.csv?{query}").status_code == 400


def test_parameters_are_every_argument_read_and_round_trip():
    args = {
        "since": "2026-11-01T00:00:00+00:00", "until": "2026-11-30T00:00:00+00:00", "number": "+1512",
        "desk": "local", "status": "completed,busy", "direction": "inbound", "outcome": "answered,abandoned",
        "legs": "all", "sort": "-talk", "per_page": "20", "page": "3",
    }  # fmt: skip
    filters = CallFilters.from_args(args, desks=("local", "bpo"))
    assert set(filters.as_args()) == CallFilters.PARAMETERS == set(args)
    assert CallFilters.from_args(filters.as_args(), desks=("local", "bpo")) == filters
    assert CallFilters.from_args({"number": "+1 (512) 555-0101"}).number == "+15125550101"
    with pytest.raises(FilterError, match=r"^number: "):
        CallFilters.from_args({"number": "1+2"})
