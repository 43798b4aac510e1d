"""The ops comparison page: the same numbers as ivr.metrics.compare, charts per desk and day, errors."""

from __future__ import annotations

import csv
import io
import json
import shlex
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from lxml import html

from ivr.accounts.tokens import create_token
from ivr.cli.main import main
from ivr.metrics import MetricSettings, compare
from ivr.models import Call

SINCE, UNTIL = "2026-11-20", "2026-11-23"
PERIOD = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))  # until is a whole day
DAYS = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
_sids = count(1)


def _call(desk: str, at: datetime, result: str, wait: int, **more) -> Call:
    return Call(
        call_sid=f"CA{next(_sids):032x}", desk=desk, from_number=f"+1512555{next(_sids) % 10000:04d}",
        to_number="+15125550100", status="completed", started_at=at, queued_at=at, queue_result=result,
        queue_time=wait, duration=wait + (more.get("talk_time") or 0) + 30, path="language:1 > main_menu:2",
        **more,
    )  # fmt: skip


@pytest.fixture
def calls(session) -> None:
    """Hand-built calls of both desks over four days, with a few just outside the period."""
    noon = datetime(2026, 11, 20, 15, tzinfo=UTC)
    rows = []
    for day in range(4):
        at = noon + timedelta(days=day)
        for i in range(3 + day):
            answered = _call("local", at + timedelta(minutes=i), "bridged", 5 + 7 * i, talk_time=200 + 10 * i)
            answered.survey_score = 5 - i % 3
            rows.append(answered)
        rows.append(_call("local", at + timedelta(hours=2), "hangup", 40 + day))
        for i in range(2 + day):
            rows.append(_call("bpo", at + timedelta(hours=i), "bridged", 30 + 11 * i, talk_time=320 + 15 * i,
                              survey_score=3 + i % 2))  # fmt: skip
        rows.extend(
            _call("bpo", at + timedelta(hours=3, minutes=i), "hangup", 60 + i) for i in range(day + 1)
        )
        rows.append(_call("bpo", at, "hangup", 2))  # a short abandon
    rows.append(_call("local", datetime(2026, 11, 19, 23, 59, tzinfo=UTC), "bridged", 3, talk_time=100))
    rows.append(_call("bpo", datetime(2026, 11, 24, 0, 0, tzinfo=UTC), "hangup", 80))
    session.add_all(rows)
    session.commit()


def _expected(app, session, settings: MetricSettings | None = None):
    settings = settings or MetricSettings()
    site = app.extensions["ivr.flows"].current().site
    return compare(session, site, "local", "bpo", *PERIOD, settings)


def _number(cell) -> object:
    return json.loads(cell.get("data-value"))


def test_page_shows_compare_figures_for_both_desks(app, session, ops, calls):
    response = ops.get(f"/reports/compare?a=local&b=bpo&since={SINCE}&until={UNTIL}")
    assert response.status_code == 200
    page = html.fromstring(response.data)
    expected = _expected(app, session)
    assert expected["desks"]["local"]["offered"] == 22 and expected["desks"]["bpo"]["offered"] == 28

    for desk, figures in expected["desks"].items():
        for metric, value in figures.items():
            if metric in ("desk", "label", "currency", "timezone"):
                continue
            cell = page.xpath(
                f"//table[contains(@class,'figures')]//tr[@data-metric='{metric}']/td[@data-desk='{desk}']"
            )
            assert len(cell) == 1, metric
            assert _number(cell[0]) == pytest.approx(value), (desk, metric)

    rows = page.xpath("//table[contains(@class,'comparison')]/tbody/tr")
    assert [r.get("data-metric") for r in rows] == [r["metric"] for r in expected["comparison"]]
    for row, want in zip(rows, expected["comparison"], strict=True):
        assert _number(row.xpath("td[@data-desk='local']")[0]) == want["a"]
        assert _number(row.xpath("td[@data-desk='bpo']")[0]) == want["b"]
        assert _number(row.xpath("td[contains(@class,'difference')]")[0]) == want["difference"]
        interval = row.xpath("td[contains(@class,'interval')]")[0]
        assert (json.loads(interval.get("data-low")), json.loads(interval.get("data-high"))) == (
            want["ci_low"],
            want["ci_high"],
        )
        verdict = " ".join(row.xpath("string(td[@class='verdict'])").split())
        assert want["verdict"] in verdict
        flag = {True: "Significant", False: "Not significant", None: "No test"}[want["significant"]]
        assert verdict.startswith(flag + " ")

    asa = page.xpath("//table[contains(@class,'comparison')]//tr[@data-metric='asa']")[0]
    assert asa.xpath("string(td[@data-desk='local'])") == f"{expected['desks']['local']['asa']:.1f} s"
    assert "significant" in asa.get("class")

    definitions = page.xpath("string(//dl[@class='definitions'])")
    assert (
        "service level seconds" in definitions
        and "answered within T / (offered - short abandons)" in definitions
    )


