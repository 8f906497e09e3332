"""dbt-duckdb plugin (profiles.yml `plugins`): a dbt run that cannot lock the warehouse fails at once with a
message naming the process that holds the file and the command to use (docs/decisions.md W1).

`dbt build` run directly writes the warehouse file in place, and DuckDB lets a file have one writer or any
number of readers: an analyst's read-only connection blocks it. dbt-duckdb would fail with DuckDB's bare lock
error (or retry for minutes with `retries`); this plugin probes the lock just before dbt-duckdb connects and
explains. `brukerplan build` never meets the lock: it builds a new file and swaps it in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt_common.exceptions import DbtRuntimeError

from brukerplan.warehouse.locks import lock_holder


def locked_message(path: str, error: str) -> str:
    return (
        f"the warehouse {path} is open in {lock_holder(error)}. `dbt build` run directly writes the warehouse in "
        "place and cannot start while anyone has the file open (DuckDB allows one writer or any number of "
        "readers). Run `brukerplan build` instead: it builds a new file beside it and swaps it in when the build "
        "is green, without waiting for readers (README, 'Running dbt directly'). DuckDB said: " + error
    )


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        """Called by dbt-duckdb right before it opens the database read-write: try the same now."""
        path = str(creds.path or "")
        if path in ("", ":memory:") or not Path(path).exists():
            return
        try:
            duckdb.connect(path, read_only=False, config=dict(config)).close()
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise DbtRuntimeError(locked_message(path, str(exc))) from exc
