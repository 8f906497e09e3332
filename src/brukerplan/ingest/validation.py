"""The validation suite run on every landed table before its submission record is written (great-expectations).

This is the only module that imports great_expectations, lazily and once per run (the import costs ~5 s).
A `Validator` is anything with `validate(table) -> ValidationOutcome`; tests inject their own to force Q08.

The suite does not depend on the mapping year (ages are checked on `age` = mapping_year - birth_year, derived for
the check only), so the pipeline can validate several submissions in one call: each expectation costs ~6 ms per
call whatever the number of rows, and a run may hold a thousand small files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from brukerplan.codes import CodeBook
from brukerplan.ingest.contract import registrations_schema
from brukerplan.ingest.mapping import MAX_AGE, MAX_CHILDREN, MIN_AGE, PERSON_ID_PATTERN

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
        suite = self._context.suites.add(gx.ExpectationSuite(name="registrations"))
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

    def validate(self, table: pa.Table) -> ValidationOutcome:
        schema_ok = table.schema.equals(registrations_schema())
        definition = self._definition()
        frame = table.drop_columns([c for c in NESTED if c in table.column_names]).to_pandas()
        frame["age"] = frame["mapping_year"].astype("Int64") - frame["birth_year"].astype("Int64")
        result = definition.run(batch_parameters={"dataframe": frame})
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
