"""The comparison page in each mode: verdict tiles naming their mode, the raw view's case-mix warning,
the selectors, the per-segment table, one time zone for both desks, and the same report elsewhere."""

from __future__ import annotations

import csv
import io
import json
import shlex
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from lxml import html

from ivr.cli.main import main
from ivr.metrics import compare_from_args
from ivr.metrics.labels import power_text
from ivr.metrics.modes import MODES
from ivr.web.reports import KEY_FIGURES

from .test_compare import SINCE, UNTIL, _call

NOON = datetime(2026, 11, 20, 15, tzinfo=UTC)  # 09:00 in America/Chicago, 23:00 in Asia/Manila
ARGS = {"desks": "local,bpo", "since": "2026-11-20T00:00:00Z", "until": "2026-11-24T00:00:00Z"}


def _segment(desk: str, segment: str, how: str, calls: int, abandons: int, wait: int, talk: int) -> list:
    """`calls` calls of one segment at one desk over the four days, the first `abandons` of them abandoned."""
    strategy = "sticky" if how == "split" else "fixed"
    rows = []
    for i in range(calls):
        at = NOON + timedelta(days=i % 4, minutes=i)
        more = {"route_strategy": strategy, "assignment": how, "segment": segment}
        if i < abandons:
            rows.append(_call(desk, at, "hangup", 30 + i % 7, **more))
        else:
            rows.append(_call(desk, at, "bridged", wait + i % 11, talk_time=talk + 3 * (i % 13), **more))
    return rows


@pytest.fixture
def mixed(session) -> None:
    """Billing split between the desks (40 calls each); support only at local, Spanish only at bpo."""
    session.add_all(
        _segment("local", "billing", "split", 40, 4, 10, 300)
        + _segment("bpo", "billing", "split", 40, 6, 12, 310)
        + _segment("local", "support", "directed", 36, 2, 5, 500)
        + _segment("bpo", "spanish", "directed", 36, 9, 40, 200)
    )
    session.commit()


@pytest.fixture
def same_mix(session) -> None:
    """Both desks take billing and support in the same proportion, all directed (no split)."""
    session.add_all(
        _segment("local", "billing", "directed", 20, 2, 10, 300)
        + _segment("bpo", "billing", "directed", 20, 3, 12, 310)
        + _segment("local", "support", "directed", 20, 1, 5, 500)
        + _segment("bpo", "support", "directed", 20, 2, 8, 480)
    )
    session.commit()


def _page(client, query: str = "") -> html.HtmlElement:
    response = client.get(f"/reports/compare?since={SINCE}&until={UNTIL}{query}")
    assert response.status_code == 200, response.data[:2000]
    return html.fromstring(response.data)


def _expected(app, session, **choices: str) -> dict:
    site = app.extensions["ivr.flows"].current().site
    return json.loads(json.dumps(compare_from_args(session, site, ARGS | choices)))


def _text(element) -> str:
    return " ".join(element.xpath("string()").split())


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_names_itself_on_every_verdict(app, session, ops, mixed, mode):
    page = _page(ops, f"&mode={mode}")
    expected = _expected(app, session, mode=mode)
    assert expected["mode"] == mode
    rows = {row["metric"]: row for row in expected["comparison"]}

    tiles = page.xpath("//section[contains(@class,'verdicts')]//li[contains(@class,'tile')]")
    assert [t.get("data-metric") for t in tiles] == list(KEY_FIGURES)
    for tile in tiles:
        row = rows[tile.get("data-metric")]
        assert tile.get("data-mode") == mode
        assert _text(tile.xpath(".//*[@class='tile-mode']")[0]) == f"{mode.capitalize()} comparison"
        assert json.loads(tile.xpath(".//dd[@data-desk='local']/@data-value")[0]) == row["a"]
        assert json.loads(tile.xpath(".//dd[@data-desk='bpo']/@data-value")[0]) == row["b"]
        says = _text(tile.xpath(".//*[@class='says']")[0])
        if row["significant"]:
            assert says == f"Significant {row['verdict']}"
        elif row["significant"] is False:
            assert says.startswith("Not significant ")
            power = row["power"]
            if power and power["more_per_desk"]:
                assert f"not yet known; about {power['more_per_desk']:,} more calls per desk" in says
        else:
            assert says == f"No test {row['verdict']}"

    table = page.xpath("//table[contains(@class,'comparison')]/tbody/tr")
    assert [r.get("data-metric") for r in table] == list(rows)
    assert {r.get("data-mode") for r in table} == {mode}
    assert _text(page.xpath("//strong[contains(@class,'mode')]")[0]) == mode
    assert expected["mode_reason"] in _text(page.xpath("//p[@class='mode-reason']")[0])
    current = page.xpath("//nav[contains(@class,'modes')]//*[@aria-current='page']")
    assert [_text(c) for c in current] == [mode.capitalize()]
    for other in MODES:
        item = page.xpath(f"//nav[contains(@class,'modes')]//li[@data-mode='{other}']")[0]
        assert expected["modes"][other]["why"] in _text(item)

    assert ops.get(page.xpath("string(//a[text()='JSON']/@href)")).json == expected
    download = ops.get(page.xpath("string(//a[text()='CSV']/@href)"))
    assert download.headers["Content-Disposition"].endswith(f"-{mode}.csv")
    exported = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert {r["mode"] for r in exported if not r["segment"]} == {mode}  # segment rows: every call of it, raw
    assert {r["mode"] for r in exported if r["segment"]} == {"raw"}


