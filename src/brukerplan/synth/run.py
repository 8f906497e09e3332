"""`brukerplan synth`: generate persons, deliveries, files and the ground truth year by year.

Output (docs/truth.md): DIR/extracts/ (the files), DIR/truth/ (tables and manifest.json), DIR/bad/ with
--bad-inputs. Everything is built under DIR/.synth-partial and moved into place at the end, so a crash never
leaves a half-written set."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from brukerplan.codes import load_codebook
from brukerplan.synth.config import SynthConfig
from brukerplan.synth.deliveries import FilePlan, YearDeliveries
from brukerplan.synth.participation import choose_participants
from brukerplan.synth.people import PersonGenerator
from brukerplan.synth.reference import load_reference
from brukerplan.synth.rng import rng_for
from brukerplan.synth.truth import TruthBuilder
from brukerplan.synth.writers import LayoutEncoder, Written, XlsxJob, run_xlsx_job, write_file


@dataclass
class SynthResult:
    out: Path
    files: list[dict] = field(default_factory=list)
    rows: int = 0
    persons: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    bad_files: int = 0
    truth_counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> list[tuple[str, str, int, int]]:
        """(layout, format, files, rows) sorted."""
        files: Counter = Counter()
        rows: Counter = Counter()
        for f in self.files:
            key = (f["layout"], f["format"])
            files[key] += 1
            rows[key] += f["rows"]
        return [(k[0], k[1], files[k], rows[k]) for k in sorted(files)]


@dataclass
class _YearRows:
    """One year's registrations (truth columns) waiting for its xlsx files to be written."""

    year: int
    rows: pl.DataFrame
    files: list[str]
    pending: list[Future]


def _manifest_entry(plan: FilePlan, w: Written) -> dict:
    return {
        "name": plan.name,
        "year": plan.year,
        "scope": plan.scope,
        "layout": plan.layout,
        "format": plan.fmt,
        "encoding": plan.encoding,
        "delimiter": plan.delimiter,
        "quote_all": plan.quote_all if plan.fmt == "csv" else None,
        "line_terminator": ("crlf" if plan.crlf else "lf") if plan.fmt == "csv" else None,
        "sheet": plan.sheet,
        "title_rows": plan.title_rows if plan.fmt == "xlsx" else 0,
        "header_row": w.header_row,
        "xlsx_style": plan.xlsx_style,
        "extra_columns": list(plan.extras),
        "has_municipality_column": plan.with_municipality,
        "v2_ascii_colours": plan.v2_lower if plan.layout == "v2" else None,
        "blank_service_zeros": plan.blank_zeros if plan.layout in ("v1", "v2") else None,
        "upper_case_person_ids": plan.upper_ids,
        "header_style": plan.header_style,
        "delivered_on": plan.delivered_on.isoformat(),
        "delivery_seq": plan.seq,
        "rows": w.rows,
        "sha256": w.sha256,
        "submission_id": w.sha256[:16],
        "size_bytes": w.size,
    }


