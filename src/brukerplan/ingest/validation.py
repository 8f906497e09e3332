"""The validation suite run on every landed table before its submission record is written (great-expectations),
and the great-expectations Data Docs of each ingest run (`RunDataDocs`).

This is the only module that imports great_expectations, lazily and once per run (the import costs ~5 s).
A `Validator` is anything with `validate(table) -> ValidationOutcome`; tests inject their own to force Q08. A
validator that also has `data_docs(run_name, folder)` (a `DataDocsWriter`, as `GxValidator`) gives every run its
Data Docs site. A `BackgroundValidator` (`validation_worker.ValidationWorker`, the command's default) runs the
suite in a child process: `submit` returns at once and the pipeline goes on reading while it validates.

The suite does not depend on the mapping year (ages are checked on `age` = mapping_year - birth_year, derived for
the check only), so the pipeline can validate several submissions in one call: each expectation costs ~6 ms per
call whatever the number of rows, and a run may hold a thousand small files."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse
from urllib.request import url2pathname

import pyarrow as pa

from brukerplan.codes import CodeBook
from brukerplan.ingest.contract import registrations_schema
from brukerplan.ingest.limits import MAX_AGE, MAX_CHILDREN, MIN_AGE, PERSON_ID_PATTERN

SUITE = "registrations"
NESTED = ("services_received", "services_recommended", "extra")
KEYS = ("submission_id", "source_row", "registration_id", "person_id", "mapping_year", "municipality_code")
"""Non-null keys. Each expectation costs ~6 ms per file whatever its size, so the suite checks keys, code sets and
ranges; the remaining non-null columns are guaranteed by the row rules and the Arrow schema check."""


@dataclass
class ValidationOutcome:
    success: bool
    result: dict[str, Any]
    failed: list[str] = field(default_factory=list)


class Validator(Protocol):
    def validate(self, table: pa.Table) -> ValidationOutcome: ...


class PendingValidation(Protocol):
    def result(self) -> ValidationOutcome: ...


@runtime_checkable
class BackgroundValidator(Protocol):
    """Validates in the background: `start` gets it ready (great-expectations imported) while the caller works on,
    with `folder` (restricted, emptied by the next run) to hand tables over in; `submit` returns at once, the outcome
    comes with `result()`; `close` ends it."""

    def start(self, folder: Path) -> None: ...

    def submit(self, table: pa.Table) -> PendingValidation: ...

    def validate(self, table: pa.Table) -> ValidationOutcome: ...

    def close(self) -> None: ...


class DataDocs(Protocol):
    """The Data Docs of one ingest run (RunDataDocs, or its stand-in for a validator in another process)."""

    run_name: str
    folder: Path
    pages: list[Path]

    def add(self, label: str, outcome: ValidationOutcome, files: Sequence[str]) -> Path: ...

    def build(self) -> Path: ...


@runtime_checkable
class BackgroundDataDocs(Protocol):
    """Data Docs built in the background: `start_build` returns at once, `build` then waits for the index."""

    def start_build(self) -> None: ...


@runtime_checkable
class DataDocsWriter(Protocol):
    def data_docs(self, run_name: str, folder: Path) -> DataDocs: ...


def _allowed(book: CodeBook, code_list: str) -> list[str]:
    return sorted(
        {canon for (name, _), values in book.values.items() if name == code_list for canon in values.values()}
    )


class GxValidator:
    """Expectations: the contract's columns and types, code sets, ranges, non-null keys, unique lineage key."""

    def __init__(self, book: CodeBook) -> None:
        self.book = book
        self._gx: Any = None
        self._context: Any = None
        self._definition_: Any = None

    def prepare(self) -> None:
        """Import great-expectations and build the suite now (otherwise done at the first validation)."""
        self._definition()

    def _definition(self) -> Any:
        if self._definition_ is not None:
            return self._definition_
        if self._gx is None:
            import great_expectations as gx

            self._gx = gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self._context = gx.get_context(mode="ephemeral")
            self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
            self._batch = (
                self._context.data_sources.add_pandas("landing")
                .add_dataframe_asset("registrations")
                .add_batch_definition_whole_dataframe("all")
            )
        gx = self._gx
        e = gx.expectations
        schema = registrations_schema()
        scalar = [f.name for f in schema if f.name not in NESTED]
        suite = self._context.suites.add(gx.ExpectationSuite(name=SUITE))
        suite.add_expectation(e.ExpectTableColumnsToMatchOrderedList(column_list=[*scalar, "age"]))
        for key in KEYS:
            suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=key))
        sets = {
            "sex": _allowed(self.book, "sex"),
            "target_group": _allowed(self.book, "target_group"),
            "agency_code": _allowed(self.book, "agency"),
            "custody": _allowed(self.book, "custody"),
            "education": _allowed(self.book, "education"),
            "income_source": _allowed(self.book, "income_source"),
            "living_index": [*_allowed(self.book, "living_index"), "unknown"],
            "layout": sorted(self.book.layouts),
        }
        for area in self.book.areas:
            sets[f"area_{area.code}"] = [*_allowed(self.book, "colour"), "unknown"]
        for column, values in sets.items():
            suite.add_expectation(e.ExpectColumnValuesToBeInSet(column=column, value_set=values))
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="age", min_value=MIN_AGE, max_value=MAX_AGE))
        first_year = min(y for layout in self.book.layouts.values() for y in (layout.years or (layout.years_from,)))
        suite.add_expectation(
            e.ExpectColumnValuesToBeBetween(column="mapping_year", min_value=first_year, max_value=2100)
        )
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="n_children", min_value=0, max_value=MAX_CHILDREN))
        suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="person_id", regex=PERSON_ID_PATTERN))
        suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="municipality_code", regex=r"^\d{4}$"))
        suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["submission_id", "source_row"]))
        definition = self._context.validation_definitions.add(
            gx.ValidationDefinition(name="registrations", data=self._batch, suite=suite)
        )
        self._definition_ = definition
        return definition

    def data_docs(self, run_name: str, folder: Path) -> RunDataDocs:
        """The Data Docs of one ingest run, to be built into `folder` (see RunDataDocs)."""
        return RunDataDocs(self, run_name, folder)

    @staticmethod
    def frame(table: pa.Table) -> Any:
        """The pandas frame the suite runs on: the scalar columns and `age`. Text columns are categoricals:
        great-expectations copies the whole frame (a boolean mask) several times per expectation, and a categorical
        copies small integer codes instead of strings. Without nulls, the years are numpy int64, whose ranges
        great-expectations checks vectorised instead of one Python call per value. Same results, ~2.5 times faster
        (tests/ingest/test_validation_worker.py)."""
        scalar = table.drop_columns([c for c in NESTED if c in table.column_names])
        frame = scalar.to_pandas(strings_to_categorical=True)
        years, births = frame["mapping_year"], frame["birth_year"]
        if years.isna().any() or births.isna().any():
            frame["age"] = years.astype("Int64") - births.astype("Int64")
        else:
            frame["mapping_year"] = years.astype("int64")
            frame["age"] = frame["mapping_year"] - births.astype("int64")
        return frame

    def validate(self, table: pa.Table) -> ValidationOutcome:
        schema_ok = table.schema.equals(registrations_schema())
        definition = self._definition()
        results = self._context.validation_results_store
        before = set(results.list_keys())
        result = definition.run(batch_parameters={"dataframe": self.frame(table)})
        for key in set(results.list_keys()) - before:  # the run stored it; the JSON is kept by the pipeline
            results.remove_key(key)
        payload = json.loads(json.dumps(result.to_json_dict(), default=str))
        failed = [
            f"{r['expectation_config']['type']}({r['expectation_config']['kwargs'].get('column', '')})"
            for r in payload.get("results", [])
            if not r.get("success")
        ]
        if not schema_ok:
            failed.insert(0, "arrow schema differs from the landing contract (_landing__sources.yml)")
        payload["schema_matches_contract"] = schema_ok
        return ValidationOutcome(bool(result.success) and schema_ok, payload, failed)


