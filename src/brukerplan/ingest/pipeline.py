"""Ingest a list of files into the landing zone: order (§6), same-bytes check, file rules Q01-Q09, row rules,
validation, landing or quarantine. One call = one run under the zone's lock."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from brukerplan import __version__
from brukerplan.codes import CodeBook, load_codebook
from brukerplan.ingest.errors import Quarantine
from brukerplan.ingest.filenames import BadFileName, ExtractName, parse_name
from brukerplan.ingest.landing import Known, LandingZone, Submission, now_utc
from brukerplan.ingest.mapping import map_sheet
from brukerplan.ingest.readers import DELIMITER_NAMES, read_file
from brukerplan.ingest.reference import load_municipalities
from brukerplan.ingest.rules import Outcome, apply_rules
from brukerplan.ingest.validation import DataDocsWriter, GxValidator, RunDataDocs, Validator
from brukerplan.settings import Settings

EXTENSIONS = (".xlsx", ".csv")
SAMPLE_REJECTS = 20
BATCH_ROWS = 200_000
"""Files waiting for validation are validated together once they hold this many landed rows (or at the end)."""
DATA_DOCS = "data_docs"
"""The landing zone's folder of great-expectations Data Docs: one site per ingest run, DATA_DOCS/<run>/index.html."""


class UsageError(ValueError):
    """A path given on the command line does not exist or holds no extract files."""


@dataclass
class FileResult:
    path: Path
    status: str  # landed | already landed | already quarantined | quarantined (validating while in a batch)
    layout: str | None = None
    fmt: str | None = None
    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rule_id: str | None = None
    message: str | None = None
    submission_id: str | None = None
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data_docs: Path | None = None  # index.html of this run's Data Docs (none when no file reached validation)
    data_docs_pages: int = 0

    @property
    def quarantined(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "quarantined"]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)


