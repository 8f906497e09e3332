"""The tables publish writes about the publication itself (docs/publishing.md, "What is published"), all of plain
types that every BI tool shows (no lists; instants as TIMESTAMP WITH TIME ZONE):

* `README`: what the file is and how to read it, one row per topic (texts in descriptions.yaml);
* `publication_metadata`: one row: id, time, threshold, software, the dbt build, the suppression's figures;
* `publication_submissions`: one row per submission included;
* `publication_tables`: one row per table of the file, with its row count and withheld cells."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from dataclasses import dataclass
from typing import Any

import duckdb

from brukerplan.publish.describe import Descriptions, TableDescription, describe_own_table
from brukerplan.publish.equations import quote
from brukerplan.publish.suppress import SuppressionStats

README_TABLE = "README"
METADATA_TABLE = "publication_metadata"
SUBMISSIONS_TABLE = "publication_submissions"
TABLES_TABLE = "publication_tables"
OWN_TABLES = (README_TABLE, METADATA_TABLE, SUBMISSIONS_TABLE, TABLES_TABLE)
PACKAGES = {
    "brukerplan_version": "brukerplan",
    "duckdb_version": "duckdb",
    "dbt_core_version": "dbt-core",
    "dbt_duckdb_version": "dbt-duckdb",
}
# README topics after the one row per table, in reading order (texts in descriptions.yaml, `readme`)
NOTES = ("threshold", "null", "sums", "gaps", "time", "types", "versions")


@dataclass(frozen=True)
class Publication:
    publication_id: str
    published_at: dt.datetime  # UTC
    threshold: int
    storage_version: str
    submissions: list[str]
    build_invocation_id: str | None
    build_finished_at: dt.datetime | None


def instant(value: object) -> dt.datetime | None:
    """A point in time (datetime or ISO 8601 text, e.g. dbt's `2026-01-01T00:00:00Z`) as an aware datetime in UTC;
    a naive one is taken as UTC. None for nothing or text that is not a time."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _versions() -> dict[str, str]:
    out = {}
    for column, package in PACKAGES.items():
        try:
            out[column] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[column] = "unknown"
    return out


def _create(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    name: str,
    columns: list[tuple[str, str]],
    rows: list[tuple[Any, ...]],
    descriptions: Descriptions,
) -> TableDescription:
    """Create catalog.main.name with typed columns, insert the rows; its description from descriptions.yaml."""
    target = f"{quote(catalog)}.main.{quote(name)}"
    con.execute(f"create table {target} ({', '.join(f'{quote(c)} {t}' for c, t in columns)})")
    if rows:
        con.executemany(f"insert into {target} values ({', '.join('?' for _ in columns)})", rows)
    return describe_own_table(name, [c for c, _ in columns], descriptions)


def write_readme(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    threshold: int,
    tables: list[TableDescription],
    descriptions: Descriptions,
) -> TableDescription:
    """README: `about`, one row per table (its description), then the notes on reading the figures."""
    texts = descriptions.readme
    topics = [("about", texts["about"])]
    topics += [(table.name, table.text or "") for table in tables if table.name != README_TABLE]
    topics += [(note, texts[note].format(threshold=threshold, max_small=threshold - 1)) for note in NOTES]
    rows = [(i, topic, text) for i, (topic, text) in enumerate(topics, start=1)]
    columns = [("sort_order", "integer"), ("topic", "varchar"), ("text", "varchar")]
    return _create(con, catalog, README_TABLE, columns, rows, descriptions)


def write_metadata(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    publication: Publication,
    stats: SuppressionStats,
    tables_published: int,
    descriptions: Descriptions,
) -> TableDescription:
    versions = _versions()
    values: list[tuple[str, str, Any]] = [
        ("publication_id", "varchar", publication.publication_id),
        ("published_at", "timestamp with time zone", publication.published_at),
        ("submissions_included", "integer", len(publication.submissions)),
        ("suppression_threshold", "integer", publication.threshold),
        ("storage_version", "varchar", publication.storage_version),
        *((column, "varchar", versions[column]) for column in PACKAGES),
        ("dbt_invocation_id", "varchar", publication.build_invocation_id),
        ("dbt_build_generated_at", "timestamp with time zone", publication.build_finished_at),
        ("tables_published", "integer", tables_published),
        ("cells_primary", "bigint", stats.primary),
        ("cells_complementary", "bigint", stats.complementary),
        ("exact_audit_cells", "bigint", stats.exact.unknowns),
        ("exact_audit_components", "bigint", stats.exact.components),
        ("exact_audit_largest_component", "bigint", stats.largest_component),
        ("exact_audit_passes", "integer", stats.audit_passes),
        ("exact_audit_seconds", "double", round(stats.phase_seconds.get("exact audit", 0.0), 3)),
        ("lp_cells_checked", "bigint", stats.intervals.checked_cells),
        ("lp_components_checked", "bigint", stats.intervals.checked_components),
        ("lp_components", "bigint", stats.intervals.components),
        ("lp_programs", "bigint", stats.intervals.programs),
        ("lp_components_too_large", "bigint", stats.intervals.too_large),
        ("lp_cells_protected", "bigint", stats.interval_added_for),
        ("propagation_cells_protected", "bigint", stats.propagation_added_for),
    ]
    columns = [(c, t) for c, t, _ in values]
    return _create(con, catalog, METADATA_TABLE, columns, [tuple(v for _, _, v in values)], descriptions)


def write_submissions(
    con: duckdb.DuckDBPyConnection, catalog: str, publication: Publication, descriptions: Descriptions
) -> TableDescription:
    rows = [(submission, publication.publication_id) for submission in publication.submissions]
    columns = [("submission_id", "varchar"), ("publication_id", "varchar")]
    return _create(con, catalog, SUBMISSIONS_TABLE, columns, rows, descriptions)


def write_tables(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    listed: list[tuple[str, str, int, int]],
    publication_id: str,
    descriptions: Descriptions,
) -> TableDescription:
    """publication_tables: (name, kind, rows, withheld cells) of every table, itself last."""
    rows = [(*row, publication_id) for row in listed]
    rows.append((TABLES_TABLE, "metadata", len(rows) + 1, 0, publication_id))
    columns = [
        ("table_name", "varchar"),
        ("kind", "varchar"),
        ("row_count", "bigint"),
        ("withheld_cells", "bigint"),
        ("publication_id", "varchar"),
    ]
    return _create(con, catalog, TABLES_TABLE, columns, rows, descriptions)
