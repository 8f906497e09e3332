"""`brukerplan synth`: generate persons, deliveries and files year by year, then the ground truth.

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
from brukerplan.synth.truth import write_truth
from brukerplan.synth.writers import LayoutEncoder, Written, XlsxJob, run_xlsx_job, write_file

TRUTH_COLUMNS = (
    "file",
    "registration_id",
    "layout",
    "is_current",
    "is_winner",
    "criterion",
    "kept_file",
    "kept_registration_id",
    "kept_municipality_code",
)


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
    truth_parts: list[pl.DataFrame] = []
    written: dict[str, dict] = {}
    plan_by_name: dict[str, FilePlan] = {}
    generating = 0.0

    def record(w: Written) -> None:
        written[w.name] = _manifest_entry(plan_by_name[w.name], w)
        result.rows += w.rows
        progress.advance(task)

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    # Year by year: generate, then write (only the truth columns are kept, so memory stays flat across years).
    # xlsx files are written by worker processes (spawned: forking a process that runs polars is unsafe).
    with progress, ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        task = progress.add_task("generating and writing extracts", total=0)
        pending: list[Future] = []
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
            plan_by_name.update(deliveries.files)
            generating += time.perf_counter() - tick
            progress.update(task, description=f"{year}: writing files", total=len(plan_by_name))
            layout = book.layouts[deliveries.layout]
            encoded = LayoutEncoder(book, layout).encode(rows).partition_by("_file", as_dict=True)
            for name in sorted(deliveries.files):
                outcome = write_file(encoded[(name,)], deliveries.files[name], layout, book, extracts, names)
                if isinstance(outcome, XlsxJob):
                    pending.append(pool.submit(run_xlsx_job, outcome))
                else:
                    record(outcome)
            del encoded, persons
            truth_parts.append(
                rows.select(
                    *(c for c in rows.columns if not c.startswith("z") and c not in ("row_order", "person_row"))
                )
            )
            for future in [f for f in pending if f.done()]:
                record(future.result())
                pending.remove(future)
        progress.update(task, description="writing the last xlsx files")
        for future in pending:
            record(future.result())
    result.phases["generate"] = generating
    registrations = pl.concat(truth_parts, how="diagonal_relaxed")
    submission = pl.DataFrame({"file": list(written), "submission_id": [w["submission_id"] for w in written.values()]})
    registrations = registrations.join(submission, on="file", how="left")
    result.phases["write files"] = time.perf_counter() - started - generating
    with console.status("writing the ground truth …"):
        result.truth_counts = write_truth(registrations, truth_dir)
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
