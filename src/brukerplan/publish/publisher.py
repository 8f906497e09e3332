"""`brukerplan publish`: marts and dimensions of a green build -> suppressed, aggregate-only published file."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from brukerplan.publish import writer
from brukerplan.publish.equations import build_equations, literal, quote, source_table
from brukerplan.publish.gate import BuildNotGreen, BuildRecord, check_green_build, default_run_results
from brukerplan.publish.intervals import DEFAULT_LP_BUDGET
from brukerplan.publish.masks import bit, build_masks, mask_table
from brukerplan.publish.spec import PublishSpec, SpecError, TableSpec, expand_patterns, load_spec
from brukerplan.publish.suppress import SuppressionStats, suppress_system
from brukerplan.settings import Settings

METADATA_TABLE = "publication_metadata"
TABLES_TABLE = "publication_tables"
WITHHELD_CELLS = "withheld_cells"
WITHHELD_COLUMNS = "withheld_columns"
MEMORY_LIMIT = "2GB"

Progress = Callable[[str], None]


class PublishError(RuntimeError):
    """Publishing refused or failed; the previous published file is untouched."""


@dataclass
class TableSummary:
    name: str
    kind: str  # mart | dimension | metadata
    rows: int
    withheld_cells: int = 0


@dataclass
class PublishResult:
    path: Path
    parquet_dir: Path
    tables: list[TableSummary]
    stats: SuppressionStats
    seconds: float
    publication_id: str
    threshold: int
    build: BuildRecord | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def withheld_cells(self) -> int:
        return sum(t.withheld_cells for t in self.tables)


def _versions() -> dict[str, str]:
    out = {}
    for column, package in [
        ("brukerplan_version", "brukerplan"),
        ("duckdb_version", "duckdb"),
        ("dbt_core_version", "dbt-core"),
        ("dbt_duckdb_version", "dbt-duckdb"),
    ]:
        try:
            out[column] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[column] = "unknown"
    return out


def _attach_warehouse(con: duckdb.DuckDBPyConnection, warehouse: Path, attempts: int = 5) -> None:
    if not warehouse.exists():
        raise PublishError(f"warehouse file {warehouse} does not exist: run `brukerplan build` first")
    for attempt in range(attempts):
        try:
            con.execute(f"attach {literal(str(warehouse))} as wh (read_only)")
            return
        except duckdb.IOException as exc:  # held by a writer (a dbt build in progress)
            if attempt == attempts - 1:
                raise PublishError(f"cannot open the warehouse {warehouse} read-only: {exc}") from exc
            time.sleep(0.5 * (attempt + 1))


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str] | None:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = 'wh' and table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows] or None


def _check_person_level(spec: PublishSpec, name: str, columns: list[str]) -> None:
    forbidden = sorted(set(columns) & set(spec.person_level_columns))
    if forbidden:
        raise PublishError(f"{name} has person-level columns {forbidden}: refusing to publish it")
    if name.startswith(spec.person_level_table_prefixes):
        raise PublishError(f"{name} is a person-level table: refusing to publish it")


def _load(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> tuple[PublishSpec, dict[str, list[str]]]:
    """Copy every published mart into memory as src_<name> with a stable _row_id; check its columns against
    the spec (after expanding wildcard names). Returns the expanded spec and each table's columns."""
    columns_of: dict[str, list[str]] = {}
    missing_tables = []
    for table in spec.tables:
        schema, name = table.source.split(".", 1)
        columns = _columns(con, schema, name)
        if columns is None:
            missing_tables.append(table.source)
            continue
        columns_of[table.name] = columns
    if missing_tables:
        raise PublishError(
            f"the warehouse has no {', '.join(missing_tables)}: run a full `brukerplan build` before publishing"
        )
    try:
        spec = expand_patterns(spec, columns_of)
    except SpecError as exc:
        raise PublishError(f"publish spec: {exc}") from exc
    for table in spec.tables:
        schema, name = table.source.split(".", 1)
        columns = columns_of[table.name]
        _check_person_level(spec, table.name, columns)
        undeclared = [c for c in columns if c not in table.declared]
        absent = [c for c in table.declared if c not in columns]
        if undeclared or absent:
            raise PublishError(
                f"{table.source} does not match the publish spec (src/brukerplan/publish/tables.yaml): "
                + (f"columns not declared there: {undeclared}. " if undeclared else "")
                + (f"declared but not in the warehouse: {absent}." if absent else "")
            )
        order = ", ".join(quote(k) for k in table.keys)
        extra = "".join(f", ({sql}) as {quote(column)}" for column, sql in table.extra.items())
        con.execute(
            f"create or replace temp table {source_table(table.name)} as "
            f"select row_number() over (order by {order}) - 1 as _row_id, r.*{extra} "
            f"from wh.{quote(schema)}.{quote(name)} r"
        )
        duplicated = con.execute(
            f"select count(*) - count(distinct ({order})) from {source_table(table.name)}"
        ).fetchone()
        if duplicated and duplicated[0]:
            raise PublishError(f"{table.source}: {duplicated[0]} rows repeat the key ({order})")
    return spec, columns_of


