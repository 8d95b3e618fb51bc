"""PostgreSQL: the embedded default, the connection pool and the numbered migrations."""

from .database import CONNECTION_LOST, Database, DatabaseUnavailable, connection_was_lost, create_pool, open_database
from .migrate import apply_migrations

__all__ = ["CONNECTION_LOST", "Database", "DatabaseUnavailable", "apply_migrations", "connection_was_lost",
           "create_pool", "open_database"]
