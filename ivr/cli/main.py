"""The `ivr` command: every command group, added in one place."""

from __future__ import annotations

import click

from .agents import agent
from .campaigns import campaign, dnc
from .dialer import dialer
from .flows import flows
from .journal import journal
from .reports import report
from .serve import db, serve
from .simulate import simulate, traffic
from .users import token, user

COMMANDS: tuple[click.Command, ...] = (
    serve,
    db,
    flows,
    user,
    token,
    agent,
    simulate,
    traffic,
    dialer,
    campaign,
    dnc,
    report,
    journal,
)


@click.group()
def main() -> None:
    """ivr: a self-hosted Twilio IVR and call router."""


for command in COMMANDS:
    main.add_command(command)

if __name__ == "__main__":
    main()
