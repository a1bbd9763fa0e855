"""The trend store on PostgreSQL: a team's shared store, when ``XTALK_TREND_DB`` is a URL.

``XTALK_TREND_DB=postgresql://user@host/db`` (or ``--db`` of ``xtalk trend``) keeps the trend in one
PostgreSQL database for every machine of a team; SQLite stays the default. The statements are
``xtalk.report.trend``'s own; this adapter only changes what differs: the placeholders (``%s``),
the table's DDL (``BIGSERIAL``, ``DOUBLE PRECISION``) and how the columns are listed for the
migration. psycopg 3 is an optional extra: ``pip install 'xtalk[postgres]'``; without it a URL is a
store error (the run folder is still complete, the trend is skipped with a message).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

SCHEMES = ("postgresql://", "postgres://")


def is_url(db: object) -> bool:
    return isinstance(db, str) and db.startswith(SCHEMES)


class StoreUnavailable(OSError):
    """A PostgreSQL URL without psycopg installed, or a server that cannot be reached."""


def errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)


def _pg_ddl(sqlite_ddl: str) -> list[str]:
    text = (sqlite_ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
            .replace(" REAL,", " DOUBLE PRECISION,").replace("INTEGER", "BIGINT"))
    return [statement.strip() for statement in text.split(";") if statement.strip()]


class PgConnection:
    """The part of ``sqlite3.Connection`` the trend uses, on a psycopg connection."""

    def __init__(self, url: str, ddl: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreUnavailable("a PostgreSQL trend store needs psycopg: pip install 'xtalk[postgres]'") from None
        try:
            self.conn = psycopg.connect(url, connect_timeout=10)
        except psycopg.Error as error:
            raise StoreUnavailable(f"the PostgreSQL trend store cannot be reached: {type(error).__name__}") from None
        for statement in _pg_ddl(ddl):
            self.conn.execute(statement)
        self.conn.commit()

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), list(params))

    def columns(self, table: str) -> set[str]:
        rows = self.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])
        return {str(row[0]) for row in rows.fetchall()}

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.conn.commit()
        else:
            self.conn.rollback()
