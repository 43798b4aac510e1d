"""Database migrations through Alembic, with the scripts shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text

from ..db import make_engine

MIGRATIONS = Path(__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """An Alembic config for the packaged migrations and this database URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the database at `url` down to `revision`."""
    command.downgrade(alembic_config(url), revision)


def recreate(url: str) -> None:
    """Drop every table of the database at `url`, then apply every migration: for tests and benchmarks.

    It destroys all the data there.
    """
    engine = make_engine(url)
    with engine.begin() as connection:
        meta = MetaData()
        meta.reflect(connection)
        meta.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        if connection.dialect.name == "postgresql":  # the rollup trigger's function outlives its table
            connection.execute(text("DROP FUNCTION IF EXISTS calls_rollup_dirty() CASCADE"))
    engine.dispose()
    upgrade(url)