def generate(config: SynthConfig, console: Console | None = None) -> SynthResult:
    console = console or Console(quiet=True)
    started = time.perf_counter()
    out = config.out
    partial = out / ".synth-partial"
    if partial.exists():
        shutil.rmtree(partial)
    extracts = partial / "extracts"
    truth_dir = partial / "truth"
    extracts.mkdir(parents=True)
    book = load_codebook()
    ref = load_reference()
    names = {m.code: m.name for year in ref.in_force for m in ref.in_force[year]}
    participants = choose_participants(ref, config.years, config.scale, config.seed)
    people = PersonGenerator(config.seed)
    result = SynthResult(out=out)
    truth = TruthBuilder(partial / "person-years")
    written: dict[str, dict] = {}
    plan_by_name: dict[str, FilePlan] = {}
    waiting: _YearRows | None = None  # the year whose xlsx files are being written (its truth comes after)
    generating = truthing = 0.0

    def record(w: Written) -> None:
        written[w.name] = _manifest_entry(plan_by_name[w.name], w)
        result.rows += w.rows
        progress.advance(task)

    def finish(year_rows: _YearRows) -> None:
        """Wait for the year's files, then add its truth (the submission ids are the written files' hashes)."""
        nonlocal truthing
        for future in year_rows.pending:
            record(future.result())
        tick = time.perf_counter()
        files = sorted(year_rows.files)
        submission = pl.DataFrame(
            {"file": files, "submission_id": [written[f]["submission_id"] for f in files]},
            schema={"file": pl.String, "submission_id": pl.String},
        )
        truth.add_year(year_rows.rows.join(submission, on="file", how="left"))
        truthing += time.perf_counter() - tick

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    # Year by year: generate, write, then the year's truth once its files are written; only the year's results
    # are kept, so memory stays flat across years and time grows linearly with the volume.
    # xlsx files are written by worker processes (spawned: forking a process that runs polars is unsafe); they
    # write one year's files while this process goes on with the next year.
    with progress, ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        task = progress.add_task("generating and writing extracts", total=0)
        for year in config.years:
            tick = time.perf_counter()
            progress.update(task, description=f"{year}: persons and deliveries")
            groups = {g: p for (y, g), p in participants.items() if y == year}
            persons = pl.concat([people.year(p) for _, p in sorted(groups.items(), key=lambda kv: kv[0] != "rus")])
            deliveries = YearDeliveries(config.seed, year, persons, groups)
            deliveries.plan_files()
            withdrawn = rng_for(config.seed, "withdrawn", year)

            def new_keys(n: int, _rng: np.random.Generator = withdrawn) -> list[str]:
                return people.new_ids(_rng, n)

            rows = deliveries.registrations(new_keys).with_columns(pl.lit(deliveries.layout).alias("layout"))
            year_files, layout = deliveries.files, book.layouts[deliveries.layout]
            del persons, deliveries  # the year's persons are in its rows now
            plan_by_name.update(year_files)
            generating += time.perf_counter() - tick
            progress.update(task, description=f"{year}: writing files", total=len(plan_by_name))
            encoded = LayoutEncoder(book, layout).encode(rows).partition_by("_file", as_dict=True)
            pending: list[Future] = []
            for name in sorted(year_files):
                outcome = write_file(encoded.pop((name,)), year_files[name], layout, book, extracts, names)
                if isinstance(outcome, XlsxJob):
                    pending.append(pool.submit(run_xlsx_job, outcome))
                else:
                    record(outcome)
            del encoded
            rows = rows.select(
                *(c for c in rows.columns if not c.startswith("z") and c not in ("row_order", "person_row"))
            )
            # the previous year's xlsx files were queued first: finish its truth while the workers write this year's
            if waiting is not None:
                progress.update(task, description=f"{waiting.year}: ground truth")
                finish(waiting)
            waiting = _YearRows(year, rows, list(year_files), pending)
            del rows
        progress.update(task, description="writing the last xlsx files and the ground truth")
        if waiting is not None:
            finish(waiting)
            waiting = None
    result.phases["generate"] = generating
    result.phases["write files"] = time.perf_counter() - started - generating - truthing
    with console.status("writing the ground truth …"):
        result.truth_counts = truth.write(truth_dir)
    result.persons = result.truth_counts["person_year"]
    result.files = [written[n] for n in sorted(written)]
    if config.bad_inputs:
        from brukerplan.synth.bad import write_bad_inputs

        result.bad_files = write_bad_inputs(partial / "bad", config.seed)
    manifest = {
        "arguments": config.as_dict(),
        "seed": config.seed,
        "files": result.files,
        "counts": {
            "files": len(result.files),
            "rows": result.rows,
            "person_years": result.persons,
            "truth_tables": result.truth_counts,
            "by_layout_format": [
                {"layout": lay, "format": fmt, "files": nf, "rows": nr} for lay, fmt, nf, nr in result.summary()
            ],
        },
    }
    (truth_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", "utf-8")
    for sub in ("extracts", "truth", "bad"):
        target = out / sub
        if target.exists():
            shutil.rmtree(target)
        if (partial / sub).exists():
            (partial / sub).replace(target)
    shutil.rmtree(partial)
    result.seconds = time.perf_counter() - started
    result.phases["truth"] = result.seconds - result.phases["generate"] - result.phases["write files"]
    return result