def test_charts_have_a_bar_and_a_point_per_desk_and_day(app, session, ops, calls):
    page = html.fromstring(ops.get(f"/reports/compare?since={SINCE}&until={UNTIL}").data)
    expected = _expected(app, session)
    by_day = {row["key"]: row["desks"] for row in expected["breakdowns"]["day"]}
    svg = "{http://www.w3.org/2000/svg}"
    charts = page.xpath("//svg[@role='img']") or page.xpath(f"//{svg}svg")
    assert len(charts) == 4
    daily = page.xpath("//svg[@id='chart-daily-calls']")[0]
    assert daily.xpath("string(title)") == "Calls offered and answered per day"
    assert daily.xpath("desc/text()")
    for desk in ("local", "bpo"):
        for day in DAYS:
            bar = daily.xpath(f"g[@data-series='{desk}'][@data-key='{day}']")
            assert len(bar) == 1, (desk, day)
            offered, answered = by_day[day][desk]["offered"], by_day[day][desk]["answered"]
            assert (
                bar[0]
                .xpath("string(title)")
                .endswith(f"day {day}: offered calls {offered}, answered {answered}")
            )
            assert len(bar[0].xpath("rect")) == 2
        points = page.xpath(f"//svg[@id='chart-daily-abandonment']/g[@data-series='{desk}']/circle/@data-key")
        assert points == [d for d in sorted(by_day) if by_day[d][desk]["abandonment_rate"] is not None]
    hourly = page.xpath("//svg[@id='chart-hourly-calls']/g[@data-series='bpo']/@data-key")
    assert hourly == [f"{h:02d}" for h in range(24)]
    table = page.xpath("//table[@data-chart='chart-daily-calls']/tbody/tr/th/text()")
    assert table == sorted(set(DAYS) | set(by_day))
    heads = page.xpath("//table[@data-chart='chart-hourly-service-level']/thead/tr/th/text()")
    assert any(head.endswith(": average speed of answer (ASA)") for head in heads)  # acronyms kept
    paths = page.xpath("//table[contains(@class,'paths')]/tbody/tr/@data-path")
    assert paths == [row["key"] for row in expected["breakdowns"]["path"]]


def test_defaults_are_the_first_two_desks_and_the_last_seven_days(ops, calls):
    page = html.fromstring(ops.get("/reports/compare").data)
    assert page.xpath("//select[@name='a']/option[@selected]/@value") == ["local"]
    assert page.xpath("//select[@name='b']/option[@selected]/@value") == ["bpo"]
    assert page.xpath("//input[@name='since']/@value") == ["2026-11-18"]  # the app's clock: 2026-11-24
    assert page.xpath("//input[@name='until']/@value") == ["2026-11-24"]
    assert page.xpath("//input[@name='service_level']/@value") == ["20"]
    assert page.xpath("//form[contains(@class,'compare-form')]/@method") == ["get"]


