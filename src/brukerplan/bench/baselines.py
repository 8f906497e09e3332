"""The libraries' own limits, measured on the same files: DuckDB's read_csv straight to Parquet for the CSV
extracts, and a bare polars.read_excel (calamine) for the xlsx extracts. The ratio of our ingest time to these
says what validation, mapping and landing cost on top of parsing."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Baseline:
    name: str
    files: int
    rows: int
    seconds: float


def _csv_encoding(path: Path) -> str:
    head = path.read_bytes()
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"  # closest DuckDB built-in to Windows-1252
    return "utf-8"


def duckdb_csv_to_parquet(files: list[Path]) -> Baseline:
    import duckdb

    rows = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect()
        try:
            for index, path in enumerate(files):
                out = Path(tmp) / f"{index}.parquet"
                encoding = _csv_encoding(path)
                con.execute(
                    f"copy (select * from read_csv('{path}', all_varchar = true, encoding = '{encoding}')) "
                    f"to '{out}' (format parquet)"
                )
                rows += con.execute(f"select count(*) from read_parquet('{out}')").fetchone()[0]
        finally:
            con.close()
    return Baseline("duckdb read_csv → parquet", len(files), rows, time.perf_counter() - started)


def polars_read_excel(files: list[Path]) -> Baseline:
    import polars as pl

    rows = 0
    started = time.perf_counter()
    for path in files:
        frame = pl.read_excel(path, engine="calamine", has_header=False)
        rows += frame.height
    return Baseline("polars read_excel (calamine)", len(files), rows, time.perf_counter() - started)
