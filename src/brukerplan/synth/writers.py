"""Writing registrations as extract files exactly as extract-format.md describes, with every header and code
spelling taken from the code book (brukerplan.codes), never re-typed here."""

from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from brukerplan.codes import CodeBook, Layout
from brukerplan.synth.deliveries import FilePlan
from brukerplan.synth.people import CUSTODY, EDUCATION, INCOME

YES_NO_FIELDS = ("has_children", "pregnant", "injects", "violence_exposed")
COMMENTS = ("", "", "Ny bruker", "Flyttet fra annen kommune", "Kartlagt sammen med bruker", "Se journal")
HANDLERS = ("AB", "K.L.", "MHO", "Tove", "PJ", "")
DISTRICTS = ("Gamle Oslo", "Grünerløkka", "Sagene", "Frogner", "Alna", "Søndre Nordstrand", "")
V2_ASCII = {"Grønn": "gronn", "Gul": "gul", "Rød": "rod", "Blålys": "blalys"}


@dataclass(frozen=True)
class Written:
    name: str
    path: Path
    rows: int
    header_row: int
    sha256: str
    size: int


def _present(layout: str, raw: str) -> str:
    return raw.capitalize() if layout == "v2" else raw


def _code(book: CodeBook, code_list: str, layout: str, canonical: str) -> str:
    return _present(layout, book.encode(code_list, layout, canonical)[0])


class LayoutEncoder:
    """Turns canonical registration rows into the text cells of one layout."""

    def __init__(self, book: CodeBook, layout: Layout) -> None:
        self.book = book
        self.layout = layout
        self.name = layout.name
        self.service_index = {s.code: i for i, s in enumerate(book.services)}

    def _map_int(self, column: str, code_list: str, values: tuple[str, ...]) -> pl.Expr:
        mapping = {i: _code(self.book, code_list, self.name, v) for i, v in enumerate(values)}
        return pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.String)

    def encode(self, rows: pl.DataFrame) -> pl.DataFrame:
        """One text column per header of the layout (plus helper columns starting with '_')."""
        book, lay = self.book, self.name
        yes, no = _code(book, "yes_no", lay, "true"), _code(book, "yes_no", lay, "false")
        colours = {i: _code(book, "colour", lay, c) for i, c in ((1, "green"), (2, "yellow"), (3, "red"))}
        index = {**{i: _code(book, "living_index", lay, c) for i, c in ((1, "green"), (2, "yellow"), (3, "red"))}}
        index[4] = _code(book, "living_index", lay, "blue")
        exprs: dict[str, pl.Expr] = {}
        for col in self.layout.columns:
            c = col.canonical
            if c in ("registration_id", "person_id", "municipality_code"):
                e = pl.col(c)
            elif c == "agency_code":
                if lay == "v1":
                    e = pl.col(c).cast(pl.Int32).cast(pl.String)
                elif lay == "v2":
                    e = pl.col(c).replace_strict({a.code: a.v2_label for a in book.agencies}, return_dtype=pl.String)
                else:
                    e = pl.col(c)
            elif c == "mapped_on":
                e = pl.col(c).dt.strftime("%Y-%m-%d" if lay == "v3" else "%d.%m.%Y")
            elif c == "sex":
                e = pl.when(pl.col("sex") == "M").then(pl.lit(_code(book, "sex", lay, "M")))
                e = e.otherwise(pl.lit(_code(book, "sex", lay, "F")))
            elif c == "birth_year":
                e = pl.col(c).cast(pl.String)
            elif c == "target_group":
                e = pl.when(pl.col(c) == "rus").then(pl.lit(_code(book, "target_group", lay, "rus")))
                e = e.otherwise(pl.lit(_code(book, "target_group", lay, "mental")))
            elif c in YES_NO_FIELDS:
                e = pl.col(c).replace_strict({1: yes, 0: no}, default=None, return_dtype=pl.String)
            elif c == "n_children":
                e = pl.when(pl.col(c) >= 0).then(pl.col(c).cast(pl.String))
            elif c == "custody":
                e = self._map_int(c, "custody", CUSTODY)
            elif c == "education":
                e = self._map_int(c, "education", EDUCATION)
            elif c == "income_source":
                e = self._map_int(c, "income_source", INCOME)
            elif c.startswith("substance_"):
                e = pl.when(pl.col(c) >= 0).then(pl.col(c).cast(pl.String))
            elif c.startswith("area_"):
                e = pl.col(c).replace_strict(colours, default=None, return_dtype=pl.String)
            elif c == "living_index":
                e = pl.col(c).replace_strict(index, default=None, return_dtype=pl.String)
            elif c in ("services_received", "services_recommended"):
                e = self._service_list(c)
            else:  # pragma: no cover - a layout column the generator does not know
                raise KeyError(f"no encoding for canonical column {c!r} in layout {lay}")
            exprs[col.header] = e.alias(col.header)
        for sc in self.layout.service_columns:
            mask = "received_mask" if sc.which == "received" else "recommended_mask"
            known = "received_known" if sc.which == "received" else "recommended_known"
            bit = 1 << self.service_index[sc.service_code]
            exprs[sc.header] = (
                pl.when(~pl.col(known))
                .then(None)
                .when((pl.col(mask) & bit) != 0)
                .then(pl.lit(yes))
                .otherwise(pl.lit(no))
                .alias(sc.header)
            )
        asked = sum(1 << self.service_index[s] for s in self.layout.services_asked)
        helpers = [
            ((pl.col("received_mask") & asked) != 0).alias("_received_any"),
            ((pl.col("recommended_mask") & asked) != 0).alias("_recommended_any"),
            pl.col("file").alias("_file"),
            pl.col("row_order").alias("_row_order"),
            pl.col("municipality_code").alias("_municipality"),
        ]
        return rows.select(*exprs.values(), *helpers)

    def _service_list(self, canonical: str) -> pl.Expr:
        mask = "received_mask" if canonical == "services_received" else "recommended_mask"
        known = "received_known" if canonical == "services_received" else "recommended_known"
        by_code = {s.code: s for s in self.book.services}
        parts = [
            pl.when((pl.col(mask) & (1 << self.service_index[code])) != 0).then(pl.lit(by_code[code].v3_code))
            for code in self.layout.services_asked
        ]
        joined = pl.concat_str(parts, separator=self.layout.list_separator, ignore_nulls=True)
        return (
            pl.when(~pl.col(known))
            .then(None)
            .when(joined == "")
            .then(pl.lit(self.layout.list_none_token))
            .otherwise(joined)
        )


