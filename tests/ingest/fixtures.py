"""Small extract files for the ingest tests, written here (xlsxwriter and plain text), independent of synth."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter

from brukerplan.codes import Layout, load_codebook

PERSON = "0123456789abcdef"

# Valid raw values per layout and canonical column (as a municipality would type them).
VALID: dict[str, dict[str, str]] = {
    "v1": {
        "municipality_code": "0301",
        "agency_code": "1",
        "mapped_on": "15.03.{year}",
        "sex": "1",
        "birth_year": "1980",
        "has_children": "1",
        "n_children": "2",
        "custody": "1",
        "pregnant": "0",
        "living_index": "2",
        "colour": "1",
        "flag_yes": "1",
        "flag_no": "0",
    },
    "v2": {
        "municipality_code": "0301",
        "agency_code": "NAV",
        "mapped_on": "15.03.{year}",
        "sex": "M",
        "birth_year": "1980",
        "target_group": "R",
        "has_children": "J",
        "n_children": "2",
        "custody": "Omsorg",
        "pregnant": "N",
        "education": "Høyere",
        "income_source": "Trygd",
        "injects": "N",
        "living_index": "Gul",
        "colour": "Grønn",
        "substance": "1",
        "flag_yes": "J",
        "flag_no": "N",
    },
    "v3": {
        "municipality_code": "0301",
        "agency_code": "03",
        "mapped_on": "{year}-03-15",
        "sex": "mann",
        "birth_year": "1980",
        "target_group": "rus",
        "has_children": "ja",
        "n_children": "2",
        "custody": "omsorg",
        "pregnant": "nei",
        "education": "vgs",
        "income_source": "arbeid",
        "injects": "nei",
        "violence_exposed": "nei",
        "living_index": "gul",
        "colour": "gronn",
        "substance": "0",
        "services_received": "hjemmesykepleie;lar",
        "services_recommended": "ingen",
    },
}

YEAR_OF = {"v1": 2013, "v2": 2016, "v3": 2021}


def layout(name: str) -> Layout:
    return load_codebook().layouts[name]


def headers(layout_name: str, with_municipality: bool = True) -> list[str]:
    lay = layout(layout_name)
    out = [c.header for c in lay.columns if with_municipality or c.canonical != "municipality_code"]
    out += [s.header for s in lay.service_columns]
    return out


def valid_row(layout_name: str, index: int, year: int | None = None, with_municipality: bool = True) -> dict[str, str]:
    """One valid row: registration id R<index>, a distinct person pseudonym."""
    year = year or YEAR_OF[layout_name]
    values = VALID[layout_name]
    lay = layout(layout_name)
    row: dict[str, str] = {}
    for spec in lay.columns:
        c = spec.canonical
        if c == "registration_id":
            row[spec.header] = f"R{index}"
        elif c == "person_id":
            row[spec.header] = f"{index:016x}"
        elif c == "municipality_code" and not with_municipality:
            continue
        elif c.startswith("area_"):
            row[spec.header] = values["colour"]
        elif c.startswith("substance_"):
            row[spec.header] = values["substance"]
        else:
            row[spec.header] = values[c].format(year=year)
    for i, service in enumerate(lay.service_columns):
        row[service.header] = values["flag_yes"] if i % 5 == 0 else values["flag_no"]
    return row


def rows_of(layout_name: str, n: int, **kwargs: object) -> list[dict[str, str]]:
    return [valid_row(layout_name, i + 1, **kwargs) for i in range(n)]  # type: ignore[arg-type]


def write_csv(
    path: Path,
    rows: Sequence[dict[str, object]],
    header: Sequence[str] | None = None,
    delimiter: str = ";",
    encoding: str = "utf-8",
    title_lines: Sequence[str] = (),
    quote: bool = False,
) -> Path:
    header = list(header or rows[0].keys())
    buffer = io.StringIO()
    for title in title_lines:
        buffer.write(title + "\r\n")
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL
    )
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(h) is None else str(row.get(h)) for h in header])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(
    path: Path,
    rows: Sequence[dict[str, object]],
    header: Sequence[str] | None = None,
    sheet: str = "Kartlegging",
    title_rows: Sequence[str | None] = (),
    numeric: Sequence[str] = (),
    dates: dict[str, str] | None = None,
) -> Path:
    """Cells are text except headers in `numeric` (written as numbers when they parse) and `dates`
    (header -> 'typed' | 'serial': the dd.mm.yyyy / ISO text is written as a date cell or a plain serial number)."""
    header = list(header or rows[0].keys())
    dates = dates or {}
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet(sheet)
    date_format = book.add_format({"num_format": "dd.mm.yyyy"})
    r = 0
    for title in title_rows:
        if title is not None:
            ws.write_string(r, 0, title)
        r += 1
    for j, h in enumerate(header):
        ws.write_string(r, j, h)
    for row in rows:
        r += 1
        for j, h in enumerate(header):
            value = row.get(h)
            if value is None or value == "":
                continue
            text = str(value)
            if h in dates and _parse_date(text) is not None:
                day = _parse_date(text)
                if dates[h] == "typed":
                    ws.write_datetime(r, j, dt.datetime(day.year, day.month, day.day), date_format)
                else:
                    ws.write_number(r, j, (day - dt.date(1899, 12, 30)).days)
            elif h in numeric and text.lstrip("-").isdigit():
                ws.write_number(r, j, int(text))
            else:
                ws.write_string(r, j, text)
    book.close()
    return path


def _parse_date(text: str) -> dt.date | None:
    for fmt in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