def test_settings_change_the_figures(app, session, ops, calls):
    page = html.fromstring(
        ops.get(f"/reports/compare?since={SINCE}&until={UNTIL}&service_level=40&short_abandon=0").data
    )
    expected = _expected(app, session, MetricSettings(short_abandon_seconds=0, service_level_seconds=40))
    cell = page.xpath(
        "//table[contains(@class,'figures')]//tr[@data-metric='service_level']/td[@data-desk='bpo']"
    )[0]
    assert _number(cell) == expected["desks"]["bpo"]["service_level"]
    assert (
        expected["desks"]["bpo"]["service_level"] != _expected(app, session)["desks"]["bpo"]["service_level"]
    )
    label = page.xpath("string(//table[contains(@class,'figures')]//tr[@data-metric='service_level']/th)")
    assert label == "Service level (answered within 40 s)"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=someday", "since: 'someday' is not a date (YYYY-MM-DD)"),
        ("until=2026-02-30", "until: '2026-02-30' is not a date (YYYY-MM-DD)"),
        ("since=2026-11-24&until=2026-11-20", "since (2026-11-24) is after until (2026-11-20)"),
        ("service_level=soon", "service_level: 'soon' is not a whole number from 0 to 14400"),
        ("a=nowhere", "desk a: 'nowhere' is not a desk of the published site (local, bpo)"),
        ("a=bpo&b=bpo", "choose two different desks"),
        ("until=9999-12-31", "until: '9999-12-31' is too far in the future (the report ends the day after)"),
    ],
)
def test_bad_input_is_explained_on_the_page(ops, query, message):
    response = ops.get(f"/reports/compare?{query}")
    assert response.status_code == 400
    page = html.fromstring(response.data)
    assert page.xpath("string(//p[@role='alert'])") == message
    assert page.xpath("//select[@name='a']")  # the form is still there to correct it
    assert page.xpath("//table[contains(@class,'comparison')]") == []
    assert ops.get(f"/reports/compare.json?{query}").json["error"]["message"] == message
    assert ops.get(f"/reports/compare.csv?{query}").status_code == 400


def test_json_csv_api_and_command_line_give_the_same_report(app, session, ops, calls, runner, env):
    page = html.fromstring(ops.get(f"/reports/compare?since={SINCE}&until={UNTIL}&service_level=30").data)
    settings = MetricSettings(service_level_seconds=30)
    expected = json.loads(json.dumps(_expected(app, session, settings)))
    assert ops.get(page.xpath("string(//a[text()='JSON']/@href)")).json == expected

    api = page.xpath("string(//code[@class='api'])")
    assert api == (
        "GET /api/reports/compare?desks=local%2Cbpo&since=2026-11-20T00%3A00%3A00Z"
        "&until=2026-11-24T00%3A00%3A00Z&short_abandon=5&service_level=30&repeat_days=7"
    )
    token = create_token(session, "reports")
    session.commit()
    answer = ops.get(api.removeprefix("GET "), headers={"Authorization": f"Bearer {token}"})
    assert answer.json == expected

    download = ops.get(page.xpath("string(//a[text()='CSV']/@href)"))
    assert download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=compare-local-bpo-2026-11-20-2026-11-23-raw.csv"  # raw: no split calls here
    )
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    abandon = next(r for r in rows if r["metric"] == "abandonment_rate" and not r["segment"])
    want = next(r for r in expected["comparison"] if r["metric"] == "abandonment_rate")
    assert (float(abandon["ci_low"]), abandon["verdict"]) == (want["ci_low"], want["verdict"])

    command = shlex.split(page.xpath("string(//code[@class='cli'])"))
    assert command[:4] == ["ivr", "report", "compare", "local"] and "--service-level" in command
    table = runner.invoke(main, command[1:])
    assert table.exit_code == 0, table.output
    assert want["verdict"] in table.output
    as_csv = runner.invoke(main, [*command[1:-2], "--format", "csv"])
    assert as_csv.output == download.get_data(as_text=True)


def test_a_long_period_charts_only_the_days_with_calls(ops, calls):
    page = html.fromstring(ops.get("/reports/compare?since=0001-01-01&until=9999-12-30").data)
    days = page.xpath("//table[@data-chart='chart-daily-calls']/tbody/tr/th/text()")
    assert days == ["2026-11-19", *DAYS]  # first to last day with calls, in the report's zone (Chicago)
    offered = page.xpath("//table[contains(@class,'figures')]//tr[@data-metric='offered']/td/@data-value")
    assert offered == ["23", "29"]


def test_report_pages_need_sign_in(client):
    for path in ("/reports/compare", "/reports/compare.json", "/reports/compare.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