def _file_frame(encoded: pl.DataFrame, plan: FilePlan, layout: Layout, book: CodeBook, rng_seed: int) -> pl.DataFrame:
    frame = encoded.sort("_row_order")
    headers = [c.header for c in layout.columns] + [sc.header for sc in layout.service_columns]
    if not plan.with_municipality:
        headers.remove(layout.column("municipality_code").header)  # type: ignore[union-attr]
    updates = []
    if plan.upper_ids:
        pid = layout.column("person_id").header  # type: ignore[union-attr]
        updates.append(pl.col(pid).str.to_uppercase())
    if plan.blank_zeros and layout.service_kind == "flags":
        no = _code(book, "yes_no", layout.name, "false")
        for sc in layout.service_columns:
            anyc = "_received_any" if sc.which == "received" else "_recommended_any"
            keep = pl.when(pl.col(anyc) & (pl.col(sc.header) == no)).then(None).otherwise(pl.col(sc.header))
            updates.append(keep.alias(sc.header))
    if plan.v2_lower and layout.name == "v2":
        for col in layout.columns:
            if col.kind in ("colour", "index"):
                updates.append(pl.col(col.header).replace(V2_ASCII))
    if updates:
        frame = frame.with_columns(updates)
    n = frame.height
    extras = []
    for i, extra in enumerate(plan.extras):
        values = {"Kommentar": COMMENTS, "Saksbehandler": HANDLERS, "Bydel": DISTRICTS}[extra]
        if extra == "Bydel" and plan.scope != "K0301":
            values = ("",)
        idx = (np.arange(n, dtype=np.int64) * 7 + i * 3 + rng_seed) % len(values)
        extras.append(pl.Series(extra, values, dtype=pl.String).gather(idx))
    frame = frame.select(headers)
    if extras:
        frame = frame.with_columns(extras)
        # extra columns anywhere in the row, not only at the end
        order = [c for c in frame.columns if c not in plan.extras]
        for i, extra in enumerate(plan.extras):
            order.insert((rng_seed + 11 * i) % (len(order) + 1), extra)
        frame = frame.select(order)
    return frame


def styled_headers(headers: list[str], plan: FilePlan) -> list[str]:
    """How the file spells its headers: as in the code book, upper-case, padded with spaces, or decomposed
    Unicode (NFD, as some Mac exports do); readers compare trimmed, NFC-normalised and case-insensitively."""
    if plan.header_style == "upper":
        return [h.upper() for h in headers]
    if plan.header_style == "padded":
        return [f" {h} " for h in headers]
    if plan.header_style == "nfd":
        return [unicodedata.normalize("NFD", h) for h in headers]
    return list(headers)


def csv_bytes(frame: pl.DataFrame, plan: FilePlan) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(
        buffer,
        separator=plan.delimiter or ";",
        quote_style="always" if plan.quote_all else "necessary",
        line_terminator="\r\n" if plan.crlf else "\n",
        null_value="",
    )
    data = buffer.getvalue()
    if plan.encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data
    elif plan.encoding == "cp1252":
        data = data.decode("utf-8").encode("cp1252")
    return data


