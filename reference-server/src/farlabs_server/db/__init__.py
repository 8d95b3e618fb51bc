"""PostgreSQL: the embedded default, the connection pool and the numbered migrations."""

from .database import Database, open_database
from .migrate import apply_migrations

__all__ = ["Database", "apply_migrations", "open_database"]
