"""Readers: a whole csv or xlsx file into one polars frame of text cells, with the header row found (§1, §6).

Every cell below the header row is kept as text (`c0`, `c1`, …) exactly as it stands in the file, blank rows
included: cleaning (a whitespace-only cell is empty, a fully empty row is skipped) is done for many files at once
(`batch`). `first_row` is the row number, as a person counts it (header included, 1-based), of the first of those
rows. xlsx date columns can be re-read typed (`typed_dates`), so that typed dates and Excel serial numbers are dates
while an all-digit text cell is not."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from brukerplan.codes import Layout
from brukerplan.ingest.errors import Quarantine
from brukerplan.ingest.headers import HEADER_SEARCH_ROWS, find_header, is_blank

ENCODINGS = ("utf-8-sig", "utf-8", "cp1252")
DELIMITERS = (";", ",", "\t")
DELIMITER_NAMES = {";": "semicolon", ",": "comma", "\t": "tab"}
TEXT_DATE_OR_BLANK = re.compile(r"\s*(?:\d{1,2}\.\d{1,2}\.\d{4}|\d{4}-\d{1,2}-\d{1,2})?\s*\Z")
"""A cell shown like this is a text cell (a number shows as digits, a date cell with its time): reading the column
typed again would give nothing for it, so a date column of such cells only is not read again."""
HEAD_LINES = 2000
"""The header row is searched among at most this many lines (csv) or rows (xlsx) of a file (decisions I1)."""


@dataclass
class RawSheet:
    """One file's data sheet: header cells and the rows below the header, as text."""

    fmt: str  # csv | xlsx
    sheet: str | None
    encoding: str | None
    delimiter: str | None
    layout: str
    header_row: int  # 1-based row number of the header
    headers: list[str | None]  # header cells as in the file, one per column c0..cN
    cells: pl.DataFrame  # c0..cN (String, null = empty cell): every row below the header, blank rows included
    first_row: int  # row number of the first row of `cells`
    typed_dates: Callable[[int], pl.Series] | None = None  # xlsx: column index -> Date series aligned with cells

    @property
    def where(self) -> str:
        return f"sheet {self.sheet}" if self.sheet else ""


