"""SQLAlchemy setup: the declarative base, the engine and a session per app context."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, abort, current_app, g, request
from sqlalchemy import JSON, DateTime, Insert, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone, so it is added back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints the same everywhere."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class DatabaseUnavailable(Exception):
    """The database refused, failed or took too long: answer without it."""


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL mode, foreign keys and a busy timeout."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # No pre-ping (a round trip per request): a dropped connection fails one request, which answers the
    # fallback TwiML, and SQLAlchemy then replaces the pool's connections.
    return create_engine(url, pool_recycle=1800, pool_size=5, max_overflow=10)


class Database:
    """One app's engine and session factory."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def init_app(self, app: Flask) -> None:
        """Register on the app, refuse what the database cannot store, close the session at the end."""
        app.extensions["ivr.db"] = self
        app.before_request(reject_nul)

        @app.teardown_appcontext
        def _close(_exc: BaseException | None) -> None:
            session = g.pop("db_session", None)
            if session is not None:
                session.close()


def reject_nul() -> None:
    """Abort with 400 when the path, query string or form carries a NUL character (PostgreSQL stores none)."""
    values = [request.path, *request.args.keys(), *(v for vs in request.args.listvalues() for v in vs)]
    if request.mimetype == "application/x-www-form-urlencoded":
        request.get_data(cache=True)  # keep the raw body: the voice checks read it after the form
        values += [*request.form.keys(), *(v for vs in request.form.listvalues() for v in vs)]
    if any("\x00" in value for value in values):
        abort(400, "NUL characters are not allowed")


def database() -> Database:
    """The current app's database."""
    found: Database = current_app.extensions["ivr.db"]
    return found


def session() -> Session:
    """The session of the current app context (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    found: Session = g.db_session
    return found


def insert_ignoring_conflicts(bind: Session | Connection, table: Table) -> Insert:
    """An INSERT that skips rows whose unique key exists already (RETURNING then gives no row for them)."""
    if (
        bind.get_bind().dialect.name == "postgresql"
        if isinstance(bind, Session)
        else bind.dialect.name == "postgresql"
    ):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