NUMERIC_KINDS = ("integer", "municipality")


def write_xlsx(frame: pl.DataFrame, plan: FilePlan, layout: Layout, path: Path, title: list[str]) -> None:
    """Per-municipality workbook: title rows, header, data. Typed styles write numbers and dates as cells."""
    kinds = {c.header: c.kind for c in layout.columns}
    typed = plan.xlsx_style in ("typed", "serial")
    casts = []
    date_header = layout.column("mapped_on").header  # type: ignore[union-attr]
    if typed:
        for header in frame.columns:
            kind = kinds.get(header, "flags" if header not in plan.extras else "text")
            numeric = kind in NUMERIC_KINDS or kind == "code:substance_level"
            if layout.name == "v1" and kind not in ("text", "date"):
                numeric = True  # v1 codes are numbers
            if kind == "agency" and layout.name in ("v1", "v3"):
                numeric = True
            if header == layout.column("registration_id").header and layout.name in ("v1", "v2"):  # type: ignore[union-attr]
                numeric = True
            if numeric:
                casts.append(pl.col(header).cast(pl.Int64, strict=False))
        fmt = "%Y-%m-%d" if layout.name == "v3" else "%d.%m.%Y"
        if plan.xlsx_style == "typed":
            casts.append(pl.col(date_header).str.strptime(pl.Date, fmt))
        else:
            serial = (pl.col(date_header).str.strptime(pl.Date, fmt) - pl.date(1899, 12, 30)).dt.total_days()
            casts.append(serial.alias(date_header))
    if casts:
        frame = frame.with_columns(casts)
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            # per-municipality files are small: in memory avoids temporary files (slow to create and remove);
            # large ones stream row by row
            "in_memory": frame.height <= 20000,
            "constant_memory": frame.height > 20000,
            "default_date_format": "dd.mm.yyyy",
            "strings_to_numbers": False,
        },
    )
    created = datetime(plan.delivered_on.year, plan.delivered_on.month, plan.delivered_on.day, 12, 0, 0)
    workbook.set_properties({"created": created, "author": "BrukerPlan (synthetic)"})
    sheet = workbook.add_worksheet(plan.sheet or "Ark1")
    row = 0
    for text in title:
        if text:
            sheet.write_string(row, 0, text)
        row += 1
    sheet.write_row(row, 0, styled_headers(frame.columns, plan))
    row += 1
    write_row = sheet.write_row
    for values in frame.iter_rows():
        write_row(row, 0, values)
        row += 1
    workbook.close()


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def title_rows(plan: FilePlan, municipality_name: str) -> list[str]:
    code = plan.scope[1:]
    lines = [
        f"BrukerPlan {plan.year} – {code} {municipality_name}",
        f"Uttrekk fra KORFOR {plan.delivered_on:%d.%m.%Y}",
        "",
    ]
    if plan.title_rows == 0:
        return []
    if plan.title_rows == 1:
        return lines[:1]
    if plan.title_rows == 2:
        return [lines[0], ""]
    return lines


@dataclass(frozen=True)
class XlsxJob:
    """An xlsx file to write in a worker process (xlsx writing is the slow part)."""

    frame: pl.DataFrame
    plan: FilePlan
    layout_name: str
    path: Path
    title: list[str]


def run_xlsx_job(job: XlsxJob) -> Written:
    from brukerplan.codes import load_codebook

    layout = load_codebook().layouts[job.layout_name]
    tmp = job.path.with_name(job.path.name + ".part")
    write_xlsx(job.frame, job.plan, layout, tmp, job.title)
    tmp.replace(job.path)
    digest, size = sha256_of(job.path)
    return Written(job.plan.name, job.path, job.frame.height, len(job.title) + 1, digest, size)


def write_file(
    encoded: pl.DataFrame, plan: FilePlan, layout: Layout, book: CodeBook, out_dir: Path, names: dict[str, str]
) -> Written | XlsxJob:
    """Write one csv file from its encoded rows (this file's rows only); for xlsx return the job to run."""
    seed = int(hashlib.sha256(plan.name.encode()).hexdigest()[:6], 16)
    frame = _file_frame(encoded, plan, layout, book, seed)
    path = out_dir / plan.name
    if plan.fmt == "xlsx":
        return XlsxJob(frame, plan, layout.name, path, title_rows(plan, names.get(plan.scope[1:], "")))
    tmp = path.with_name(path.name + ".part")
    styled = frame.rename(dict(zip(frame.columns, styled_headers(frame.columns, plan), strict=True)))
    data = csv_bytes(styled, plan)
    tmp.write_bytes(data)
    tmp.replace(path)
    return Written(plan.name, path, frame.height, 1, hashlib.sha256(data).hexdigest(), len(data))