def _mart_select(table: TableSpec, columns: list[str]) -> str:
    """The published form of a mart: withheld cells null, plus withheld_cells and withheld_columns."""
    suppressible = set(table.count_names) | set(table.derived)
    mask = "coalesce(m.mask, 0)"

    def withheld(column: str) -> str:
        return f"({mask} & {1 << bit(table, column)}) != 0"

    parts = []
    for column in columns:
        if column in suppressible:
            parts.append(f"case when {withheld(column)} then null else r.{quote(column)} end as {quote(column)}")
        else:
            parts.append(f"r.{quote(column)}")
    flagged = ", ".join(f"case when {withheld(c)} then {literal(c)} end" for c in columns if c in suppressible)
    parts.append(f"bit_count({mask})::integer as {WITHHELD_CELLS}")
    parts.append(f"concat_ws(',', {flagged or 'null'}) as {WITHHELD_COLUMNS}")
    return (
        f"select {', '.join(parts)} from {source_table(table.name)} r "
        f"left join {mask_table(table.name)} m on m.row_id = r._row_id order by r._row_id"
    )


def suppress(
    con: duckdb.DuckDBPyConnection,
    spec: PublishSpec,
    threshold: int,
    progress: Progress | None = None,
    lp_budget: int = DEFAULT_LP_BUDGET,
) -> SuppressionStats:
    """Equations, withheld cells and the row masks (mask_<table>) for the marts loaded as src_<table>."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    stats = SuppressionStats()
    say("building the equations of the declaration")
    try:
        system, blocks = build_equations(con, spec)
    except SpecError as exc:
        raise PublishError(f"publish spec: {exc}") from exc
    lap = stats.lap("equations", started)
    withheld, _, stats = suppress_system(system, threshold, progress=say, stats=stats, lp_budget=lp_budget)
    if not stats.audit_complete:
        raise PublishError(
            f"the exact audit still finds recoverable cells after {stats.audit_passes} passes: nothing published"
        )
    lap = time.perf_counter()
    say("withholding rates, shares and means of withheld counts")
    masks = build_masks(con, spec, blocks, withheld, stats.null_vector)
    stats.derived = masks.derived
    stats.per_table = masks.per_table
    stats.lap("derived", lap)
    stats.seconds = time.perf_counter() - started
    return stats


def _submissions(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> list[str]:
    for table in spec.tables:
        if "submission_id" in table.keys:
            rows = con.execute(
                f"select distinct submission_id::varchar from {source_table(table.name)} "
                "where submission_id is not null order by 1"
            ).fetchall()
            return [r[0] for r in rows]
    return []


def publish(
    settings: Settings,
    *,
    run_results: Path | None = None,
    require_green_build: bool = True,
    spec: PublishSpec | None = None,
    progress: Progress | None = None,
    spec_transform: Callable[[PublishSpec], PublishSpec] | None = None,
    lp_budget: int = DEFAULT_LP_BUDGET,
) -> PublishResult:
    """Publish the warehouse's marts and dimensions to settings.published (see the module docs)."""
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    try:
        spec = spec or load_spec()
    except SpecError as exc:
        raise PublishError(f"publish spec: {exc}") from exc
    threshold = settings.suppression_threshold
    build: BuildRecord | None = None
    if require_green_build:
        try:
            build = check_green_build(run_results or default_run_results(settings.warehouse))
        except BuildNotGreen as exc:
            raise PublishError(str(exc)) from exc
    published = settings.published
    published.parent.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix=".publish-spill-", dir=published.parent))
    # bounded memory: DuckDB spills the sort of the equations to disk beyond the limit (scale 5 stays < 8 GiB)
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill)})
    try:
        say("reading the marts")
        _attach_warehouse(con, settings.warehouse)
        spec, columns_of = _load(con, spec)
        if spec_transform is not None:
            spec = spec_transform(spec)
        dimensions: list[tuple[str, str, list[str]]] = []
        for dim in spec.dimensions:
            schema, name = dim.source.split(".", 1)
            columns = _columns(con, schema, name)
            if columns is None:
                raise PublishError(f"the warehouse has no {dim.source}: run a full `brukerplan build` first")
            _check_person_level(spec, dim.name, columns)
            dimensions.append((dim.name, dim.source, columns))
        say("suppressing small counts")
        stats = suppress(con, spec, threshold, progress=say, lp_budget=lp_budget)
        submissions = _submissions(con, spec)
        publication_id = str(uuid.uuid4())
        summaries: list[TableSummary] = []
        say("writing the published file")
        with writer.staged_file(published) as tmp:
            con.execute(f"attach {literal(str(tmp))} as out (storage_version {literal(writer.STORAGE_VERSION)})")
            for table in spec.tables:
                con.execute(
                    f"create table out.main.{quote(table.name)} as {_mart_select(table, columns_of[table.name])}"
                )
                row = con.execute(
                    f"select count(*), coalesce(sum({WITHHELD_CELLS}), 0) from out.main.{quote(table.name)}"
                ).fetchone()
                summaries.append(TableSummary(table.name, "mart", int(row[0]), int(row[1])))  # type: ignore[index]
            for name, source, columns in dimensions:
                schema, src = source.split(".", 1)
                con.execute(
                    f"create table out.main.{quote(name)} as select {', '.join(quote(c) for c in columns)} "
                    f"from wh.{quote(schema)}.{quote(src)}"
                )
                row = con.execute(f"select count(*) from out.main.{quote(name)}").fetchone()
                summaries.append(TableSummary(name, "dimension", int(row[0])))  # type: ignore[index]
            _write_metadata(con, publication_id, threshold, submissions, build, summaries, stats)
            summaries.append(TableSummary(METADATA_TABLE, "metadata", 1))
            summaries.append(TableSummary(TABLES_TABLE, "metadata", len(summaries) + 1))
            say("writing the Parquet copies")
            parquet_dir = writer.new_parquet_dir(published)
            try:
                for summary in summaries:
                    target = parquet_dir / f"{summary.name}.parquet"
                    con.execute(
                        f"copy (select * from out.main.{quote(summary.name)}) to {literal(str(target))} "
                        "(format parquet)"
                    )
                con.execute("checkpoint out")
                con.execute("detach out")
                writer.commit_file(tmp, published)
            except BaseException:
                writer.remove_quietly(parquet_dir)
                raise
        link = writer.commit_parquet_dir(parquet_dir, published)
    except duckdb.Error as exc:
        raise PublishError(f"publishing failed, the previous published file is unchanged: {exc}") from exc
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return PublishResult(
        path=published,
        parquet_dir=link,
        tables=summaries,
        stats=stats,
        seconds=time.perf_counter() - started,
        publication_id=publication_id,
        threshold=threshold,
        build=build,
    )


