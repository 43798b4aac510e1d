"""Reading a flows folder (files that cannot be read, `only=`), the sample flows, and Bundle."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.engine import Bundle, Callback, CallUpdates, load_folder
from ivr.engine.actions import Enqueue, Gather, Record

from .folders import BYE, Folder
from .support import Call, context, say_en, say_es

SAMPLE_FLOWS = Path(__file__).resolve().parents[2] / "flows"
SAY = {"type": "say", "prompt": "Hi.", "next": "bye"}


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path)


def test_invalid_json_names_line_and_column(folder: Folder) -> None:
    folder.write("main.json", '{\n  "name": "main",\n  "start" "hello"\n}\n')
    assert folder.problems() == [
        ("main.json", None, None, "invalid JSON: Expecting ':' delimiter at line 3 column 11")
    ]


@pytest.mark.parametrize("levels", [65, 5_000])  # deeper than allowed; past the interpreter's stack
def test_json_nested_too_deeply_is_a_problem_of_the_file(folder: Folder, levels: int) -> None:
    folder.write("main.json", '{"nodes": ' + "[" * levels + "]" * levels + "}")
    assert folder.problems() == [
        ("main.json", None, None, "invalid JSON: arrays and objects nest deeper than 64 levels")
    ]


@pytest.mark.parametrize("content", ["[]", '"main"', "null", "42"])
def test_a_flow_file_must_hold_an_object(folder: Folder, content: str) -> None:
    folder.write("main.json", content)
    assert folder.problems() == [("main.json", None, None, "the document must be a JSON object")]


def test_the_site_file_must_hold_an_object(folder: Folder) -> None:
    folder.flow({"hello": SAY, "bye": BYE})
    folder.site = []  # type: ignore[assignment]
    assert folder.problems() == [("site.json", None, None, "the document must be a JSON object")]


def test_a_file_that_is_not_utf8(folder: Folder) -> None:
    folder.write("main.json", '{"name": "café"}'.encode("latin-1"))
    assert folder.problems() == [
        ("main.json", None, None, "not UTF-8 text: invalid continuation byte at byte 13")
    ]


def test_a_missing_site_file(folder: Folder) -> None:
    folder.flow({"hello": SAY, "bye": BYE})
    bundle, problems = load_folder(folder.path)
    assert bundle is None
    assert [p.as_dict() for p in problems] == [
        {
            "file": str(folder.path / "site.json"),
            "node": None,
            "field": None,
            "message": "file not found",
            "severity": "error",
        }
    ]


def test_an_empty_folder(tmp_path: Path) -> None:
    bundle, problems = load_folder(tmp_path)
    assert bundle is None
    assert [(p.file, p.message) for p in problems] == [
        (str(tmp_path), "no flow files (*.json besides site.json) in this folder"),
        (str(tmp_path / "site.json"), "file not found"),
    ]


def test_a_folder_with_only_the_site_file(folder: Folder) -> None:
    assert folder.problems() == [
        (folder.path.name, None, None, "no flow files (*.json besides site.json) in this folder")
    ]


def test_two_files_with_the_same_flow_name(folder: Folder) -> None:
    first = folder.flow({"hello": SAY, "bye": BYE}, file="a.json")
    folder.flow({"hello": SAY, "bye": BYE}, file="b.json", default=False)
    assert folder.problems() == [("b.json", None, "name", f"flow name 'main' is also used by {first.name}")]


def test_only_reports_the_chosen_flow_files_and_the_site(folder: Folder) -> None:
    folder.site["fallback"]["desk"] = "sales"
    main = folder.flow({"hello": {**SAY, "next": "jump"}, "jump": {"type": "goto", "flow": "other"}})
    folder.flow({"hello": SAY, "bye": BYE, "orphan": BYE}, name="other")
    folder.write("broken.json", "{")
    assert folder.problems(only=[main]) == [
        ("site.json", None, "fallback.desk", "unknown desk 'sales' (desks: bpo, local, phone)")
    ]
    assert [found[0] for found in folder.problems()] == ["broken.json", "other.json", "site.json"]


def test_only_with_no_problems_in_the_chosen_files(folder: Folder) -> None:
    main = folder.flow({"hello": SAY, "bye": BYE})
    other = folder.flow({"hello": {**SAY, "next": "nowhere"}}, name="other")
    assert folder.load(only=[main]) == (None, [])  # no problems to show, but the folder is not publishable
    assert folder.load(only=[other])[1] != []


def test_a_byte_order_mark_is_accepted(folder: Folder) -> None:
    path = folder.flow({"hello": SAY, "bye": BYE})
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    bundle, problems = folder.load()
    assert problems == [] and bundle is not None and "main" in bundle.flows


def test_only_keeps_folder_problems(tmp_path: Path) -> None:
    problems = load_folder(tmp_path, only=[])[1]
    assert [p.message for p in problems] == [
        "no flow files (*.json besides site.json) in this folder",
        "file not found",
    ]


def test_the_sample_flows_are_valid() -> None:
    bundle, problems = load_folder(SAMPLE_FLOWS)
    assert problems == []
    assert bundle is not None
    assert bundle.files == {"main": "main.json"}
    assert bundle.site["name"] == "Acme Home Supplies"


@pytest.fixture
def sample(tmp_path: Path) -> Bundle:
    """The sample flows, read from a copy (so that the tests never touch the repository's folder)."""
    shutil.copytree(SAMPLE_FLOWS, tmp_path / "flows")
    bundle, problems = load_folder(tmp_path / "flows")
    assert problems == []
    assert bundle is not None
    return bundle


def test_a_spanish_caller_with_an_order_goes_to_the_bpo_queue(sample: Bundle) -> None:
    site = sample.build()
    assert site.flow_for_number("+15125550100") is site.flows["main"]
    call = Call(site, "main", context(now=datetime(2026, 3, 2, 16, 0, tzinfo=UTC)))  # Monday 10:00 in Austin
    greeting, language_menu = call.actions
    assert greeting == say_en("Thank you for calling Acme Home Supplies. Calls may be recorded for quality.")
    assert isinstance(language_menu, Gather)
    call.step("input", Digits="2")
    assert call.actions[0].prompts[0].text.startswith("Para facturación, oprima 1.")
    call.step("input", SpeechResult="Quiero consultar un pedido", Confidence="0.8")
    assert call.state.node == "order_number"
    call.step("input", Digits="912345")
    assert call.actions == [
        say_es("Gracias. Cuenta 9 1 2 3 4 5. Le comunicamos con nuestro equipo de pedidos."),
        Enqueue("bpo-desk", wait=call.actions[1].wait, action=call.actions[1].action),
    ]
    # Spanish callers go to the BPO's fixed route (labelled with a segment, or known by their menu path)
    segment = site.flows["main"].nodes["spanish_desk"].get("segment", "language:2 > main_menu:3")
    how = {"route_strategy": "fixed", "assignment": "directed", "segment": segment}
    assert call.result.updates == CallUpdates(desk="bpo", queued_at=call.ctx.now, **how)
    call.step("wait", QueuePosition="2", QueueTime="30")
    assert call.actions[0] == say_es("Usted es la persona número 2 en la fila.")
    call.step("result", QueueResult="bridged", QueueTime="95")
    call.step("input", Digits="5")
    assert call.result.updates == CallUpdates(survey_score=5)
    assert call.actions[0] == say_es("Gracias por su opinión. Adiós.")


def test_the_sample_flow_is_open_until_six(sample: Bundle) -> None:
    call = Call(sample.build(), "main", context(now=datetime(2026, 3, 2, 23, 30, tzinfo=UTC)))  # Monday 17:30
    assert call.state.node == "language"


@pytest.mark.parametrize(
    ("now", "node"),
    [
        (datetime(2026, 3, 3, 0, 30, tzinfo=UTC), "after_hours"),  # Monday 18:30 in Austin
        (datetime(2026, 12, 25, 16, 0, tzinfo=UTC), "holiday_closed"),
    ],
)
def test_the_sample_flow_takes_messages_when_closed(sample: Bundle, now: datetime, node: str) -> None:
    call = Call(sample.build(), "main", context(now=now))
    assert call.state.node == node
    assert call.actions[-1] == Record(Callback("main", node, "result"), max_length=120, transcribe=True)


def test_a_bundle_survives_a_json_round_trip(sample: Bundle) -> None:
    stored = json.loads(json.dumps(sample.as_json()))
    again = Bundle.from_json(stored)
    assert again == sample
    assert again.digest() == sample.digest()


def test_a_bundle_stored_without_files(sample: Bundle) -> None:
    stored = {"site": sample.site, "flows": sample.flows}
    assert Bundle.from_json(stored).files == {}


def test_the_digest_does_not_depend_on_key_order(sample: Bundle) -> None:
    reordered = Bundle(
        site=dict(reversed(list(sample.site.items()))),
        flows={name: dict(reversed(list(doc.items()))) for name, doc in sample.flows.items()},
        files=dict(sample.files),
        texts=dict(sample.texts),
    )
    assert reordered.digest() == sample.digest()
    assert len(sample.digest()) == 64


@pytest.mark.parametrize("part", ["site", "flows", "files", "texts"])
def test_the_digest_changes_with_any_content(sample: Bundle, part: str) -> None:
    changed = Bundle.from_json(json.loads(json.dumps(sample.as_json())))
    if part == "site":
        changed.site["fallback"]["prompt"] += "!"
    elif part == "flows":
        changed.flows["main"]["nodes"]["greeting"]["prompt"] = "Hello."
    elif part == "files":
        changed.files["main"] = "renamed.json"
    else:
        changed.texts["main.json"] += " "
    assert changed.digest() != sample.digest()


def test_reading_the_same_folder_twice_gives_the_same_digest(folder: Folder) -> None:
    folder.flow({"hello": {**SAY, "prompt": "Olá, café ☕"}, "bye": BYE})
    first, _ = folder.load()
    second, _ = folder.load()
    assert first is not None and second is not None
    assert first.digest() == second.digest()


def test_a_flow_with_schema_errors_causes_no_follow_on_errors(folder: Folder) -> None:
    folder.flow({"hello": {**SAY, "next": "jump"}, "jump": {"type": "goto", "flow": "other"}}, default=False)
    folder.flow({"hello": {"type": "say", "prompt": "Hi.", "nxt": "x"}}, name="other", default=True)
    assert folder.problems() == [
        ("other.json", "hello", None, "field 'next' is required"),
        ("other.json", "hello", None, "unknown field 'nxt': did you mean 'next'?"),
    ]
