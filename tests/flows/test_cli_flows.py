"""`ivr flows publish|export|history|diff|rollback|validate`: the folder as an import source, git-friendly."""

from __future__ import annotations

import getpass
import json
import shutil

import pytest
from sqlalchemy import select

from ivr.cli.main import main
from ivr.models import AuditEntry, SiteVersion

from .sample import SAMPLE_FLOWS


def _run(runner, *args: str):
    return runner.invoke(main, list(args), catch_exceptions=False)


def _set_greeting(folder, text: str) -> None:
    path = folder / "main.json"
    flow = json.loads(path.read_text("utf-8-sig"))
    flow["nodes"]["greeting"]["prompt"] = text
    path.write_text(json.dumps(flow, indent=2) + "\n")


def _versions(session) -> list[SiteVersion]:
    session.expire_all()
    return list(session.scalars(select(SiteVersion).order_by(SiteVersion.id)))


def test_publish_a_folder_with_a_note(runner, env, session, tmp_path) -> None:
    folder = tmp_path / "repo"
    shutil.copytree(SAMPLE_FLOWS, folder)
    result = _run(runner, "flows", "publish", str(folder), "--note", "from git 1a2b3c")
    assert result.exit_code == 0, result.output
    [version] = _versions(session)
    assert result.output == f"published version {version.id}: added flow 'main'; changed site settings\n"
    assert (version.note, version.source) == ("from git 1a2b3c", str(folder))
    assert version.published_by == f"cli:{getpass.getuser()}"
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.address) == ("flows.publish", "cli")
    again = _run(runner, "flows", "publish", str(folder), "--note", "again")
    assert again.exit_code == 0 and "nothing to publish" in again.output and len(_versions(session)) == 1


def test_publish_refuses_a_broken_folder_listing_every_problem(runner, env, session, flows_dir) -> None:
    flow = json.loads((flows_dir / "main.json").read_text())
    flow["nodes"]["greeting"]["next"] = "nowhere"
    flow["nodes"]["survey"]["prompt"] = " "
    (flows_dir / "main.json").write_text(json.dumps(flow))
    result = runner.invoke(main, ["flows", "publish", "--note", "broken"])  # FLOWS_DIR
    assert result.exit_code == 1
    assert "field 'next': target node 'nowhere' does not exist" in result.output
    assert "field 'prompt': prompt is empty" in result.output
    assert "not published: 3 error(s)" in result.output and _versions(session) == []


def test_the_release_step_publishes_only_when_nothing_is(runner, env, session, flows_dir) -> None:
    first = _run(runner, "flows", "publish", "--if-empty")
    assert first.exit_code == 0 and first.output.startswith("published version ")
    _set_greeting(flows_dir, "Changed on this host's disk.")
    second = _run(runner, "flows", "publish", "--if-empty")
    assert second.exit_code == 0 and "is published already" in second.output
    [version] = _versions(session)
    assert version.note == f"published from {flows_dir}"


def test_export_is_byte_for_byte_what_was_published(runner, env, session, tmp_path) -> None:
    folder = tmp_path / "repo"
    shutil.copytree(SAMPLE_FLOWS, folder)
    crlf = (folder / "main.json").read_bytes().replace(b"\n", b"\r\n")
    (folder / "main.json").write_bytes(b"\xef\xbb\xbf" + crlf)  # an editor on Windows
    assert _run(runner, "flows", "publish", str(folder), "--note", "one").exit_code == 0
    _set_greeting(folder, "Two.")
    assert _run(runner, "flows", "publish", str(folder), "--note", "two").exit_code == 0
    first, second = _versions(session)
    out = tmp_path / "out"
    result = _run(runner, "flows", "export", str(out), "--version", str(first.id))
    assert result.exit_code == 0 and f"exported version {first.id}" in result.output
    assert (out / "main.json").read_bytes() == b"\xef\xbb\xbf" + crlf
    assert (out / "site.json").read_bytes() == (SAMPLE_FLOWS / "site.json").read_bytes()
    (out / "stale.json").write_text("{}")
    kept = _run(runner, "flows", "export", str(out))
    assert (out / "main.json").read_bytes() == (folder / "main.json").read_bytes()  # the newest
    assert "not in version" in kept.output and (out / "stale.json").exists()
    pruned = _run(runner, "flows", "export", str(out), "--prune")
    assert "removed" in pruned.output and not (out / "stale.json").exists()
    assert sorted(p.name for p in out.iterdir()) == ["main.json", "site.json"]


