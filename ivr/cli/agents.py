"""`ivr agent`: the agents who take calls through the agent line (create, list, pin, expire-pin, unlock,
deactivate)."""

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
    help="6 to 12 digits; asked for when not given (or taken from IVR_AGENT_PIN).",
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
    """List the agents (never their PINs): state (locked after wrong PINs), and PIN: ok, short (under 6
    digits, still accepted), unchecked (set before the 6-digit rule, length unknown) or expired."""
    from ..accounts.agents import BY_AGENT, list_agents, pin_state
    from ..accounts.throttle import current_locks
    from ..db import session
    from ..extensions import clock

    with app_context():
        now = clock()
        locks = current_locks(session(), now, BY_AGENT.scope)
        locked = {lock.key: lock.locked_until for lock in locks if lock.locked_until is not None}
        rows = [
            {
                "agent_id": a.agent_id,
                "desk": a.desk,
                "name": a.name,
                "active": a.active,
                "pin": pin_state(a),
                "locked_until": locked[a.agent_id].isoformat() if a.agent_id in locked else None,
            }
            for a in list_agents(session(), desk)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':<16} {'DESK':<16} {'STATE':<8} {'PIN':<9} NAME")
    for row in rows:
        state = "locked" if row["locked_until"] else "active" if row["active"] else "inactive"
        line = f"{row['agent_id']:<16} {row['desk']:<16} {state:<8} {row['pin']:<9} {row['name']}"
        click.echo(line.rstrip())
    weak = sum(row["pin"] in ("short", "unchecked") for row in rows)
    if weak:
        fix = "ivr agent pin ID, or ivr agent expire-pin --short"
        click.echo(f"{weak} agent(s) without a known 6-digit PIN: {fix}")


@agent.command("pin")
@click.argument("agent_id")
@click.option(
    "--pin",
    envvar="IVR_AGENT_PIN",
    prompt="New PIN",
    hide_input=True,
    confirmation_prompt=True,
    help="6 to 12 digits; asked for when not given (or taken from IVR_AGENT_PIN).",
)
def agent_pin(agent_id: str, pin: str) -> None:
    """Give agent AGENT_ID a new PIN (ends an expiry)."""
    from ..accounts.agents import find_agent, new_pin
    from ..db import session

    with app_context():
        found = find_agent(session(), agent_id)
        if found is None:
            raise click.ClickException(f"no agent {agent_id}")
        try:
            new_pin(found, pin)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        session().commit()
    click.echo(f"agent {agent_id} has a new PIN")


@agent.command("expire-pin")
@click.argument("agent_ids", nargs=-1, metavar="[ID...]")
@click.option("--short", is_flag=True, help="Every agent whose PIN is not known to have 6 digits or more.")
def agent_expire_pin(agent_ids: tuple[str, ...], short: bool) -> None:
    """Make agents need a new PIN (ivr agent pin) before they sign in again; the line tells them so."""
    from ..accounts.agents import expire_pins
    from ..db import session

    if not agent_ids and not short:
        raise click.UsageError("name the agents, or give --short")
    with app_context():
        try:
            expired = [a.agent_id for a in expire_pins(session(), list(agent_ids), short)]
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        session().commit()
    click.echo(f"{len(expired)} PIN(s) expired" + (f": {', '.join(expired)}" if expired else ""))


@agent.command("unlock")
@click.argument("agent_id", required=False)
@click.option("--caller", help="Lift the lock on this calling number instead (as the line saw it, E.164).")
@click.option("--line", "line_number", help="Lift the lock on this agent line number instead.")
def agent_unlock(agent_id: str | None, caller: str | None, line_number: str | None) -> None:
    """Lift the lock wrong PINs put on agent AGENT_ID (or on a calling number or a line) and forget them."""
    from ..accounts.agents import BY_CALLER, BY_LINE, unlock
    from ..accounts.throttle import lift
    from ..db import session

    given = [value for value in (agent_id, caller, line_number) if value]
    if len(given) != 1:
        raise click.UsageError("give one of: an agent id, --caller NUMBER, --line NUMBER")
    with app_context():
        if agent_id:
            done, what = unlock(session(), agent_id), f"agent {agent_id}"
        elif caller:
            done, what = lift(session(), BY_CALLER.scope, caller), f"calling number {caller}"
        else:
            assert line_number is not None
            done, what = lift(session(), BY_LINE.scope, line_number), f"line {line_number}"
        session().commit()
    click.echo(f"{what}: " + ("lock lifted, wrong PINs forgotten" if done else "nothing to lift"))


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
