"""Alembic environment: runs on the connection that jobtrail.store.migrate hands it."""

from alembic import context

from jobtrail.store.partitions import include_name
from jobtrail.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
