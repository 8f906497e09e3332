"""`brukerplan bench`: synthetic data at each scale, then every step measured separately in its own process:
synth, ingest (CSV and xlsx apart), dbt build, publish, reports, return packages, and one incremental cycle (one
new municipal resubmission → ingest → build → publish). Results: reports/bench/<timestamp>.json and a Markdown table."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from brukerplan.bench.baselines import Baseline, duckdb_csv_to_parquet, polars_read_excel
from brukerplan.codes import load_codebook
from brukerplan.demo import demo_keys

TARGETS_SECONDS = {  # the first targets (scale 1): the verdict column of the table
    "synth": 120.0,
    "ingest (all)": 60.0,
    "dbt build": 60.0,
    "publish": 20.0,
    "report": 120.0,
    "incremental cycle": 60.0,
    "return": 120.0,
}
DEMO_STEPS = ("synth", "ingest (all)", "dbt build", "publish", "report", "return")  # what `make demo` runs


@dataclass(frozen=True)
class Target:
    """One target of issue 17: a step's wall seconds (or ours/baseline ratio) at a scale, and peak memory."""

    what: str
    step: str
    scale: float
    limit: float
    ratio: bool = False  # limit on ratio_ours_to_baseline instead of seconds
    peak_mib: float | None = None


TARGETS = (
    Target("one new submission -> warehouse + published file", "incremental cycle", 1.0, 20.0),
    Target("`make demo` (its steps, after setup)", "demo", 1.0, 120.0),
    # the ratio is kept on the baseline's measure (ours over theirs on the same files)
    Target("ingest CSV / DuckDB read_csv -> Parquet", "baseline: duckdb read_csv → parquet", 1.0, 1.5, ratio=True),
    Target("ingest xlsx / bare calamine", "baseline: polars read_excel (calamine)", 1.0, 3.0, ratio=True),
    Target("dbt build, scale 5", "dbt build", 5.0, 60.0, peak_mib=4096.0),
    Target("reports (pages + PDFs)", "report", 1.0, 40.0),
)


def target_lines(measures: list[StepMeasure]) -> list[str]:
    """Issue 17's targets against this run: measured value and verdict (a missing step is said to be missing, a step
    that exited with an error failed, whatever its time)."""
    by_step = {(m.scale, m.step): m for m in measures}
    demo = [by_step.get((1.0, step)) for step in DEMO_STEPS]
    lines = ["| target | limit | measured | verdict |", "| --- | ---: | ---: | --- |"]
    for target in TARGETS:
        if target.step == "demo":
            seconds = sum(m.wall_seconds for m in demo if m) if all(demo) else None
            measure = None
        else:
            measure = by_step.get((target.scale, target.step))
            seconds = measure.wall_seconds if measure else None
        if target.ratio:
            value = measure.detail.get("ratio_ours_to_baseline") if measure else None
            limit, shown = f"≤ {target.limit:g}×", "" if value is None else f"{value}×"
            met = value is not None and float(value) <= target.limit  # type: ignore[arg-type]
        else:
            limit, shown = f"< {target.limit:g} s", "" if seconds is None else f"{seconds:.1f} s"
            met = seconds is not None and seconds < target.limit
        if target.peak_mib is not None:
            limit += f", < {target.peak_mib / 1024:g} GiB"
            peak = measure.peak_rss_mib if measure else None
            shown += "" if peak is None else f", {peak / 1024:.1f} GiB"
            met = met and peak is not None and peak < target.peak_mib
        verdict = "not measured" if not shown else ("met" if met else "MISSED")
        failed = [m for m in (demo if target.step == "demo" else [measure]) if m is not None and m.exit_code != 0]
        if failed:  # a step that failed did not do its work: its time is no measure of it
            verdict = "FAILED: " + ", ".join(f"{m.step} exit {m.exit_code}" for m in failed)
        lines.append(f"| {target.what} | {limit} | {shown} | {verdict} |")
    return lines


@dataclass
class StepMeasure:
    scale: float
    step: str
    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    rows_in: int | None = None
    rows_out: int | None = None
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchPaths:
    root: Path

    @property
    def synth(self) -> Path:
        return self.root / "synth"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "brukerplan.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published" / "brukerplan.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"