DATA_DOCS_SITE = "ingest_run"
OUR_KEYS = ("schema_matches_contract", "validated_with")
"""Keys the pipeline adds to a suite result (not great-expectations' own; left out of the Data Docs)."""


class RunDataDocs:
    """The great-expectations Data Docs of one ingest run: a static HTML site built by great-expectations'
    SiteBuilder (index.html, one page per validation result, the suite's page), once, at the end of the run, from
    the results of that run only.

    It uses the validator's context (its suite is already there): the validator removes every result its runs
    store, so the context's result store holds exactly this run's results while the site is built, and they are
    removed again afterwards. The results are read back from their JSON (`ValidationOutcome.result`, the text the
    landing zone keeps), so a page shows what is kept. The pages show sample unexpected values of failed
    expectations, which are person-level: `folder` must lie in the restricted landing zone."""

    def __init__(self, validator: GxValidator, run_name: str, folder: Path) -> None:
        self.run_name = run_name
        self.folder = folder
        self.pages: list[Path] = []
        self._validator = validator
        self._ready = False

    def _context(self) -> Any:
        """The validator's context with the site pointing at `folder` (set at the first result: a run that
        validates nothing does not import great-expectations)."""
        self._validator._definition()
        context = self._validator._context
        if not self._ready:
            config = {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.folder)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
            if DATA_DOCS_SITE in context.list_data_docs_sites():
                context.update_data_docs_site(DATA_DOCS_SITE, config)
            else:
                context.add_data_docs_site(DATA_DOCS_SITE, config)
            _clear(context.validation_results_store)  # what a failed run in this process may have left
            self._ready = True
        return context

    def add(self, label: str, outcome: ValidationOutcome, files: Sequence[str]) -> Path:
        """Add one validation result (of `files`, shown as the batch `label`); returns the path of its page
        relative to `folder` (written by `build`)."""
        context = self._context()
        from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        payload = {k: v for k, v in outcome.result.items() if k not in OUR_KEYS}
        payload["meta"] = dict(payload.get("meta") or {})
        payload["meta"]["batch_markers"] = dict(payload["meta"].get("batch_markers") or {}, files=", ".join(files))
        run_id = {"run_name": self.run_name, "run_time": (payload["meta"].get("run_id") or {}).get("run_time")}
        payload["meta"]["run_id"] = run_id  # the pages show the ingest run's name
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=SUITE),
            run_id=RunIdentifier(**run_id),
            batch_identifier=re.sub(r"[^A-Za-z0-9._-]+", "_", label),
        )
        context.validation_results_store.set(identifier, ExpectationSuiteValidationResultSchema().load(payload))
        [site] = context.get_docs_sites_urls(
            resource_identifier=identifier, site_names=[DATA_DOCS_SITE], only_if_exists=False
        )
        page = Path(url2pathname(urlparse(str(site["site_url"])).path)).relative_to(self.folder)
        self.pages.append(page)
        return page

    def build(self) -> Path:
        """Write the site into `folder`; returns its index page. Of the static assets great-expectations copies
        into every site (4 MB: fonts and animations of its tutorials), only those the pages use are kept."""
        context = self._context()
        try:
            context.build_data_docs(site_names=[DATA_DOCS_SITE])
        finally:
            _clear(context.validation_results_store)
        used = {
            match
            for page in self.folder.rglob("*.html")
            for match in re.findall(r"static/[A-Za-z0-9_./-]+", page.read_text(encoding="utf-8"))
        }
        for asset in sorted((self.folder / "static").rglob("*"), reverse=True):  # files before their folders
            if asset.is_file() and asset.relative_to(self.folder).as_posix() not in used:
                asset.unlink()
            elif asset.is_dir() and not any(asset.iterdir()):
                asset.rmdir()
        return self.folder / "index.html"


def _clear(store: Any) -> None:
    for key in store.list_keys():
        store.remove_key(key)
