"""ivr's Flask class: webhooks run only their own blueprint's hooks (no CSRF, cookie session, user, app-wide
hooks), a cookie session is opened only for a request that sends a cookie, and a URL is matched once."""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, Response, request
from flask.ctx import RequestContext
from flask.globals import request_ctx
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from werkzeug.routing import Rule

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request that sends no cookie and
    without the save's cookie settings for a session nobody touched (same cookies, same headers)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """An empty session at once when the request has no Cookie header, else Flask's own."""
        if "HTTP_COOKIE" not in request.environ and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Nothing to do for an empty session never read nor written (Flask's sets no cookie, no Vary)."""
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)


MAX_ROUTES = 1024  # (host, path, method) matches Application remembers


class MatchOnce(RequestContext):
    """Flask's request context, with the URL map's match remembered for each (host, path, method): the map
    does not change once requests are served (a rule added meanwhile, as tests do, forgets every match:
    Application.add_url_rule), and a match either succeeds the same way or raises (those are not
    remembered). The view arguments are copied for each request."""

    app: Application

    def match_request(self) -> None:
        """The request's rule and view arguments, as the URL adapter matches them."""
        adapter = self.url_adapter
        if adapter is None:  # Flask binds one to every request; kept as Flask handles None
            super().match_request()
            return
        key = (
            adapter.server_name,
            adapter.subdomain,
            adapter.path_info,
            adapter.default_method,
            adapter.websocket,
        )
        routes = self.app.routes
        found = routes.get(key)
        if found is None:
            super().match_request()
            request = self.request
            if request.routing_exception is not None or request.url_rule is None:
                return
            if len(routes) >= MAX_ROUTES:
                routes.clear()
            routes[key] = (request.url_rule, dict(request.view_args or {}))
            return
        rule, args = found
        self.request.url_rule, self.request.view_args = rule, dict(args)


class Application(Flask):
    """Flask, with `lean_blueprints` whose requests skip the app-wide hooks and the session save."""

    # A request to a lean blueprint (the voice webhooks) runs none of the app-wide before/after_request
    # functions (CSRF, Flask-Login's remember cookie, the pages' and API's headers, ivr.db's NUL guard) and
    # saves no session; the blueprint does what it needs itself (ivr.voice: body, NUL, signature, identifiers,
    # nosniff). Every other request, unmatched ones under /voice included, runs as in Flask.

    session_interface = CookieSessions()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.routes: dict[tuple[Any, ...], tuple[Rule, dict[str, Any]]] = {}  # MatchOnce's (Flask adds rules)
        super().__init__(*args, **kwargs)
        self.lean_blueprints: frozenset[str] = frozenset()  # top-level blueprint names (create_app sets)

    def add_url_rule(self, *args: Any, **kwargs: Any) -> None:
        """Flask's (blueprints' rules come here too), forgetting the matches remembered (MatchOnce)."""
        super().add_url_rule(*args, **kwargs)
        self.routes.clear()

    def request_context(self, environ: WSGIEnvironment) -> RequestContext:
        """Flask's request context, matching each URL once (MatchOnce)."""
        return MatchOnce(self, environ)

    def _lean_blueprints(self) -> list[str] | None:
        """The request's blueprints (innermost first) when its top one is lean, else None."""
        names: list[str] = request._get_current_object().blueprints  # type: ignore[attr-defined]
        return names if names and names[-1] in self.lean_blueprints else None

    def preprocess_request(self) -> Any:
        """Flask's, except that a lean blueprint's request runs only its own preprocessors and hooks."""
        lean = self._lean_blueprints()
        if lean is None:
            return super().preprocess_request()
        req = request._get_current_object()  # type: ignore[attr-defined]
        names = tuple(reversed(lean))
        for name in names:
            for url_func in self.url_value_preprocessors.get(name, ()):
                url_func(req.endpoint, req.view_args)
        for name in names:
            for before_func in self.before_request_funcs.get(name, ()):
                answer = self.ensure_sync(before_func)()
                if answer is not None:
                    return answer
        return None

    def process_response(self, response: Response) -> Response:
        """Flask's, except that a lean blueprint's answer gets only its own hooks and no session save."""
        lean = self._lean_blueprints()
        if lean is None:
            return super().process_response(response)
        ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        for func in chain(
            ctx._after_request_functions, *(reversed(self.after_request_funcs.get(name, ())) for name in lean)
        ):
            response = self.ensure_sync(func)(response)
        return response