def run_step(scale: float, name: str, command: list[str], workdir: Path) -> StepMeasure:
    """Run `brukerplan COMMAND` in a fresh process and read back its own resource use."""
    out = workdir / f".measure-{os.getpid()}-{time.monotonic_ns()}.json"
    env = {**os.environ}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "brukerplan.bench.child", str(out), "--", *command], env=env, check=False
    )
    wall = time.perf_counter() - started
    if out.exists():
        data = json.loads(out.read_text())
        out.unlink()
        return StepMeasure(
            scale=scale,
            step=name,
            exit_code=proc.returncode,
            wall_seconds=data["wall_seconds"],
            cpu_seconds=data["cpu_seconds"] + data["children_cpu_seconds"],
            peak_rss_mib=max(data["peak_rss_mib"], data["children_peak_rss_mib"]),
            detail={
                "process_wall_seconds": wall,
                "own_peak_rss_mib": data["peak_rss_mib"],
                "children_peak_rss_mib": data["children_peak_rss_mib"],
            },
        )
    return StepMeasure(scale, name, proc.returncode, wall, 0.0, 0.0, detail={"error": "no measurement written"})


def _submission_rows(landing: Path, fmt: str | None = None) -> tuple[int, int]:
    read = landed = 0
    for record_path in (landing / "submissions").glob("*.json"):
        record = json.loads(record_path.read_text())
        if fmt is None or record.get("format") == fmt:
            read += int(record.get("rows_read", 0))
            landed += int(record.get("rows_landed", 0))
    return read, landed