def test_history_diff_and_rollback(runner, env, session, flows_dir) -> None:
    assert _run(runner, "flows", "history").output == "nothing is published yet\n"
    _run(runner, "flows", "publish", "--note", "first")
    _set_greeting(flows_dir, "Second greeting.")
    _run(runner, "flows", "publish", "--note", "second")
    first, second = _versions(session)
    table = _run(runner, "flows", "history").output.splitlines()
    assert table[0].split()[:2] == ["version", "published"]
    assert table[1].split()[0] == str(second.id) and table[1].endswith("second")
    assert table[2].strip() == "main: reworded 'greeting'"
    rows = json.loads(_run(runner, "flows", "history", "--json").output)
    assert [(r["id"], r["note"], r["calls_started"]) for r in rows] == [
        (second.id, "second", 0),
        (first.id, "first", 0),
    ]

    diff = _run(runner, "flows", "diff", str(first.id), str(second.id)).output.splitlines()
    assert diff[:2] == ["--- a/main.json", "+++ b/main.json"]
    assert any(line.startswith("+") and "Second greeting." in line for line in diff)
    same = _run(runner, "flows", "diff", str(first.id), str(second.id), "--document", "site.json")
    assert same.output == f"no differences between version {first.id} and version {second.id}\n"
    assert _run(runner, "flows", "diff", "1", "999").exit_code == 1

    refused = runner.invoke(main, ["flows", "rollback", str(first.id)])
    assert refused.exit_code == 2 and "--note" in refused.output  # a note is required
    back = _run(runner, "flows", "rollback", str(first.id), "--note", "the old greeting")
    assert back.exit_code == 0, back.output
    third = _versions(session)[-1]
    assert third.rolled_back_from == first.id and back.output.startswith(
        f"published version {third.id}: back to"
    )
    assert "(rollback to" in _run(runner, "flows", "history", "--limit", "1").output


@pytest.mark.parametrize("as_json", [False, True])
def test_validate_shows_warnings_and_passes(runner, flows_dir, as_json: bool) -> None:
    flow = json.loads((flows_dir / "main.json").read_text())
    flow["nodes"]["spare"] = {"type": "hangup", "prompt": "Nobody hears this."}
    (flows_dir / "main.json").write_text(json.dumps(flow))
    result = runner.invoke(main, ["flows", "validate", *(["--json"] if as_json else []), str(flows_dir)])
    assert result.exit_code == 0
    if as_json:
        [problem] = json.loads(result.output)
        assert (problem["node"], problem["severity"]) == ("spare", "warning")
    else:
        unreachable = "node is unreachable from the start node 'greeting'"
        assert result.output.splitlines() == [
            f"{flows_dir / 'main.json'}: node 'spare': warning: {unreachable}",
            "flows are valid (1 warning(s))",
        ]


def test_publishing_a_folder_refuses_to_undo_a_browser_publish_until_exported(
    runner, env, session, flows_dir
) -> None:
    from ivr.accounts.audit import Actor
    from ivr.flows.publishing import publish_texts

    from .sample import edited, greeting, sample_texts

    assert _run(runner, "flows", "publish", "--note", "first").exit_code == 0
    first = _versions(session)[-1]
    browser = publish_texts(
        session, edited(sample_texts(), greeting("From the browser.")), note="b", actor=Actor("ann", "x"),
        now=first.published_at, source="browser", based_on=first.id,
    )  # fmt: skip
    session.commit()
    refused = runner.invoke(main, ["flows", "publish", "--note", "undo?"])
    assert refused.exit_code == 1 and len(_versions(session)) == 2
    assert f"version {browser.id} was published by ann" in refused.output
    assert f"ivr flows export {flows_dir}" in refused.output
    assert _run(runner, "flows", "export", str(flows_dir)).exit_code == 0
    _set_greeting(flows_dir, "After the export.")
    done = _run(runner, "flows", "publish", "--note", "on top of the browser's")
    assert done.exit_code == 0, done.output
    ann2 = publish_texts(
        session, edited(sample_texts(), greeting("Again.")), note="b", actor=Actor("ann", "x"),
        now=first.published_at, source="api", based_on=_versions(session)[-1].id,
    )  # fmt: skip
    session.commit()
    assert runner.invoke(main, ["flows", "publish", "--note", "x"]).exit_code == 1
    forced = _run(runner, "flows", "publish", "--note", "undo it", "--force")
    assert forced.exit_code == 0 and _versions(session)[-1].id > ann2.id