def _col(i: int) -> str:
    return f"c{i}"


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Text and encoding name; Q01 when no accepted encoding decodes it or it holds NUL bytes (binary)."""
    if b"\x00" in data[:65536]:
        raise Quarantine("Q01", f"{name}: the file is binary, not text (it holds NUL bytes); not a valid csv file")
    for encoding in ENCODINGS:
        if encoding == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
            continue
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise Quarantine(
        "Q01", f"{name}: the text decodes in none of the accepted encodings (UTF-8, UTF-8 with BOM, Windows-1252)"
    )


def read_csv(path: Path, layouts: Sequence[Layout], name: str | None = None) -> RawSheet:
    name = name or path.name
    data = path.read_bytes()
    text, encoding = decode(data, name)
    head_lines: list[str] = []
    non_empty = 0
    for line in text.split("\n", HEAD_LINES):  # the search reads the head only: no need to split the whole text
        head_lines.append(line.rstrip("\r"))
        non_empty += bool(head_lines[-1].strip())
        if len(head_lines) >= HEAD_LINES or non_empty > HEADER_SEARCH_ROWS:
            break
    best: tuple[int, str] | None = None
    tie_error: Quarantine | None = None
    for delimiter in DELIMITERS:
        rows = [(i, next(csv.reader([line], delimiter=delimiter), [])) for i, line in enumerate(head_lines)]
        rows = [(i, [c.strip(' "') if c else None for c in cells]) for i, cells in rows]
        try:
            match = find_header(rows, layouts, name)
        except Quarantine as exc:
            if "several layouts" in exc.message:
                tie_error = tie_error or exc
            continue
        if best is None or match.row_index < best[0]:
            best = (match.row_index, delimiter)
            layout = match.layout
    if best is None:
        raise tie_error or Quarantine(
            "Q02",
            f"{name}: none of the first {HEADER_SEARCH_ROWS} non-empty lines holds at least half of the required "
            "headers of any layout (v1, v2, v3) with ';', ',' or tab as delimiter; layout not recognised",
        )
    header_index, delimiter = best
    payload = data[3:] if encoding == "utf-8-sig" else data if encoding == "utf-8" else text.encode("utf-8")
    try:
        frame = pl.read_csv(
            io.BytesIO(payload),
            has_header=False,
            skip_lines=header_index,
            separator=delimiter,
            infer_schema=False,
            truncate_ragged_lines=True,
            quote_char='"',
        )
    except Exception as exc:  # polars raises several error types for malformed text
        raise Quarantine("Q01", f"{name}: not a readable csv file ({type(exc).__name__}: {exc})") from exc
    frame.columns = [_col(i) for i in range(frame.width)]
    headers = [h.strip() if h is not None and h.strip() else None for h in frame.row(0)] if frame.height else []
    return RawSheet(
        "csv", None, encoding, delimiter, layout, header_index + 1, headers, frame.slice(1), header_index + 2
    )


def read_xlsx(path: Path, layouts: Sequence[Layout], name: str | None = None) -> RawSheet:
    import fastexcel

    name = name or path.name
    if not zipfile.is_zipfile(path):
        raise Quarantine("Q01", f"{name}: not a valid xlsx file (not a zip archive)")
    try:
        reader = fastexcel.read_excel(str(path))
        sheet_names = list(reader.sheet_names)
    except Exception as exc:
        raise Quarantine("Q01", f"{name}: not a valid xlsx file ({type(exc).__name__}: {exc})") from exc
    errors: list[Quarantine] = []
    for sheet_index, sheet in enumerate(sheet_names):
        try:
            grid = reader.load_sheet(sheet_index, header_row=None, skip_rows=0, dtypes="string").to_polars()
        except Exception as exc:
            raise Quarantine("Q01", f"{name}, sheet {sheet}: cannot be read ({type(exc).__name__}: {exc})") from exc
        if grid.width == 0 or grid.height == 0:
            continue
        grid.columns = [_col(i) for i in range(grid.width)]
        head = enumerate(grid.head(HEAD_LINES).iter_rows(buffer_size=64))  # only as far as the search reads
        try:
            match = find_header(head, layouts, f"{name}, sheet {sheet}")
        except Quarantine as exc:
            errors.append(exc)
            continue
        headers = [str(h).strip() if h is not None and str(h).strip() else None for h in grid.row(match.row_index)]
        first = match.row_index + 1

        def typed_dates(
            column: int, _sheet: int = sheet_index, _grid: pl.DataFrame = grid, _first: int = first
        ) -> pl.Series:
            texts = _grid.get_column(_col(column)).slice(_first)
            if all(TEXT_DATE_OR_BLANK.match(text) for text in texts.drop_nulls().to_list()):
                return pl.Series(texts.name, [None] * len(texts), dtype=pl.Date)  # only text cells: none typed
            typed = reader.load_sheet(
                _sheet, header_row=None, skip_rows=0, use_columns=[column], dtypes={column: "datetime"}
            ).to_polars()
            series = typed.to_series(0).cast(pl.Date, strict=False)
            series = series.extend_constant(None, max(0, _grid.height - len(series)))
            return series.slice(_first, _grid.height - _first)

        cells = grid.slice(first)
        return RawSheet("xlsx", sheet, None, None, match.layout, first, headers, cells, first + 1, typed_dates)
    ties = [e for e in errors if "several layouts" in e.message]
    if ties:
        raise ties[0]
    sheets = ", ".join(sheet_names) or "(none)"
    raise Quarantine(
        "Q02",
        f"{name}: no sheet ({sheets}) has a row among its first {HEADER_SEARCH_ROWS} non-empty rows that holds at "
        "least half of the required headers of any layout (v1, v2, v3); layout not recognised",
    )


def read_file(path: Path, fmt: str, layouts: Sequence[Layout], name: str | None = None) -> RawSheet:
    if fmt == "xlsx":
        return read_xlsx(path, layouts, name)
    return read_csv(path, layouts, name)


__all__ = ["DELIMITER_NAMES", "RawSheet", "decode", "is_blank", "read_csv", "read_file", "read_xlsx"]