def test_a_not_significant_tile_says_how_many_more_calls_would_tell(app, session, ops, mixed):
    page = _page(ops, "&mode=randomised")
    rows = [r for r in _expected(app, session, mode="randomised")["comparison"] if r["metric"] in KEY_FIGURES]
    waiting = [r for r in rows if r["significant"] is False and r["power"] and r["power"]["more_per_desk"]]
    assert waiting  # 40 calls a desk: at least one key figure is not known yet
    for row in waiting:
        tile = page.xpath(f"//li[contains(@class,'tile')][@data-metric='{row['metric']}']")[0]
        power = row["power"]
        want = f"not yet known; about {power['more_per_desk']:,} more calls per desk"
        says = _text(tile.xpath(".//*[@class='says']")[0])
        assert want in says and ("≈" in says) == (power["days"] is not None)
        if power["days"] is not None:
            assert f"(≈ {power['days']:,} day" in says
        table = page.xpath(f"//table[contains(@class,'comparison')]//tr[@data-metric='{row['metric']}']")[0]
        assert power_text(row) in _text(table.xpath("td[@class='verdict']")[0])


def test_the_raw_view_warns_when_the_mixes_differ(app, session, ops, mixed):
    assert _expected(app, session, mode="raw")["case_mix"]["differs"] is True
    page = _page(ops, "&mode=raw")
    warning = page.xpath("//div[contains(@class,'case-mix')][@role='alert']")
    assert len(warning) == 1
    assert _expected(app, session, mode="raw")["case_mix"]["message"] in _text(warning[0])
    links = warning[0].xpath(".//a/@data-mode") + warning[0].xpath(".//span/@data-mode")
    assert sorted(links) == ["adjusted", "randomised"]
    for link in warning[0].xpath(".//a"):
        assert _page(ops, "&" + link.get("href").split("?", 1)[1]).xpath("//strong[contains(@class,'mode')]")
    for mode in ("randomised", "adjusted"):
        assert _page(ops, f"&mode={mode}").xpath("//div[contains(@class,'case-mix')]") == []


def test_the_raw_view_has_no_warning_when_the_mixes_are_alike(app, session, ops, same_mix):
    expected = _expected(app, session, mode="raw")
    assert expected["case_mix"]["differs"] is False
    page = _page(ops, "&mode=raw")
    assert page.xpath("//div[contains(@class,'case-mix')]") == []
    randomised = expected["modes"]["randomised"]
    assert randomised["available"] is False  # no split calls here: the switcher says why, with no link
    item = page.xpath("//nav[contains(@class,'modes')]//li[@data-mode='randomised']")[0]
    assert item.xpath("a") == [] and randomised["why"] in _text(item) and "not available" in _text(item)
    option = page.xpath("//select[@name='mode']/option[@value='randomised']")[0]
    assert _text(option) == "Randomised (not available)"


