"""A guard every request passes: no NUL characters, which PostgreSQL cannot store in text."""

from __future__ import annotations

from flask import abort, request


def reject_nul() -> None:
    """Abort with 400 when the path, query string or form carries a NUL character."""
    values = [request.path, *request.args.keys(), *(v for vs in request.args.listvalues() for v in vs)]
    if request.mimetype == "application/x-www-form-urlencoded":
        request.get_data(cache=True)  # keep the raw body: the voice checks read it after the form
        values += [*request.form.keys(), *(v for vs in request.form.listvalues() for v in vs)]
    if any("\x00" in value for value in values):
        abort(400, "NUL characters are not allowed")
