"""`brukerplan return`: one package per municipality that mapped in the year (or the ones asked for), with a
progress bar per municipality and a summary table. Exit 0 when every package was written, 1 when a municipality
had no secret (no package for it), 2 for a usage error (nothing written)."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from brukerplan import __version__
from brukerplan.codes import load_codebook
from brukerplan.returns.crypto import encrypt_pdf, encrypt_workbook
from brukerplan.returns.data import MunicipalityData, ReturnsWarehouse, ReturnUsageError
from brukerplan.returns.keys import ReturnKeysError, load_keys
from brukerplan.returns.package import Package, PackageFile, clean_partials, write_package
from brukerplan.returns.sheet import print_pdf, render_person
from brukerplan.returns.workbook import Labels, build_workbook
from brukerplan.settings import RETURN_KEYS_ENV, Settings


@dataclass
class ReturnRequest:
    municipalities: list[str] = field(default_factory=list)  # empty: every municipality that mapped in `year`
    year: int | None = None  # None: the latest mapping year in the warehouse
    unencrypted: bool = False
    person: str | None = None  # a one-user sheet for this pseudonym (with exactly one municipality)


@dataclass
class ReturnSummary:
    year: int
    packages: list[tuple[str, int, int, Path]] = field(default_factory=list)  # code, persons, rows, folder
    skipped: dict[str, str] = field(default_factory=dict)  # code -> why
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    year: int
    codes: list[str]  # to write
    skipped: dict[str, str]  # asked for but not written, with why
    names: dict[str, str]  # every municipality of the target structure
    sizes: dict[str, int]  # current registrations in `year` per municipality that mapped


def plan(warehouse: ReturnsWarehouse, request: ReturnRequest) -> Plan:
    """The year and the municipalities to write, and those asked for that get nothing (with why)."""
    years = warehouse.years()
    if not years:
        raise ReturnUsageError("the warehouse holds no registrations: nothing to return")
    year = request.year if request.year is not None else years[-1]
    if year not in years:
        raise ReturnUsageError(f"--year {year}: not a mapping year in the warehouse ({years[0]}-{years[-1]})")
    names = warehouse.names()
    for code in request.municipalities:
        if code not in names:
            raise ReturnUsageError(f"--municipality {code}: not a municipality of the target structure")
    if request.person is not None:
        if len(request.municipalities) != 1:
            raise ReturnUsageError("--person needs exactly one --municipality (the one that registered the person)")
        if not warehouse.has_person(request.municipalities[0], request.person, year):
            raise ReturnUsageError(
                f"--person {request.person}: not registered by municipality {request.municipalities[0]} up to {year}"
            )
    mapped = warehouse.mapped(year)
    wanted = request.municipalities or sorted(mapped)
    skipped = {code: f"did not map in {year}" for code in wanted if code not in mapped}
    return Plan(year, [code for code in wanted if code in mapped], skipped, names, mapped)


def person_package(
    data: MunicipalityData, request: ReturnRequest, labels: Labels, secret: str | None, created_at: datetime
) -> Package:
    """The one-user sheet: the PDF (AES-256 with the municipality's secret), and the HTML page only when
    --unencrypted (an HTML page cannot be encrypted)."""
    rows = data.registrations.filter(pl.col("person_id") == request.person)
    html = render_person(rows, labels, (data.municipality_code, data.municipality_name), created_at)
    pdf = print_pdf(html)
    stem = f"bruker_{request.person}"
    files = [PackageFile(f"{stem}.pdf", pdf if secret is None else encrypt_pdf(pdf, secret), secret is not None)]
    if request.unencrypted:
        files.append(PackageFile(f"{stem}.html", html.encode("utf-8"), False))
    return Package(
        municipality_code=data.municipality_code,
        municipality_name=data.municipality_name,
        year=data.year,
        years=sorted(rows["mapping_year"].unique().to_list()),
        submissions=[],
        files=files,
        name=f"one-user/{request.person}",
    )


@dataclass(frozen=True)
class Job:
    warehouse: Path
    municipality_code: str
    municipality_name: str
    year: int
    secret: str | None  # None: --unencrypted
    created_at: datetime


@cache
def _opened(warehouse: Path) -> tuple[ReturnsWarehouse, Labels]:
    """One read-only connection and the labels per worker process (kept for the worker's life)."""
    opened = ReturnsWarehouse(warehouse)
    return opened, Labels.load(load_codebook(), opened.con)


def build_package(job: Job) -> tuple[Package, int, int]:
    """One municipality's workbook package in memory (encrypted unless the job has no secret)."""
    warehouse, labels = _opened(job.warehouse)
    data = warehouse.municipality(job.municipality_code, job.municipality_name, job.year)
    workbook = build_workbook(data, labels, job.created_at)
    if job.secret is not None:
        workbook = encrypt_workbook(workbook, job.secret)
    package = Package(
        municipality_code=job.municipality_code,
        municipality_name=job.municipality_name,
        year=job.year,
        years=sorted(data.registrations["mapping_year"].unique().to_list()),
        submissions=data.submissions.to_dicts(),
        files=[PackageFile(f"brukerplan_{job.municipality_code}_{job.year}.xlsx", workbook, job.secret is not None)],
    )
    return package, data.registrations["person_id"].n_unique(), data.registrations.height


def build_in_parallel(jobs: list[Job]) -> Iterator[tuple[Package, int, int]]:
    """Packages as they are built, by one worker process per core (fresh processes: no DuckDB handle is forked);
    the caller writes each one. Largest municipalities first, so the tail is short."""
    if not jobs:
        return
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(build_package, jobs, chunksize=1)


def run_return(settings: Settings, request: ReturnRequest, console: Console) -> tuple[ReturnSummary, int]:
    started = time.perf_counter()
    keys: dict[str, str] = {}
    if not request.unencrypted:
        if settings.return_keys is None:
            raise ReturnKeysError(f"no keys file: set {RETURN_KEYS_ENV} or --keys (or --unencrypted)")
        keys = load_keys(settings.return_keys)
    created_at = datetime.now(UTC)
    codebook = load_codebook()
    with ReturnsWarehouse(settings.warehouse) as warehouse:
        planned = plan(warehouse, request)
        year, codes, names = planned.year, planned.codes, planned.names
        summary = ReturnSummary(year=year, skipped=planned.skipped)
        labels = Labels.load(codebook, warehouse.con)
        clean_partials(settings.returns)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"return packages {year}", total=len(codes))
            jobs = []
            for code in codes:
                if not request.unencrypted and code not in keys:
                    summary.skipped[code] = f"no secret in the keys file {settings.return_keys}"
                    progress.advance(task)
                elif request.person is not None:
                    data = warehouse.municipality(code, names.get(code, ""), year)
                    package = person_package(data, request, labels, keys.get(code), created_at)
                    folder = write_package(settings.returns, package, created_at, __version__)
                    summary.packages.append((code, 1, len(package.files), folder))
                    progress.advance(task)
                else:
                    jobs.append(Job(settings.warehouse, code, names.get(code, ""), year, keys.get(code), created_at))
            jobs.sort(key=lambda job: -planned.sizes.get(job.municipality_code, 0))
            for package, persons, rows in build_in_parallel(jobs):
                progress.update(task, description=f"return packages {year}: {package.municipality_code}")
                folder = write_package(settings.returns, package, created_at, __version__)
                summary.packages.append((package.municipality_code, persons, rows, folder))
                progress.advance(task)
            summary.packages.sort()
    summary.seconds = time.perf_counter() - started
    no_secret = [code for code, why in summary.skipped.items() if why.startswith("no secret")]
    return summary, 1 if no_secret else 0


def run_return_command(settings: Settings, request: ReturnRequest, console: Console) -> int:
    try:
        summary, status = run_return(settings, request, console)
    except (ReturnUsageError, ReturnKeysError) as exc:
        console.print(f"[red]usage error:[/red] {exc}")
        return 2
    table = Table(title=f"brukerplan return {summary.year}")
    for column, justify in (("municipality", "left"), ("persons", "right"), ("rows", "right"), ("folder", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for code, persons, rows, folder in summary.packages:
        table.add_row(code, f"{persons:,}", f"{rows:,}", str(folder))
    console.print(table)
    for code, why in sorted(summary.skipped.items()):
        console.print(f"[yellow]skipped[/yellow] {code}: {why}")
    if request.unencrypted and summary.packages:
        console.print("[bold red]UNENCRYPTED: the packages hold person-level data in the clear[/bold red]")
    console.print(
        f"return: {len(summary.packages)} packages, {sum(p[1] for p in summary.packages):,} persons, "
        f"{sum(p[2] for p in summary.packages):,} registrations, {len(summary.skipped)} skipped, "
        f"{summary.seconds:.1f} s: {settings.returns}"
    )
    return status