def test_selectors_keep_their_values_and_the_elsewhere_section_matches(app, session, ops, mixed, runner, env):
    query = "&mode=adjusted&segment=billing&timezone=Asia/Manila&service_level=30"
    page = _page(ops, query)
    assert page.xpath("//select[@name='mode']/option[@selected]/@value") == ["adjusted"]
    assert page.xpath("//select[@name='segment']/option[@selected]/@value") == ["billing"]
    assert page.xpath("//select[@name='timezone']/option[@selected]/@value") == ["Asia/Manila"]
    choices = {"mode": "adjusted", "segment": "billing", "timezone": "Asia/Manila", "service_level": "30"}
    expected = _expected(app, session, **choices)
    assert (expected["segment"], expected["timezone"]) == ("billing", "Asia/Manila")

    command = shlex.split(page.xpath("string(//code[@class='cli'])"))
    assert command == [
        "ivr", "report", "compare", "local", "bpo", "--since", ARGS["since"], "--until", ARGS["until"],
        "--short-abandon", "5", "--service-level", "30", "--repeat-days", "7", "--mode", "adjusted",
        "--segment", "billing", "--timezone", "Asia/Manila", "--format", "table",
    ]  # fmt: skip
    as_json = runner.invoke(main, [*command[1:-2], "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == expected
    api = page.xpath("string(//code[@class='api'])").removeprefix("GET ")
    assert api.startswith("/api/reports/compare?") and "mode=adjusted" in api and "segment=billing" in api
    assert ops.get(page.xpath("string(//a[text()='JSON']/@href)")).json == expected


def test_hours_line_up_in_one_time_zone_the_site_s_by_default(app, session, ops, mixed):
    page = _page(ops)
    assert page.xpath("//select[@name='timezone']/option[@selected]/@value") == ["America/Chicago"]
    for zone, hour in (("America/Chicago", "09"), ("Asia/Manila", "23")):
        page = _page(ops, f"&timezone={zone}")
        for desk in ("local", "bpo"):
            keys = page.xpath(f"//svg[@id='chart-hourly-calls']/g[@data-series='{desk}']/@data-key")
            offered = [
                json.loads(k)
                for k in page.xpath(
                    f"//table[@data-chart='chart-hourly-calls']/tbody/tr[th='{hour}']/td[1]/text()"
                )
            ]
            assert hour in keys and offered
        assert zone in page.xpath("string(//svg[@id='chart-hourly-calls']/desc)")


def test_the_segment_table_and_the_segment_filter(app, session, ops, mixed):
    expected = _expected(app, session)
    page = _page(ops)
    groups = page.xpath("//table[contains(@class,'segments')]/tbody")
    assert [g.get("data-segment") for g in groups] == [s["segment"] for s in expected["segments"]]
    for group, want in zip(groups, expected["segments"], strict=True):
        rows = group.xpath("tr")
        assert [r.get("data-metric") for r in rows] == [r["metric"] for r in want["comparison"]]
        for row, figures in zip(rows, want["comparison"], strict=True):
            assert _text(row.xpath("th[@scope='row']")[0]) == figures["label"]
            assert json.loads(row.xpath("td[@data-desk='local']/@data-value")[0]) == figures["a"]
            assert (
                json.loads(row.xpath("td[contains(@class,'difference')]/@data-value")[0])
                == figures["difference"]
            )
    offered = page.xpath("//select[@name='segment']/option/@value")
    assert offered[0] == "" and "billing" in offered

    billing = _page(ops, "&segment=billing&mode=raw")
    cells = billing.xpath("//table[contains(@class,'figures')]//tr[@data-metric='offered']/td/@data-value")
    assert cells == ["40", "40"]


def test_a_parameter_the_page_does_not_take_is_400_not_ignored(ops, mixed):
    for view in ("", ".json", ".csv"):
        response = ops.get(f"/reports/compare{view}?since={SINCE}&until={UNTIL}&path=billing")
        assert response.status_code == 400
    page = html.fromstring(ops.get(f"/reports/compare?since={SINCE}&until={UNTIL}&path=billing").data)
    message = page.xpath("string(//p[@role='alert'])")
    assert "'path': not a parameter of the comparison" in message and "segment=" in message
    assert page.xpath("//section[contains(@class,'verdicts')]") == []


@pytest.mark.parametrize(
    ("query", "choices"),
    [
        ("mode=fair", MODES),
        ("segment=nowhere", ("billing", "support", "spanish")),
        ("timezone=Mars/Olympus", ("America/Chicago",)),
    ],
)
def test_a_bad_choice_is_400_with_the_valid_ones(ops, mixed, query, choices):
    response = ops.get(f"/reports/compare?since={SINCE}&until={UNTIL}&{query}")
    assert response.status_code == 400
    page = html.fromstring(response.data)
    message = page.xpath("string(//p[@role='alert'])")
    name, value = query.split("=")
    assert name in message and repr(value) in message
    for choice in choices:
        assert choice in message
    assert page.xpath(f"//select[@name='{name}']/option[@selected]/@value") == [value]  # kept to correct it
    assert page.xpath("//section[contains(@class,'verdicts')]") == []
    assert (
        ops.get(f"/reports/compare.json?since={SINCE}&until={UNTIL}&{query}").json["error"]["message"]
        == message
    )
    assert ops.get(f"/reports/compare.csv?since={SINCE}&until={UNTIL}&{query}").status_code == 400


def test_verdicts_then_charts_then_tables_then_elsewhere_with_nothing_inline(ops, mixed):
    page = _page(ops)
    headings = [_text(h) for h in page.xpath("//main/h2 | //main/section/h2")]
    assert headings == ["Verdicts", "Charts", "Tables", "The same report elsewhere"]
    assert page.xpath("//script[not(@src)] | //style | //*[@style] | //*[starts-with(name(@*), 'on')]") == []
    tables = page.xpath("//main//table")
    assert tables and all(
        t.getparent().get("class") == "table-box" for t in tables
    )  # each scrolls in its box


def test_the_mode_switcher_links_to_the_same_report_in_each_available_mode(app, session, ops, mixed):
    page = _page(ops, "&segment=billing")
    expected = _expected(app, session, segment="billing")
    for mode in MODES:
        item = page.xpath(f"//nav[contains(@class,'modes')]//li[@data-mode='{mode}']")[0]
        link = item.xpath("a/@href")
        if mode == expected["mode"] or not expected["modes"][mode]["available"]:
            assert link == []
            continue
        shown = html.fromstring(ops.get(link[0]).data)
        assert shown.xpath("//li[contains(@class,'tile')]/@data-mode") == [mode] * len(KEY_FIGURES)
        assert shown.xpath("//select[@name='segment']/option[@selected]/@value") == ["billing"]


def test_equal_service_and_power_choices_reach_the_report(app, session, ops, mixed, runner, env):
    choices = {"detect": "abandonment_rate:0.02,aht:15", "target": "0.9", "within": "30"}
    page = _page(ops, "&" + "&".join(f"{k}={v}" for k, v in choices.items()))
    expected = _expected(app, session, **choices)
    assert (expected["equal_service"]["target"], expected["equal_service"]["within"]) == (0.9, 30)
    assert page.xpath("//details[contains(@class,'more-options')][@open]")  # shown, as they were asked for
    for name, value in choices.items():
        assert page.xpath(f"//input[@name='{name}']/@value") == [value]

    verdict = page.xpath("//section[contains(@class,'verdicts')]//p[@class='equal-service-verdict']")
    assert _text(verdict[0]) == expected["equal_service"]["verdict"]
    for desk, section in expected["equal_service"]["desks"].items():
        for model in ("erlang_c", "erlang_a"):
            cell = page.xpath(
                f"//table[contains(@class,'equal-service')]/tbody[@data-desk='{desk}']/tr[@data-model='{model}']"
                "/td[@data-metric='cost_per_resolved_call']/@data-value"
            )
            assert json.loads(cell[0]) == section[model]["cost_per_resolved_call"]
        hours = page.xpath(
            f"//table[contains(@class,'staffing-hours')][@data-desk='{desk}']/tbody/tr/@data-hour"
        )
        assert hours == [hour["hour"] for hour in section["hours"]]

    requested = [r for r in expected["comparison"] if r["power"] and r["power"]["size_from"] == "requested"]
    assert requested  # the sizes asked for, not the observed differences
    command = shlex.split(page.xpath("string(//code[@class='cli'])"))
    for name, value in choices.items():
        assert command[command.index(f"--{name}") + 1] == value
    as_json = runner.invoke(main, [*command[1:-2], "--format", "json"])
    assert json.loads(as_json.output) == expected


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("detect=speed:3", ("detect", "'speed'", "abandonment_rate", "aht")),
        ("target=most", ("target", "'most'")),
    ],
)
def test_a_bad_power_or_equal_service_value_is_400(ops, mixed, query, said):
    response = ops.get(f"/reports/compare?since={SINCE}&until={UNTIL}&{query}")
    assert response.status_code == 400
    page = html.fromstring(response.data)
    message = page.xpath("string(//p[@role='alert'])")
    assert all(part in message for part in said), message
    name, value = query.split("=")
    assert page.xpath(f"//input[@name='{name}']/@value") == [value]