def collect(paths: Iterable[Path]) -> list[Path]:
    """Files given directly, and *.xlsx / *.csv (any case) under folders, recursively."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += [p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in EXTENSIONS]
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


def landing_order(files: Iterable[Path]) -> list[tuple[Path, ExtractName | None]]:
    """Mapping year, delivery date, seq, file name; names that do not parse (Q05) last, by name."""
    parsed: list[tuple[Path, ExtractName | None]] = []
    for path in files:
        try:
            parsed.append((path, parse_name(path.name)))
        except BadFileName:
            parsed.append((path, None))
    return sorted(parsed, key=lambda item: (0, item[1].order_key, str(item[0])) if item[1] else (1, (), item[0].name))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Pending:
    """A file that passed every rule up to validation, waiting for its batch to be validated."""

    path: Path
    sha: str
    name: ExtractName
    outcome: Outcome
    record: dict
    result: FileResult
    duplicates: list[FileResult] = field(default_factory=list)


@dataclass
class Ingestor:
    settings: Settings
    validator: Validator | None = None
    book: CodeBook = field(default_factory=load_codebook)
    batch_rows: int = BATCH_ROWS

    def __post_init__(self) -> None:
        if self.validator is None:
            self.validator = GxValidator(self.book)

    def run(
        self,
        paths: Iterable[Path],
        lock_timeout: float = 600.0,
        on_wait: Callable[[str], None] | None = None,
        on_file: Callable[[Path, FileResult | None], None] | None = None,
    ) -> RunResult:
        started = time.perf_counter()
        ordered = landing_order(collect(paths))
        result = RunResult()
        with LandingZone(self.settings.landing, lock_timeout, on_wait) as zone:
            result.cleaned = zone.cleaned
            known = zone.known()
            pending: list[_Pending] = []
            by_sha: dict[str, _Pending] = {}
            docs = self._data_docs(zone)
            for path, name in ordered:
                if on_file:
                    on_file(path, None)
                file_result = self._prepare(zone, known, path, name, pending, by_sha)
                result.files.append(file_result)
                if sum(p.outcome.rows_landed for p in pending) >= self.batch_rows:
                    self._flush(zone, known, pending, docs)
                if on_file:
                    on_file(path, file_result)
            self._flush(zone, known, pending, docs)
            if docs is not None and docs.pages:
                docs.build()  # into _tmp (a crash leaves nothing half-written), then renamed into place
                final = zone.root / DATA_DOCS / docs.run_name
                final.parent.mkdir(exist_ok=True)
                os.replace(docs.folder, final)
                result.data_docs, result.data_docs_pages = final / "index.html", len(docs.pages)
        result.seconds = time.perf_counter() - started
        return result

    def _data_docs(self, zone: LandingZone) -> RunDataDocs | None:
        """This run's Data Docs (when the validator writes them), named after the run's start (UTC)."""
        if not isinstance(self.validator, DataDocsWriter):
            return None
        stamp = now_utc().strftime("%Y%m%dT%H%M%SZ")
        run_name = next(
            name
            for name in (stamp if n == 1 else f"{stamp}-{n}" for n in range(1, 1000))
            if not (zone.root / DATA_DOCS / name).exists()
        )
        return self.validator.data_docs(run_name, zone.tmp / f"{DATA_DOCS}-{run_name}")

    def _prepare(
        self,
        zone: LandingZone,
        known: Known,
        path: Path,
        name: ExtractName | None,
        pending: list[_Pending],
        by_sha: dict[str, _Pending],
    ) -> FileResult:
        started = time.perf_counter()
        sha = sha256_of(path)
        if sha in by_sha:
            first_pending = by_sha[sha]
            duplicate = FileResult(
                path,
                "already landed",
                first_pending.result.layout,
                first_pending.result.fmt,
                submission_id=sha[:16],
                message=f"same bytes as {first_pending.path.name} (submission {sha[:16]})",
            )
            first_pending.duplicates.append(duplicate)
            return duplicate
        if sha in known.landed:
            first = known.landed[sha]
            return FileResult(
                path,
                "already landed",
                first.get("layout"),
                first.get("format"),
                submission_id=first["submission_id"],
                message=f"same bytes as {first['original_name']} (submission {first['submission_id']})",
            )
        if sha in known.quarantined:
            first = known.quarantined[sha]
            return FileResult(
                path,
                "already quarantined",
                rule_id=first.get("rule_id"),
                message=f"same bytes as {first['original_name']}, quarantined under {first['rule_id']}",
            )
        result = FileResult(path, "validating", submission_id=sha[:16])
        try:
            ready = self._check(known, path, name, sha, result)
        except Quarantine as q:
            self._quarantine(zone, known, path, sha, q, result)
        else:
            pending.append(ready)
            by_sha[sha] = ready
            known.deliveries[ready.name.delivery_key] = ready.record
        result.seconds = time.perf_counter() - started
        return result

    def _quarantine(
        self, zone: LandingZone, known: Known, path: Path, sha: str, q: Quarantine, result: FileResult
    ) -> None:
        report = {
            "sha256": sha,
            "original_name": path.name,
            "rule_id": q.rule_id,
            "message": q.message,
            "details": q.details,
            "quarantined_at": now_utc().isoformat(),
        }
        attachments = {"validation.json": q.details.pop("validation")} if "validation" in q.details else None
        zone.quarantine(path, sha, path.name, report, attachments)
        known.quarantined[sha] = report
        result.status, result.rule_id, result.message = "quarantined", q.rule_id, q.message
        result.submission_id, result.rows_landed = None, 0

    def _flush(self, zone: LandingZone, known: Known, pending: list[_Pending], docs: RunDataDocs | None) -> None:
        """Validate the waiting files in one suite run (each alone when that fails), then land them in order."""
        if not pending:
            return
        assert self.validator is not None
        started = time.perf_counter()
        batch = [p.record["submission_id"] for p in pending]
        together = self.validator.validate(pa.concat_tables([p.outcome.registrations for p in pending]))
        alone = not together.success and len(pending) > 1
        outcomes = (
            [self.validator.validate(p.outcome.registrations) for p in pending] if alone else [together] * len(pending)
        )
        pages: list[Path | None] = [None] * len(pending)
        if docs is not None:
            names = [p.path.name for p in pending]
            label = names[0] if len(pending) == 1 else f"{names[0]}-and-{len(pending) - 1}-more"
            pages = [docs.add(label, together, names)] * len(pending)
            if alone:
                pages = [docs.add(n, o, [n]) for n, o in zip(names, outcomes, strict=True)]
        landing: list[tuple[_Pending, Submission]] = []
        shared = dict(together.result, validated_with=batch)
        shared_text = (json.dumps(shared, indent=1, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        for item, validation, page in zip(pending, outcomes, pages, strict=True):
            if not validation.success:
                known.deliveries.pop(item.name.delivery_key, None)
                details = {"failed_expectations": validation.failed, "validation": validation.result}
                if docs is not None and page is not None:  # the page is written at the end of the run
                    details["data_docs"] = (Path(DATA_DOCS) / docs.run_name / page).as_posix()
                q = Quarantine(
                    "Q08",
                    f"{item.path.name}: the landed data fail the validation suite ({len(validation.failed)} "
                    f"expectation(s): {'; '.join(validation.failed[:5])})",
                    details,
                )
                self._quarantine(zone, known, item.path, item.sha, q, item.result)
                for duplicate in item.duplicates:
                    duplicate.status, duplicate.rule_id = "already quarantined", "Q08"
                continue
            sid = item.record["submission_id"]
            payload = shared_text if validation is together else dict(validation.result, validated_with=[sid])
            landing.append(
                (
                    item,
                    Submission(
                        sid, item.name.year, item.outcome.registrations, item.outcome.rejects, payload, item.record
                    ),
                )
            )
        zone.land([submission for _, submission in landing])
        share = (time.perf_counter() - started) / len(pending)
        for item, _ in landing:
            known.landed[item.sha] = item.record
            item.result.status = "landed"
        for item in pending:
            item.result.seconds += share
        pending.clear()

    def _check(self, known: Known, path: Path, name: ExtractName | None, sha: str, result: FileResult) -> _Pending:
        """Every file rule up to Q07 (Q08 comes with the validation of the batch)."""
        if name is None:
            try:
                parse_name(path.name)
            except BadFileName as exc:
                raise Quarantine("Q05", str(exc)) from exc
        assert name is not None
        result.fmt = name.fmt
        layouts = list(self.book.layouts.values())
        sheet = read_file(path, name.fmt, layouts, path.name)
        result.layout = sheet.layout
        layout = self.book.layouts[sheet.layout]
        place = path.name + (f", sheet {sheet.sheet}" if sheet.sheet else "")
        if not layout.covers_year(name.year):
            expected = self.book.layout_for_year(name.year).name
            raise Quarantine(
                "Q06",
                f"{place}: the header row (row {sheet.header_row}) is layout {layout.name}, but mapping year "
                f"{name.year} (from the file name) uses layout {expected}",
                {"layout": layout.name, "expected_layout": expected},
            )
        in_force = load_municipalities().in_force(name.year)
        mapped = map_sheet(sheet, layout, name, self.book, in_force)
        if sheet.data.height == 0:
            raise Quarantine("Q04", f"{place}: no data rows below the header row (row {sheet.header_row})")
        result.rows_read = sheet.data.height
        clash = known.deliveries.get(name.delivery_key)
        if clash is not None:
            raise Quarantine(
                "Q09",
                f"{path.name}: same mapping year, scope, delivery date and seq as {clash['original_name']} "
                f"(submission {clash['submission_id']}) but different bytes; the order of the two deliveries "
                "is ambiguous",
                {"landed_submission_id": clash["submission_id"], "landed_name": clash["original_name"]},
            )
        ingested_at = now_utc()
        outcome = apply_rules(mapped, sheet, name, sha[:16], ingested_at)
        result.rows_landed, result.rows_rejected = outcome.rows_landed, outcome.rows_rejected
        share = outcome.rows_rejected / outcome.rows_read
        if share > self.settings.reject_threshold:
            by_rule: dict[str, int] = {}
            for rule in outcome.rejects.column("rule_id").to_pylist():
                by_rule[rule] = by_rule.get(rule, 0) + 1
            raise Quarantine(
                "Q07",
                f"{place}: {outcome.rows_rejected} of {outcome.rows_read} data rows rejected ({share:.1%}), "
                f"strictly above the reject threshold of {self.settings.reject_threshold:.1%}",
                {
                    "rows_read": outcome.rows_read,
                    "rows_rejected": outcome.rows_rejected,
                    "rejected_by_rule": by_rule,
                    "sample_rejects": outcome.rejects.column("message").to_pylist()[:SAMPLE_REJECTS],
                },
            )
        record = {
            "submission_id": sha[:16],
            "original_name": path.name,
            "sha256": sha,
            "size_bytes": path.stat().st_size,
            "layout": sheet.layout,
            "format": name.fmt,
            "encoding": sheet.encoding,
            "delimiter": DELIMITER_NAMES.get(sheet.delimiter or "", sheet.delimiter),
            "sheet": sheet.sheet,
            "mapping_year": name.year,
            "scope": name.scope,
            "scope_type": name.scope_type,
            "delivered_on": name.delivered_on.isoformat(),
            "delivery_seq": name.seq,
            "municipalities_covered": outcome.municipalities_covered,
            "rows_read": outcome.rows_read,
            "rows_landed": outcome.rows_landed,
            "rows_rejected": outcome.rows_rejected,
            "ingested_at": ingested_at.isoformat(),
            "software_version": __version__,
        }
        return _Pending(path, sha, name, outcome, record, result)
