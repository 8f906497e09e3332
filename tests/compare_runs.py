"""Before/after comparison of two runs: the marts of two warehouses and every table of two published files.

A restructuring must not change behaviour (issue 16): run `make demo` before and after (e.g. in two clones) and

    python -m tests.compare_runs BEFORE_DIR AFTER_DIR

where each directory is a project checkout holding warehouse/brukerplan.duckdb and published/brukerplan.duckdb
(or pass the files: --warehouse BEFORE AFTER, --published BEFORE AFTER). Every table of the `marts` schema, and
every table of the published file, must have the same columns and types and the same rows: `EXCEPT ALL` in both
directions is empty (duplicates count). Only the columns that name the run itself are left out (its id, clock
times, durations and the dbt invocation), listed in RUN_COLUMNS. Exit status 0 when identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

# Columns that identify the run rather than its data (they differ between any two runs).
RUN_COLUMNS: dict[str, frozenset[str]] = {
    "publication_metadata": frozenset(
        {"publication_id", "published_at", "dbt_invocation_id", "dbt_build_generated_at", "exact_audit_seconds"}
    ),
    "publication_tables": frozenset({"publication_id"}),
    "publication_submissions": frozenset({"publication_id"}),
}


@dataclass
class Comparison:
    tables: int = 0
    rows: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


def _columns(con: duckdb.DuckDBPyConnection, alias: str, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position",
        [alias, schema, table],
    ).fetchall()


def _tables(con: duckdb.DuckDBPyConnection, alias: str, schema: str) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = ?", [alias, schema]
    ).fetchall()
    return {name for (name,) in rows}


def compare_schema(before: Path, after: Path, schema: str, result: Comparison | None = None) -> Comparison:
    """Compare every table of `schema` in two DuckDB files (read-only)."""
    result = result or Comparison()
    con = duckdb.connect()
    con.execute(f"attach '{before}' as before_db (read_only)")
    con.execute(f"attach '{after}' as after_db (read_only)")
    left, right = _tables(con, "before_db", schema), _tables(con, "after_db", schema)
    for name in sorted(left ^ right):
        side = "before" if name in left else "after"
        result.differences.append(f"{schema}.{name}: only {side}")
    for name in sorted(left & right):
        result.tables += 1
        label = f"{before.name}:{schema}.{name}"
        skip = RUN_COLUMNS.get(name, frozenset())
        cols_before = [c for c in _columns(con, "before_db", schema, name) if c[0] not in skip]
        cols_after = [c for c in _columns(con, "after_db", schema, name) if c[0] not in skip]
        if cols_before != cols_after:
            result.differences.append(f"{label}: columns differ: {cols_before} vs {cols_after}")
            continue
        select = ", ".join(f'"{column}"' for column, _ in cols_before)
        for source, other, direction in (
            ("before_db", "after_db", "before only"),
            ("after_db", "before_db", "after only"),
        ):
            (count,) = con.execute(
                f'select count(*) from (select {select} from {source}."{schema}"."{name}"'
                f' except all select {select} from {other}."{schema}"."{name}")'
            ).fetchone()
            if count:
                result.differences.append(f"{label}: {count:,} rows {direction}")
        (rows,) = con.execute(f'select count(*) from before_db."{schema}"."{name}"').fetchone()
        result.rows += rows
    con.close()
    return result


def compare_runs(warehouses: tuple[Path, Path] | None, published: tuple[Path, Path] | None) -> Comparison:
    result = Comparison()
    if warehouses:
        compare_schema(*warehouses, "marts", result)
    if published:
        compare_schema(*published, "main", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.compare_runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="BEFORE_DIR AFTER_DIR (project checkouts after make demo)")
    parser.add_argument("--warehouse", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--published", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args(argv)
    warehouses, published = args.warehouse, args.published
    if args.dirs:
        if len(args.dirs) != 2:
            parser.error("give two directories, BEFORE and AFTER")
        before, after = args.dirs
        warehouses = warehouses or (before / "warehouse/brukerplan.duckdb", after / "warehouse/brukerplan.duckdb")
        published = published or (before / "published/brukerplan.duckdb", after / "published/brukerplan.duckdb")
    if not warehouses and not published:
        parser.error("nothing to compare: give BEFORE_DIR AFTER_DIR, --warehouse or --published")
    for path in [*(warehouses or ()), *(published or ())]:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    result = compare_runs(tuple(warehouses) if warehouses else None, tuple(published) if published else None)
    for line in result.differences:
        print(f"DIFFERENT {line}")
    verdict = "identical" if result.identical else f"{len(result.differences)} differences"
    print(f"compared {result.tables} tables, {result.rows:,} rows: {verdict}")
    return 0 if result.identical else 1


if __name__ == "__main__":
    sys.exit(main())