def test_the_command_quotes_a_segment_the_shell_would_split(app, session, ops, runner, env):
    segment = "language:1 > main_menu:2 (old)"  # a menu path: spaces, > and brackets
    session.add_all(
        _segment("local", segment, "directed", 6, 1, 10, 300)
        + _segment("bpo", segment, "directed", 6, 2, 12, 310)
    )
    session.commit()
    page = _page(ops, f"&segment={quote(segment)}")
    expected = _expected(app, session, segment=segment)
    assert expected["segment"] == segment
    code = page.xpath("string(//code[@class='cli'])")
    assert shlex.quote(segment) in code
    command = shlex.split(code)
    assert command[command.index("--segment") + 1] == segment
    as_json = runner.invoke(main, [*command[1:-2], "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == expected


def test_the_adjusted_charts_hold_only_the_segments_both_desks_serve(app, session, ops, mixed):
    page = _page(ops, "&mode=adjusted")
    hint = page.xpath("string(//p[@class='hint'][contains(., 'The calls of the adjusted comparison')])")
    assert "the segments both desks serve (billing)" in hint  # support and spanish: one desk each
    hourly = page.xpath("//table[@data-chart='chart-hourly-calls']/tbody/tr/td[1]/text()")
    assert sum(json.loads(n) for n in hourly) == 40  # local: its billing calls, not its 36 support calls
    expected = _expected(app, session, mode="adjusted")
    assert sum(row["desks"]["local"]["offered"] for row in expected["breakdowns"]["path"]) == 40