def _count(database: Path, sql: str) -> int | None:
    import duckdb

    if not database.exists():
        return None
    con = duckdb.connect(str(database), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    except duckdb.Error:
        return None
    finally:
        con.close()


def _published_rows(published: Path) -> int | None:
    return _count(
        published,
        "select sum(estimated_size) from duckdb_tables() where schema_name = 'main'",
    )


def _publication_audit(published: Path) -> dict[str, object]:
    """The suppression's own figures from publication_metadata: withheld cells, exact audit, LP intervals."""
    import duckdb

    if not published.exists():
        return {}
    con = duckdb.connect(str(published), read_only=True)
    try:
        cursor = con.execute("select * from publication_metadata")
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone() or ()
        wanted = ("cells_", "exact_audit_", "lp_")
        return {n: v for n, v in zip(names, row, strict=True) if n.startswith(wanted)}
    except duckdb.Error:
        return {}
    finally:
        con.close()


def _slowest_models(warehouse: Path, limit: int = 10) -> list[dict[str, object]]:
    results = warehouse.parent / "dbt_target" / "run_results.json"
    if not results.exists():
        return []
    data = json.loads(results.read_text())
    rows = [
        {"node": r["unique_id"], "seconds": round(float(r.get("execution_time", 0.0)), 3)}
        for r in data.get("results", [])
        if str(r.get("unique_id", "")).startswith("model.")
    ]
    return sorted(rows, key=lambda r: r["seconds"], reverse=True)[:limit]


def make_resubmission(synth_extracts: Path, out_dir: Path) -> Path | None:
    """A corrected municipal resubmission: the rows of one municipality taken from the latest regional or
    national CSV, delivered again today as that municipality's own file (different bytes, later date)."""
    candidates = sorted(
        (p for p in synth_extracts.rglob("*") if p.suffix.lower() == ".csv" and "_K" not in p.name.upper()),
        key=lambda p: p.name,
    )
    if not candidates:
        return None
    source = candidates[-1]
    year = int(source.name[2:6])
    layout = load_codebook().layout_for_year(year)
    column = layout.column("municipality_code")
    if column is None:
        return None
    raw = source.read_bytes()
    text = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        return None
    first_line = text.splitlines()[0]
    separator = max([";", ",", "\t"], key=first_line.count)
    frame = pl.read_csv(text.encode("utf-8"), separator=separator, infer_schema=False)
    if column.header not in frame.columns or frame.height == 0:
        return None
    code = frame[column.header].drop_nulls().mode().sort()[0]
    subset = frame.filter(pl.col(column.header) == code).reverse()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"BP{year}_K{str(code).zfill(4)}_{date.today():%Y%m%d}_9.csv"
    subset.write_csv(target, separator=";")
    return target


def _total(scale: float, step: str, parts: list[StepMeasure], **values: Any) -> StepMeasure:
    """One measure for steps run one after the other: summed times, the worst exit and the highest peak."""
    return StepMeasure(
        scale,
        step,
        max(m.exit_code for m in parts),
        sum(m.wall_seconds for m in parts),
        sum(m.cpu_seconds for m in parts),
        max(m.peak_rss_mib for m in parts),
        **values,
    )


def bench_scale(scale: float, years: str, paths: BenchPaths, pdf: bool = True) -> list[StepMeasure]:
    measures: list[StepMeasure] = []
    paths.root.mkdir(parents=True, exist_ok=True)
    cwd = paths.root
    m = run_step(scale, "synth", ["synth", "--out", str(paths.synth), "--scale", str(scale), "--years", years], cwd)
    measures.append(m)
    extracts = paths.synth / "extracts"
    csv_files = sorted(p for p in extracts.rglob("*") if p.suffix.lower() == ".csv")
    xlsx_files = sorted(p for p in extracts.rglob("*") if p.suffix.lower() == ".xlsx")
    for label, files, fmt in (("ingest csv", csv_files, "csv"), ("ingest xlsx", xlsx_files, "xlsx")):
        if not files:
            continue
        m = run_step(scale, label, ["ingest", *map(str, files), "--landing", str(paths.landing)], cwd)
        m.rows_in, m.rows_out = _submission_rows(paths.landing, fmt)
        m.detail["files"] = len(files)
        measures.append(m)
    ingest_steps = [m for m in measures if m.step.startswith("ingest ")]
    if ingest_steps:
        rows_in, rows_out = _submission_rows(paths.landing)
        total = _total(scale, "ingest (all)", ingest_steps, rows_in=rows_in, rows_out=rows_out)
        measures.append(total)
        measures[0].rows_out = total.rows_in
    baselines: list[Baseline] = []
    if csv_files:
        baselines.append(duckdb_csv_to_parquet(csv_files))
    if xlsx_files:
        baselines.append(polars_read_excel(xlsx_files))
    for baseline in baselines:
        ours = next(
            (m for m in measures if m.step == ("ingest csv" if "read_csv" in baseline.name else "ingest xlsx")), None
        )
        measures.append(
            StepMeasure(
                scale,
                f"baseline: {baseline.name}",
                0,
                baseline.seconds,
                0.0,
                0.0,
                baseline.rows,
                baseline.rows,
                {
                    "ratio_ours_to_baseline": round(ours.wall_seconds / baseline.seconds, 2)
                    if ours and baseline.seconds
                    else None
                },
            )
        )
    build = run_step(
        scale, "dbt build", ["build", "--landing", str(paths.landing), "--warehouse", str(paths.warehouse)], cwd
    )
    build.rows_in = _submission_rows(paths.landing)[1]
    build.rows_out = _count(paths.warehouse, "select count(*) from core.fct_person_year")
    build.detail["slowest_models"] = _slowest_models(paths.warehouse)
    measures.append(build)
    m = run_step(scale, "publish", ["publish", *_publish_paths(paths)], cwd)
    m.rows_out = _published_rows(paths.published)
    m.detail["audit"] = _publication_audit(paths.published)
    measures.append(m)
    m = run_step(
        scale,
        "report",
        [
            "report",
            "--published",
            str(paths.published),
            "--out",
            str(paths.reports),
            *([] if pdf else ["--no-pdf"]),
        ],
        cwd,
    )
    m.rows_out = len(list(paths.reports.rglob("*.html")))
    m.detail["pdfs"] = len(list(paths.reports.rglob("*.pdf")))
    measures.append(m)
    measures.append(measure_return(scale, paths, cwd))
    resubmission = make_resubmission(extracts, paths.root / "incremental")
    if resubmission is not None:
        cycle = [
            run_step(scale, "incremental: ingest", ["ingest", str(resubmission), "--landing", str(paths.landing)], cwd),
            run_step(
                scale,
                "incremental: dbt build",
                ["build", "--landing", str(paths.landing), "--warehouse", str(paths.warehouse)],
                cwd,
            ),
            run_step(
                scale,
                "incremental: publish",
                ["publish", *_publish_paths(paths)],
                cwd,
            ),
        ]
        measures.extend(cycle)
        measures.append(_total(scale, "incremental cycle", cycle, detail={"file": resubmission.name}))
    return measures


def _publish_paths(paths: BenchPaths) -> list[str]:
    """The bench's own landing zone too, so publish compares the build with it (not the project's)."""
    return ["--landing", str(paths.landing), "--warehouse", str(paths.warehouse), "--published", str(paths.published)]


def measure_return(scale: float, paths: BenchPaths, cwd: Path) -> StepMeasure:
    """`brukerplan return` for the latest year, every municipality that mapped, with throwaway keys (as the demo).
    Peak memory of all processes at once is at most the command's own plus one worker's peak per core."""
    keys = demo_keys(paths.root / "return_keys.csv")()
    returns = paths.root / "returns"
    shutil.rmtree(returns, ignore_errors=True)
    command = ["return", "--warehouse", str(paths.warehouse), "--returns", str(returns), "--keys", str(keys)]
    m = run_step(scale, "return", command, cwd)
    packages = len(list(returns.glob("*/*/manifest.json")))
    m.rows_out = packages
    m.detail["packages_per_second"] = round(packages / m.wall_seconds, 2) if m.wall_seconds > 0 else None
    own, worker = m.detail.get("own_peak_rss_mib", 0.0), m.detail.get("children_peak_rss_mib", 0.0)
    m.detail["peak_rss_all_processes_mib_at_most"] = round(own + (os.cpu_count() or 1) * worker)  # type: ignore[operator]
    return m


def markdown(measures: list[StepMeasure], machine: dict[str, object]) -> str:
    lines = [
        f"Machine: {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['platform']}",
        "",
        "| scale | step | exit | wall s | cpu s | peak MiB | rows in | rows out | rows/s | target |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for m in measures:
        rows = m.rows_in if m.rows_in is not None else m.rows_out
        rate = f"{rows / m.wall_seconds:,.0f}" if rows and m.wall_seconds > 0 else ""
        target = TARGETS_SECONDS.get(m.step)
        verdict = ""
        if target is not None and m.scale == 1.0:
            verdict = f"< {target:.0f} s: {'met' if m.wall_seconds < target else 'MISSED'}"
        if "ratio_ours_to_baseline" in m.detail:
            verdict = f"ours/baseline = {m.detail['ratio_ours_to_baseline']}"
        lines.append(
            f"| {m.scale:g} | {m.step} | {m.exit_code} | {m.wall_seconds:.1f} | {m.cpu_seconds:.1f} | "
            f"{m.peak_rss_mib:,.0f} | {'' if m.rows_in is None else f'{m.rows_in:,}'} | "
            f"{'' if m.rows_out is None else f'{m.rows_out:,}'} | {rate} | {verdict} |"
        )
    scales = sorted({m.scale for m in measures})
    if len(scales) > 1:
        low, high = scales[0], scales[-1]
        lines += ["", f"Growth, scale {high:g} / scale {low:g} (linear = {high / low:g}):", ""]
        lines += ["| step | time ratio | peak MiB at top scale |", "| --- | ---: | ---: |"]
        by_step = {(m.scale, m.step): m for m in measures}
        for m in measures:
            if m.scale != low or (high, m.step) not in by_step or m.wall_seconds <= 0:
                continue
            top = by_step[(high, m.step)]
            lines.append(f"| {m.step} | {top.wall_seconds / m.wall_seconds:.2f} | {top.peak_rss_mib:,.0f} |")
    lines += ["", "Targets of issue 17 (`make demo` = the sum of its steps at scale 1):", "", *target_lines(measures)]
    for m in measures:
        if m.step == "return":
            lines += [
                "",
                f"Return packages at scale {m.scale:g}: {m.rows_out} packages, {m.detail.get('packages_per_second')}"
                f" packages/s, peak memory of all processes at most"
                f" {m.detail.get('peak_rss_all_processes_mib_at_most')}"
                " MiB (target at scale 1: < 120 s, < 3 GiB).",
            ]
        if m.step == "dbt build" and m.detail.get("slowest_models"):
            lines += ["", f"Slowest dbt models at scale {m.scale:g}:", ""]
            lines += [f"- {row['node']}: {row['seconds']} s" for row in m.detail["slowest_models"]]  # type: ignore[union-attr]
    return "\n".join(lines)


def machine_facts() -> dict[str, object]:
    memory = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def run_bench(
    scales: list[float],
    years: str,
    out_dir: Path,
    work_dir: Path,
    keep: bool = False,
    pdf: bool = True,
) -> tuple[Path, str, list[StepMeasure]]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    measures: list[StepMeasure] = []
    for scale in scales:
        paths = BenchPaths(work_dir / f"scale-{scale:g}")
        if paths.root.exists():
            shutil.rmtree(paths.root)
        try:
            measures.extend(bench_scale(scale, years, paths, pdf=pdf))
        finally:
            if not keep:
                shutil.rmtree(paths.root, ignore_errors=True)
    machine = machine_facts()
    table = markdown(measures, machine)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = out_dir / f"{stamp}.json"
    result.write_text(
        json.dumps(
            {
                "created_at": stamp,
                "machine": machine,
                "scales": scales,
                "years": years,
                "steps": [asdict(m) for m in measures],
            },
            indent=2,
            default=str,
        )
    )
    (out_dir / f"{stamp}.md").write_text(table + "\n")
    return result, table, measures
