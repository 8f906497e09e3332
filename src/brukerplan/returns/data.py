"""What a return package holds, read from the warehouse's returns models (models/returns): the rows of one
municipality of the target structure, mapping years up to the requested one. Nothing else is read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

SCHEMA = "returns"


class ReturnUsageError(ValueError):
    """A municipality, year or person the warehouse does not know (exit 2, nothing written)."""


@dataclass(frozen=True)
class MunicipalityData:
    municipality_code: str
    municipality_name: str
    year: int
    registrations: pl.DataFrame  # fct_return_registration
    area_changes: pl.DataFrame  # fct_return_area_change
    services: pl.DataFrame  # fct_return_service_follow_up
    rejects: pl.DataFrame  # fct_return_reject
    submissions: pl.DataFrame  # submission_id, original_name, delivered_on of the registrations included


class ReturnsWarehouse:
    """A read-only connection to the warehouse; use as a context manager."""

    def __init__(self, warehouse: Path) -> None:
        if not warehouse.is_file():
            raise ReturnUsageError(f"no warehouse at {warehouse}: run `brukerplan build` first")
        self.con = duckdb.connect(str(warehouse), read_only=True)
        tables = {
            r[0]
            for r in self.con.execute(
                "select table_name from duckdb_tables() where schema_name = ?", [SCHEMA]
            ).fetchall()
        }
        if "fct_return_registration" not in tables:
            self.con.close()
            raise ReturnUsageError(f"the warehouse {warehouse} has no returns models: run `brukerplan build`")

    def __enter__(self) -> ReturnsWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def _frame(self, sql: str, params: list[object]) -> pl.DataFrame:
        return pl.from_arrow(self.con.sql(sql, params=params).to_arrow_table())  # type: ignore[return-value]

    def years(self) -> list[int]:
        rows = self.con.execute(f"select distinct mapping_year from {SCHEMA}.fct_return_registration order by 1")
        return [r[0] for r in rows.fetchall()]

    def names(self) -> dict[str, str]:
        """Every municipality of the target structure with its name."""
        rows = self.con.execute(
            "select distinct municipality_code, municipality_name from core.dim_municipality"
            " where municipality_code is not null"
        ).fetchall()
        return dict(rows)

    def mapped(self, year: int) -> dict[str, int]:
        """Municipality -> current registrations in `year`, for the municipalities that mapped that year."""
        rows = self.con.execute(
            f"select municipality_code, count(*) from {SCHEMA}.fct_return_registration"
            " where mapping_year = ? group by 1 order by 1",
            [year],
        ).fetchall()
        return dict(rows)

    def has_person(self, municipality: str, person_id: str, year: int) -> bool:
        (count,) = self.con.execute(
            f"select count(*) from {SCHEMA}.fct_return_registration"
            " where municipality_code = ? and person_id = ? and mapping_year <= ?",
            [municipality, person_id, year],
        ).fetchone()
        return count > 0

    def municipality(self, code: str, name: str, year: int) -> MunicipalityData:
        params: list[object] = [code, year]
        registrations = self._frame(
            f"select * from {SCHEMA}.fct_return_registration where municipality_code = ? and mapping_year <= ?"
            " order by mapping_year, submission_id, registration_id",
            params,
        )
        return MunicipalityData(
            municipality_code=code,
            municipality_name=name,
            year=year,
            registrations=registrations,
            area_changes=self._frame(
                f"select * from {SCHEMA}.fct_return_area_change where municipality_code = ? and mapping_year <= ?"
                " order by person_id, area_code, mapping_year",
                params,
            ),
            services=self._frame(
                f"select * from {SCHEMA}.fct_return_service_follow_up"
                " where municipality_code = ? and mapping_year <= ? order by person_id, mapping_year, service_code",
                params,
            ),
            rejects=self._frame(
                f"select * from {SCHEMA}.fct_return_reject where municipality_code = ? and mapping_year <= ?"
                " order by mapping_year, kind desc, source_file, source_row",
                params,
            ),
            submissions=self._frame(
                "select distinct r.submission_id, s.original_name, s.delivered_on, r.mapping_year"
                f" from {SCHEMA}.fct_return_registration as r"
                " inner join staging.stg_landing__submissions as s on r.submission_id = s.submission_id"
                " where r.municipality_code = ? and r.mapping_year <= ? order by r.mapping_year, s.delivered_on",
                params,
            ),
        )
