"""Alembic environment: runs migrations on the connection or URL that ivr.migrations.runner passes in."""

from alembic import context
from sqlalchemy.engine import Connection

from ivr import models  # noqa: F401  (registers the tables)
from ivr.db import Base, make_engine
from ivr.metrics import tables  # noqa: F401  (registers the rollup tables)

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    """Run the migrations on one connection."""
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
