"""Before any version is published, pages, the API and the CLI give one answer: 503 and the same words."""

from __future__ import annotations

import pytest
from lxml import html

from ivr.accounts.tokens import create_token
from ivr.accounts.users import create_user
from ivr.cli.main import main
from ivr.flows.errors import NothingPublished

from ..web.test_web import PASSWORD, _login


@pytest.fixture
def flows_dir(tmp_path):
    """A flows folder with no flows in it, for the app and the commands: nothing can be published."""
    empty = tmp_path / "empty-flows"
    empty.mkdir()
    return empty


@pytest.fixture
def client(client):
    client.environ_base["HTTP_REFERER"] = "https://ivr.test/"
    return client


def test_the_store_says_nothing_is_published(app):
    assert app.extensions["ivr.flows"].current() is None
    with pytest.raises(NothingPublished, match="no flows are published yet"):
        app.extensions["ivr.flows"].published()


def test_api_compare_answers_503_with_the_message(client, session):
    token = create_token(session, "tests")
    session.commit()
    answer = client.get("/api/reports/compare?desks=local,bpo", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503
    assert answer.json["error"]["message"] == NothingPublished.MESSAGE


@pytest.mark.parametrize("path", ["/reports/compare", "/reports/compare.json", "/reports/compare.csv"])
def test_compare_pages_answer_503_with_the_message(client, session, path):
    create_user(session, "ops", PASSWORD)
    session.commit()
    assert _login(client, "ops", PASSWORD).status_code == 302
    answer = client.get(path)
    assert answer.status_code == 503
    if path.endswith(".json"):
        assert answer.json["error"]["message"] == NothingPublished.MESSAGE
    elif path.endswith(".csv"):
        assert NothingPublished.MESSAGE.split(":")[0] in answer.get_data(as_text=True)
    else:
        shown = " ".join(html.fromstring(answer.data).xpath("//*[@role='alert']//text()"))
        assert "no flows are published yet" in shown


@pytest.mark.parametrize(
    "args",
    [
        ["report", "compare", "local", "bpo"],
        ["agent", "create", "--desk", "local", "--id", "1234", "--pin", "98765432"],
        ["user", "create", "partner", "--desk", "bpo", "--password", PASSWORD],
    ],
)
def test_commands_say_the_same(runner, env, args):
    result = runner.invoke(main, args)
    assert result.exit_code != 0
    assert NothingPublished.MESSAGE in result.output
