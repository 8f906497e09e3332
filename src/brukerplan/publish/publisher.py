"""`brukerplan publish`: marts and dimensions of a green build -> suppressed, aggregate-only published file."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from brukerplan.publish import writer
from brukerplan.publish.describe import (
    DescriptionError,
    TableDescription,
    describe_own_table,
    describe_table,
    load_descriptions,
    parquet_metadata,
    undescribed_warning,
    warehouse_description,
    write_comments,
)
from brukerplan.publish.equations import blocks_of, build_equations, literal, quote, source_table
from brukerplan.publish.gate import BuildNotGreen, BuildRecord, check_build
from brukerplan.publish.intervals import DEFAULT_LP_BUDGET
from brukerplan.publish.layout import (
    LayoutError,
    check_whole_counts,
    dimension_columns,
    dimension_select,
    mart_columns,
    mart_select,
    source_types,
)
from brukerplan.publish.masks import build_masks, shown_cells, table_rows
from brukerplan.publish.metadata import (
    OWN_TABLES,
    Publication,
    instant,
    write_metadata,
    write_readme,
    write_submissions,
    write_tables,
)
from brukerplan.publish.parts import PartCache, PartsSummary, solve_parts
from brukerplan.publish.spec import PublishSpec, SpecError, expand_patterns, load_spec
from brukerplan.publish.suppress import SuppressionStats
from brukerplan.publish.years import YEARS_DIR, YearStore, applicable, solve_by_year
from brukerplan.settings import Settings

MEMORY_LIMIT = "2GB"

Progress = Callable[[str], None]


def solved_parts_store(settings: Settings) -> Path:
    """Where the solved parts of the last publication are kept: beside the warehouse (restricted), never in the
    published folder (their names are hashes of unsuppressed counts)."""
    return settings.warehouse.with_name(f"{settings.warehouse.stem}.solved-parts")


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
    parts: PartsSummary
    seconds: float
    publication_id: str
    threshold: int
    build: BuildRecord | None = None
    warnings: list[str] = field(default_factory=list)
    years: int = 0  # mapping years (solve_apart_by values) published
    years_unchanged: int = 0  # of them taken from their records without building their equations (years.py)

    @property
    def withheld_cells(self) -> int:
        return sum(t.withheld_cells for t in self.tables)


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


def suppress(
    con: duckdb.DuckDBPyConnection,
    spec: PublishSpec,
    threshold: int,
    progress: Progress | None = None,
    lp_budget: int = DEFAULT_LP_BUDGET,
    cache: PartCache | None = None,
    reuse: bool = True,
) -> tuple[SuppressionStats, PartsSummary, tuple[int, int, set[str]]]:
    """Equations, withheld cells and the row masks (mask_<table>) for the marts loaded as src_<table>; the parts
    of the system (mapping years) solved apart, each taken from `cache` when unchanged (parts.py), and with a
    cache a year whose input did not change taken from its record without building its equations (years.py).
    Returns the statistics, the parts and the years: published, unchanged, their records in use."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    records: set[str] = set()
    years = (0, 0)
    try:
        if cache is not None and applicable(spec):
            solved = solve_by_year(con, spec, threshold, lp_budget, cache, reuse=reuse, progress=say)
            stats, parts, cells, records = solved.stats, solved.parts, solved.cells, solved.records
            years = (solved.years, solved.years_reused)
            equations_seconds = solved.equations_seconds
            blocks = blocks_of(spec)
        else:
            say("building the equations of the declaration")
            system, blocks, _ = build_equations(con, spec)
            equations_seconds = time.perf_counter() - started
            say(f"suppressing: {system.n_cells:,} cells, {system.n_eqs:,} equations")
            withheld, _, stats, parts = solve_parts(
                system, threshold, lp_budget, cache=cache, progress=say, reuse=reuse
            )
            cells = shown_cells(con, blocks, table_rows(con, spec), withheld, stats.null_vector)
    except SpecError as exc:
        raise PublishError(f"publish spec: {exc}") from exc
    stats.phase_seconds = {"equations": equations_seconds, **stats.phase_seconds}
    if not stats.audit_complete:
        raise PublishError(
            f"the exact audit still finds recoverable cells after {stats.audit_passes} passes: nothing published"
        )
    lap = time.perf_counter()
    say("withholding rates, shares and means of withheld counts")
    masks = build_masks(con, spec, blocks, cells)
    stats.derived = masks.derived
    stats.per_table = masks.per_table
    stats.lap("derived", lap)
    stats.seconds = time.perf_counter() - started
    return stats, parts, (*years, records)


