"""`ivr agent`: the agents who take calls through the agent line (create, list, deactivate)."""

from __future__ import annotations

import json

import click

from .context import app_context


@click.group()
def agent() -> None:
    """Agents of the desks, who sign in on the agent line with an id and a PIN."""


@agent.command("create")
@click.option("--desk", required=True, help="The desk the agent takes callers of (a desk with a queue).")
@click.option("--id", "agent_id", required=True, help="The digits the agent keys in (2 to 16).")
@click.option("--name", default="", help="The agent's name (the line greets them with it).")
@click.option(
    "--pin",
    envvar="IVR_AGENT_PIN",
    prompt="PIN",
    hide_input=True,
    confirmation_prompt=True,
    help="4 to 12 digits; asked for when not given (or taken from IVR_AGENT_PIN).",
)
def agent_create(desk: str, agent_id: str, name: str, pin: str) -> None:
    """Create an agent of DESK; only a hash of the PIN is stored."""
    from ..accounts.agents import check_desk, create_agent
    from ..db import session
    from ..extensions import flows

    with app_context():
        try:
            published = flows().published()
            check_desk(desk, published.site.desks)
            create_agent(session(), agent_id, desk, pin, name)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        session().commit()
    click.echo(f"agent {agent_id}{f' ({name})' if name else ''} created on desk {desk}")


@agent.command("list")
@click.option("--desk", help="Only this desk's agents.")
@click.option("--json", "as_json", is_flag=True, help="Print the agents as JSON.")
def agent_list(desk: str | None, as_json: bool) -> None:
    """List the agents (never their PINs)."""
    from ..accounts.agents import list_agents
    from ..db import session

    with app_context():
        rows = [(a.agent_id, a.desk, a.name, a.active) for a in list_agents(session(), desk)]
    if as_json:
        keys = ("agent_id", "desk", "name", "active")
        click.echo(json.dumps([dict(zip(keys, row, strict=True)) for row in rows], indent=2))
        return
    click.echo(f"{'ID':<16} {'DESK':<16} {'STATE':<8} NAME")
    for agent_id, agent_desk, name, active in rows:
        click.echo(f"{agent_id:<16} {agent_desk:<16} {'active' if active else 'inactive':<8} {name}".rstrip())


@agent.command("deactivate")
@click.argument("agent_id")
def agent_deactivate(agent_id: str) -> None:
    """Stop agent AGENT_ID from signing in (the call log keeps their calls)."""
    from ..accounts.agents import deactivate_agent
    from ..db import session

    with app_context():
        try:
            deactivate_agent(session(), agent_id)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        session().commit()
    click.echo(f"agent {agent_id} deactivated")
