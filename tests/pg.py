"""PostgreSQL for the tests: a fresh schema per use; skipped (failed in CI) when unreachable."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg

PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres", "dbname": "test"}


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        with psycopg.connect(connect_timeout=3, **PG):  # type: ignore[arg-type]
            return None
    except Exception as error:  # any failure means "not here"
        return f"PostgreSQL at {PG['host']}:{PG['port']} is unreachable: {error}"


def new_schema() -> tuple[dict[str, str], Callable[[], None]]:
    """Env for a Coaching app on a brand-new schema, and the function that drops it."""
    schema = f"coaching_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(autocommit=True, **PG) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(autocommit=True, **PG) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": PG["dbname"],
        "POSTGRES_HOST": PG["host"],
        "POSTGRES_PORT": PG["port"],
        "POSTGRES_USER": PG["user"],
        "POSTGRES_PASSWORD": "",
        "POSTGRES_SCHEMA": schema,
    }
    return env, drop