def _submissions(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> list[str]:
    for table in spec.tables:
        if "submission_id" in table.keys:
            rows = con.execute(
                f"select distinct submission_id::varchar from {source_table(table.name)} "
                "where submission_id is not null order by 1"
            ).fetchall()
            return [r[0] for r in rows]
    return []


def _write_tables(
    con: duckdb.DuckDBPyConnection, spec: PublishSpec, publication: Publication, stats: SuppressionStats
) -> tuple[list[TableSummary], list[TableDescription]]:
    """Every published table into the database attached as `out`, with COMMENT ON on it and its columns: the
    marts (suppressed), the dimensions, then README, publication_metadata, publication_submissions and
    publication_tables. Returns the summaries and the descriptions (for the Parquet copies), in that order."""
    descriptions = load_descriptions()
    summaries: list[TableSummary] = []
    described: list[TableDescription] = []
    for table in spec.tables:
        schema, name = table.source.split(".", 1)
        columns = mart_columns(table, source_types(con, "wh", schema, name))
        con.execute(f"create table out.main.{quote(table.name)} as {mart_select(table, columns)}")
        row = con.execute(f"select count(*), coalesce(sum(withheld_cells), 0) from out.main.{quote(table.name)}")
        rows, withheld = row.fetchone() or (0, 0)
        summaries.append(TableSummary(table.name, "mart", int(rows), int(withheld)))
        described.append(
            describe_table(table.name, columns, warehouse_description(con, "wh", table.source), descriptions)
        )
    for dim in spec.dimensions:
        schema, name = dim.source.split(".", 1)
        columns = dimension_columns(source_types(con, "wh", schema, name))
        con.execute(f"create table out.main.{quote(dim.name)} as {dimension_select('wh', dim.source, columns)}")
        rows = (con.execute(f"select count(*) from out.main.{quote(dim.name)}").fetchone() or (0,))[0]
        summaries.append(TableSummary(dim.name, "dimension", int(rows)))
        described.append(describe_table(dim.name, columns, warehouse_description(con, "wh", dim.source), descriptions))
    # README lists every table with its description, its own tables' from descriptions.yaml
    listed_in_readme = [*described, *(describe_own_table(name, [], descriptions) for name in OWN_TABLES)]
    total = len(summaries) + len(OWN_TABLES)
    described.append(write_readme(con, "out", publication.threshold, listed_in_readme, descriptions))
    described.append(write_metadata(con, "out", publication, stats, total, descriptions))
    described.append(write_submissions(con, "out", publication, descriptions))
    for table in described[-3:]:
        rows = (con.execute(f"select count(*) from out.main.{quote(table.name)}").fetchone() or (0,))[0]
        summaries.append(TableSummary(table.name, "metadata", int(rows)))
    listed = [(t.name, t.kind, t.rows, t.withheld_cells) for t in summaries]
    described.append(write_tables(con, "out", listed, publication.publication_id, descriptions))
    summaries.append(TableSummary(described[-1].name, "metadata", len(summaries) + 1))
    for table in described:
        write_comments(con, "out", table)
    return summaries, described


def publish(
    settings: Settings,
    *,
    require_green_build: bool = True,
    require_current: bool = False,
    allow_failed_rebuild: bool = False,
    spec: PublishSpec | None = None,
    progress: Progress | None = None,
    spec_transform: Callable[[PublishSpec], PublishSpec] | None = None,
    lp_budget: int = DEFAULT_LP_BUDGET,
    reuse: bool = True,
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
    warnings: list[str] = []
    published = settings.published
    published.parent.mkdir(parents=True, exist_ok=True)
    spill = Path(tempfile.mkdtemp(prefix=".publish-spill-", dir=published.parent))
    # bounded memory: DuckDB spills the sort of the equations to disk beyond the limit (scale 5 stays < 8 GiB)
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill)})
    try:
        say("reading the marts")
        _attach_warehouse(con, settings.warehouse)
        if require_green_build:  # the gate reads the build record of the very file attached here
            try:
                gate = check_build(
                    con,
                    "wh",
                    settings.landing,
                    require_current=require_current,
                    warehouse=settings.warehouse,
                    allow_failed_rebuild=allow_failed_rebuild,
                )
            except BuildNotGreen as exc:
                raise PublishError(str(exc)) from exc
            build, warnings = gate.build, gate.warnings
        spec, _ = _load(con, spec)
        for table in spec.tables:  # before the equations read the counts as integers
            check_whole_counts(con, table, source_types(con, "wh", *table.source.split(".", 1)))
        if spec_transform is not None:
            spec = spec_transform(spec)
        for dim in spec.dimensions:
            schema, name = dim.source.split(".", 1)
            columns = _columns(con, schema, name)
            if columns is None:
                raise PublishError(f"the warehouse has no {dim.source}: run a full `brukerplan build` first")
            _check_person_level(spec, dim.name, columns)
        say("suppressing small counts")
        cache = PartCache(solved_parts_store(settings))
        stats, parts, (years, years_unchanged, records) = suppress(
            con, spec, threshold, progress=say, lp_budget=lp_budget, cache=cache, reuse=reuse
        )
        publication = Publication(
            publication_id=str(uuid.uuid4()),
            published_at=dt.datetime.now(dt.UTC),
            threshold=threshold,
            storage_version=writer.STORAGE_VERSION,
            submissions=_submissions(con, spec),
            build_invocation_id=build.invocation_id if build else None,
            build_finished_at=instant(build.generated_at) if build else None,
        )
        say("writing the published file")
        with writer.staged_file(published) as tmp, writer.staged_parquet_dir(published) as parquet_tmp:
            con.execute(f"attach {literal(str(tmp))} as out (storage_version {literal(writer.STORAGE_VERSION)})")
            summaries, described = _write_tables(con, spec, publication, stats)
            warning = undescribed_warning(described)
            if warning:
                warnings.append(warning)
            say("writing the Parquet copies")
            for table in described:
                target = parquet_tmp / f"{table.name}.parquet"
                con.execute(
                    f"copy (select * from out.main.{quote(table.name)}) to {literal(str(target))} "
                    f"(format parquet, kv_metadata {parquet_metadata(table, publication.publication_id)})"
                )
            con.execute("checkpoint out")
            con.execute("detach out")
            writer.commit_file(tmp, published)
            parquet_dir = writer.commit_parquet_dir(parquet_tmp, published)
        if not cache.keep_only(parts.fingerprints) or not YearStore(cache.directory / YEARS_DIR).keep_only(records):
            warnings.append(f"the solved parts of earlier publications could not be removed from {cache.directory}")
        if parts.not_stored:
            warnings.append(
                f"{parts.not_stored} solved parts could not be stored in {cache.directory}: the next publication "
                "solves them again"
            )
    except duckdb.Error as exc:
        raise PublishError(f"publishing failed, the previous published file is unchanged: {exc}") from exc
    except (LayoutError, DescriptionError) as exc:
        raise PublishError(f"{exc}: nothing published, the previous published file is unchanged") from exc
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return PublishResult(
        path=published,
        parquet_dir=parquet_dir,
        tables=summaries,
        stats=stats,
        parts=parts,
        seconds=time.perf_counter() - started,
        publication_id=publication.publication_id,
        threshold=threshold,
        build=build,
        warnings=warnings,
        years=years,
        years_unchanged=years_unchanged,
    )
