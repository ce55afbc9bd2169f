"""Database access: the embedded server, the pool, migrations."""

from voice_server.db.database import Database, open_database

__all__ = ["Database", "open_database"]