def _write_metadata(
    con: duckdb.DuckDBPyConnection,
    publication_id: str,
    threshold: int,
    submissions: list[str],
    build: BuildRecord | None,
    summaries: list[TableSummary],
    stats: SuppressionStats,
) -> None:
    versions = _versions()
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(
        f"""
        create table out.main.{METADATA_TABLE} as select
            ?::varchar as publication_id,
            ?::timestamp as published_at,
            ?::integer as submissions_included,
            ?::varchar[] as submission_ids,
            ?::integer as suppression_threshold,
            ?::varchar as storage_version,
            ?::varchar as brukerplan_version,
            ?::varchar as duckdb_version,
            ?::varchar as dbt_core_version,
            ?::varchar as dbt_duckdb_version,
            ?::varchar as dbt_invocation_id,
            ?::varchar as dbt_build_generated_at,
            ?::integer as tables_published,
            ?::bigint as cells_primary,
            ?::bigint as cells_complementary,
            ?::bigint as exact_audit_cells,
            ?::bigint as exact_audit_components,
            ?::bigint as exact_audit_largest_component,
            ?::integer as exact_audit_passes,
            ?::double as exact_audit_seconds,
            ?::bigint as lp_cells_checked,
            ?::bigint as lp_components_checked,
            ?::bigint as lp_components,
            ?::bigint as lp_programs,
            ?::bigint as lp_components_too_large,
            ?::bigint as lp_cells_protected,
            ?::bigint as propagation_cells_protected
        """,
        [
            publication_id,
            published_at,
            len(submissions),
            submissions,
            threshold,
            writer.STORAGE_VERSION,
            versions["brukerplan_version"],
            versions["duckdb_version"],
            versions["dbt_core_version"],
            versions["dbt_duckdb_version"],
            build.invocation_id if build else None,
            build.generated_at if build else None,
            len(summaries) + 2,
            stats.primary,
            stats.complementary,
            stats.exact.unknowns,
            stats.exact.components,
            stats.largest_component,
            stats.audit_passes,
            round(stats.phase_seconds.get("exact audit", 0.0), 3),
            stats.intervals.checked_cells,
            stats.intervals.checked_components,
            stats.intervals.components,
            stats.intervals.programs,
            stats.intervals.too_large,
            stats.interval_added_for,
            stats.propagation_added_for,
        ],
    )
    rows = [(s.name, s.kind, s.rows, s.withheld_cells) for s in summaries]
    rows += [(METADATA_TABLE, "metadata", 1, 0), (TABLES_TABLE, "metadata", len(rows) + 2, 0)]
    con.execute(
        f"create table out.main.{TABLES_TABLE} (table_name varchar, kind varchar, row_count bigint, "
        "withheld_cells bigint, publication_id varchar)"
    )
    con.executemany(f"insert into out.main.{TABLES_TABLE} values (?, ?, ?, ?, ?)", [(*r, publication_id) for r in rows])
