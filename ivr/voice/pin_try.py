"""The agent line's PIN try on PostgreSQL: agents and counts read, the PIN judged (ivr.accounts.agents), its
counts in the step's one write, guarded by the lock the read foretold (docs/desks.md, "Wrong PINs")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, update
from sqlalchemy.dialects import postgresql

from ..accounts.agents import (
    BY_AGENT,
    BY_CALLER,
    BY_LINE,
    DEFAULT_HASH,
    RULES,
    SIGNERS,
    Signer,
    identified,
    judge,
    keyed_among,
    short,
    told,
)
from ..accounts.decoy import check_secret
from ..accounts.throttle import Rule, counts, failure_upsert, failure_values, forgotten, locks_next
from ..calls.driver import Runner
from ..calls.steps import Gate
from ..db import embeddable
from ..engine import agent_line as line
from ..models import Agent

AGENTS = cast(Table, Agent.__table__)
TOLD = ("line", "caller")  # the locks a refused caller may be told of (ivr.accounts.agents.told)
PINNED = update(AGENTS).where(AGENTS.c.id == bindparam("signer_id")).values(short_pin=bindparam("short_pin"))


@dataclass(frozen=True)
class Try:
    """A PIN try judged from what was read: the event foretold, and the gate (None: nothing to count or
    clear) that writes its counts with the step, with its values. When another try's failure was counted
    meanwhile, the gate refuses the step and `again` tells the event from the write's row."""

    event: line.PinChecked
    gate: Gate | None = None
    values: Mapping[str, Any] | None = None
    line_locked: bool = False
    checked: tuple[str, ...] = ()  # the failures whose lock the gate checks, in its result's order

    def again(self, row: Sequence[Any]) -> line.PinChecked:
        """The refused try's event from the write's row: the locks its failures did set."""
        locked = {which for which, flag in zip(self.checked, row[1:], strict=True) if flag}
        return line.PinChecked(None, told(locked, self.line_locked))


def tried(
    run: Runner, secret: str | bytes, keyed: str, pin: str, caller: str, line_number: str, now: datetime
) -> Try:
    """Read the agent keyed in (by its id's keyed hash) and the counts of the caller, line and agent, check
    the PIN (hashed even for an unknown id) and judge the try, as `verify_agent` does."""
    signer = (
        keyed_among((Signer(*row) for row in run.execute(SIGNERS).all()), secret, keyed) if keyed else None
    )
    keys: list[tuple[Rule, str]] = [(BY_CALLER, caller)] if identified(caller) else []
    keys.append((BY_LINE, line_number))
    if signer is not None:
        keys.append((BY_AGENT, signer.agent_id))
    read = counts(run, keys)
    run.commit()

    def in_force(rule: Rule, key: str) -> bool:
        count = read.get((rule.scope, key))
        return count is not None and count.locked_until is not None and count.locked_until > now

    if identified(caller) and in_force(BY_CALLER, caller):
        return Try(line.PinChecked(None, "caller"))
    line_locked = in_force(BY_LINE, line_number)
    matches = check_secret(signer.pin_hash if signer is not None else None, pin, DEFAULT_HASH)
    agent_locked = signer is not None and in_force(BY_AGENT, signer.agent_id)
    judged = judge(
        signer.agent_id if signer is not None else None, agent_locked, matches, caller, line_number
    )
    if signer is not None and judged.signs_in:
        account = line.Account(signer.agent_id, signer.desk, signer.name, signer.active, signer.pin_expired)
        values = _keyed("c_", judged.keys, lambda rule, key, prefix: _cleared(rule, key, now, prefix))
        values |= {"signer_id": signer.id, "short_pin": short(pin)}
        return Try(line.PinChecked(account), _clearing(tuple(judged.keys)), values)
    foretold = {
        which
        for which, key in judged.keys.items()
        if locks_next(RULES[which], read.get(_at(which, key)), now)
    }
    checked = tuple(which for which in judged.keys if which in TOLD)
    values = _keyed("f_", judged.keys, lambda rule, key, prefix: failure_values(rule, key, now, prefix))
    values |= {f"f_{which}_locks": which in foretold for which in checked}
    event = line.PinChecked(None, told(foretold, line_locked))
    return Try(event, _counting(tuple(judged.keys)), values, line_locked, checked)


def _at(which: str, key: str) -> tuple[str, str]:
    return RULES[which].scope, key


def _keyed(prefix: str, keys: Mapping[str, str], values: Any) -> dict[str, Any]:
    """Each key's values, named `<prefix><rule name>_`, merged."""
    merged: dict[str, Any] = {}
    for which, key in keys.items():
        merged |= values(RULES[which], key, f"{prefix}{which}_")
    return merged


def _cleared(rule: Rule, key: str, now: datetime, prefix: str) -> dict[str, Any]:
    return {f"{prefix}scope": rule.scope, f"{prefix}key": key, f"{prefix}now": now}


@cache
def _counting(keys: tuple[str, ...]) -> Gate:
    """A wrong PIN's gate: one failure counted per key; it passes when the line's and the caller's failures
    lock (or not) as foretold (`:f_<which>_locks`), and returns whether each did."""
    ctes, checks, results = [], [], []
    binds: list[BindParameter[Any]] = []
    for which in keys:
        sql, typed = embeddable(failure_upsert(postgresql, f"f_{which}_"))
        ctes.append(f"f_{which} AS ({sql})")
        binds.extend(typed)
        if which in TOLD:
            locks = f"EXISTS (SELECT 1 FROM f_{which} WHERE locked_until = :f_{which}_until)"
            checks.append(f"({locks}) = :f_{which}_locks")
            binds.append(bindparam(f"f_{which}_locks", type_=postgresql.BOOLEAN()))
            results.append(f"({locks}) AS {which}_locked")
    ctes.append(f"gate AS (SELECT 1 AS ok WHERE {' AND '.join(checks) or 'true'})")
    return Gate(",\n".join(ctes), tuple(binds), ", ".join(results))


@cache
def _clearing(keys: tuple[str, ...]) -> Gate:
    """A right PIN's gate: each key's failures forgotten (a lock in force kept) and the agent's PIN noted
    as short or not; it always passes."""
    ctes = []
    binds: list[BindParameter[Any]] = []
    for which in keys:
        sql, typed = embeddable(forgotten(f"c_{which}_"))
        ctes.append(f"c_{which} AS ({sql})")
        binds.extend(typed)
    sql, typed = embeddable(PINNED)
    ctes += [f"pinned AS ({sql})", "gate AS (SELECT 1 AS ok)"]
    return Gate(",\n".join(ctes), (*binds, *typed))
