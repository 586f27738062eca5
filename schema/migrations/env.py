"""Alembic environment: runs the migrations on the connection that ``atlas2d.schema.migrate`` hands in."""

from alembic import context

from atlas2d.schema.models import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    """Run online against the connection passed in ``config.attributes['connection']``."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
