"""Alembic environment: runs migrations on the connection or URL that ivr.migrations.runner passes in."""

from alembic import context
from sqlalchemy.engine import Connection

from ivr import models  # noqa: F401  (registers the tables)
from ivr.db import Base, make_engine
from ivr.metrics import tables  # noqa: F401  (registers the rollup tables)

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    """Run the migrations on one connection.

    On SQLite, foreign keys are off while they run: batch mode rebuilds a table by copying and dropping it,
    which a table other rows point at refuses (Alembic's batch docs); every key is checked afterwards.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # ends the transaction the pragma began, so the migrations' own commits
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            raise RuntimeError(f"the migrations left rows whose foreign keys point nowhere: {broken[:5]}")


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
