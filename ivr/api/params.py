"""The query parameters each API view takes: declared on the view, any other refused (400 naming them).
The declarations are checked against the OpenAPI document by tests/api/test_openapi.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import TypeVar

from flask import abort, request

F = TypeVar("F", bound=Callable[..., object])


def refuse_unknown(given: Iterable[str], accepted: frozenset[str]) -> None:
    """400 naming every parameter not in `accepted`, and listing the accepted ones."""
    unknown = sorted(set(given) - accepted)
    if unknown:
        names = ", ".join(map(repr, unknown))
        takes = ", ".join(sorted(accepted)) if accepted else "no query parameters"
        abort(400, f"{names}: not a parameter of {request.method} {request.path} (it takes: {takes})")


def query_parameters(*names: str, checked_by_view: bool = False) -> Callable[[F], F]:
    """Declare the query parameters a view takes; others are refused before it runs (unless the view
    refuses them itself with its own wording: checked_by_view)."""
    accepted = frozenset(names)

    def declare(view: F) -> F:
        @wraps(view)
        def wrapper(*args: object, **kwargs: object) -> object:
            if not checked_by_view:
                refuse_unknown(request.args.keys(), accepted)
            return view(*args, **kwargs)

        wrapper.query_parameters = accepted  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return declare
