"""Problems found in flow and site files, each naming its file, node and field."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

ERROR = "error"  # publishing is refused
WARNING = "warning"  # shown, but publishing goes ahead


@dataclass(frozen=True)
class Problem:
    """One error (or warning) in a flow or site file."""

    file: str
    node: str | None
    field: str | None
    message: str
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        """Whether this problem stops publishing (warnings do not)."""
        return self.severity == ERROR

    def sort_key(self) -> tuple[str, str, str, str]:
        """Order by file, node, field and message; the file-level problems of a file come first."""
        return (self.file, self.node or "", self.field or "", self.message)

    def __str__(self) -> str:
        where = [self.file]
        if self.node:
            where.append(f"node '{self.node}'")
        if self.field:
            where.append(f"field '{self.field}'")
        label = "warning: " if self.severity == WARNING else ""
        return f"{': '.join(where)}: {label}{self.message}"

    def as_dict(self) -> dict[str, str | None]:
        """The problem as JSON-ready data."""
        return {
            "file": self.file,
            "node": self.node,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that stop publishing."""
    return [problem for problem in problems if problem.is_error]


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """': did you mean 'x'?' naming the known name closest to a mistyped one, or '' when none is close."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=cutoff)
    return f": did you mean {close[0]!r}?" if close else ""


def known_names(label: str, known: Iterable[str]) -> str:
    """' (desks: bpo, local)': the names a reference may use, or ' (no desks)'."""
    names = sorted(known)
    return f" ({label}: {', '.join(names)})" if names else f" (no {label})"


def unknown(kind: str, name: str, known: Iterable[str], label: str) -> str:
    """The message for a name nothing defines: unknown desk 'lcoal': did you mean 'local'? (desks: ...)."""
    names = list(known)
    return f"unknown {kind} {name!r}{did_you_mean(name, names)}{known_names(label, names)}"
