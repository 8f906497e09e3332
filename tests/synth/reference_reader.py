"""A small, independent reader of the extract format (tests only) and the warehouse rules 1, 3 and 4, used to
check that the generator's files say exactly what its ground truth claims. It follows extract-format.md and
warehouse.md directly and shares nothing with the generator except the code book."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from brukerplan.codes import CodeBook, Layout, normalise
from tests.support import AREAS

NAME = re.compile(r"^BP(\d{4})_(K\d{4}|F\d{2}|NO)_(\d{8})(?:_(\d{1,2}))?\.(xlsx|csv)$", re.IGNORECASE)


def decode_bytes(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252"), "cp1252"


def sniff_delimiter(first_line: str) -> str:
    return max((";", ",", "\t"), key=first_line.count)


def read_raw(path: Path) -> tuple[pl.DataFrame, dict]:
    """All cells as text, header row located as extract-format.md §6 says (simplified: exact header match)."""
    info: dict = {}
    if path.suffix.lower() == ".csv":
        text, encoding = decode_bytes(path.read_bytes())
        delimiter = sniff_delimiter(text.splitlines()[0])
        info.update(encoding=encoding, delimiter=delimiter)
        frame = pl.read_csv(io.StringIO(text), separator=delimiter, infer_schema=False)
        return frame, info
    raw = pl.read_excel(path, sheet_id=1, has_header=False, infer_schema_length=0)
    for i, row in enumerate(raw.iter_rows()):
        values = [v for v in row if v is not None]
        if len(values) > 5:
            header = [str(v) if v is not None else f"_blank{j}" for j, v in enumerate(row)]
            body = raw.slice(i + 1)
            body.columns = header
            info["header_index"] = i
            return body, info
    raise ValueError(f"{path.name}: no header row")


def _date(value: str | None) -> date | None:
    if value is None or value.strip() == "":
        return None
    v = value.strip()
    if re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", v):
        d, m, y = v.split(".")
        return date(int(y), int(m), int(d))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00:00)?", v):
        return date.fromisoformat(v[:10])
    if re.fullmatch(r"\d+(\.0)?", v):  # Excel serial number (only written in xlsx)
        return date(1899, 12, 30) + timedelta(days=int(float(v)))
    raise ValueError(f"unparsable date {value!r}")


def _int(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    return int(float(value))


def canonical(path: Path, book: CodeBook) -> pl.DataFrame:
    """Read one extract file into canonical columns (services as sorted lists, null = unknown)."""
    match = NAME.match(path.name)
    assert match, f"file name does not follow §1: {path.name}"
    year, scope, delivered, seq = int(match[1]), match[2].upper(), match[3], int(match[4] or 0)
    raw, _ = read_raw(path)
    headers = {normalise(h): h for h in raw.columns}
    layout: Layout = book.layout_for_year(year)
    rows = raw.to_dicts()
    out = []
    for row in rows:
        if all(v is None or str(v).strip() == "" for v in row.values()):
            continue

        def cell(header: str, _row: dict = row) -> str | None:
            h = headers.get(normalise(header))
            if h is None:
                return None
            v = _row[h]
            return None if v is None or str(v).strip() == "" else str(v).strip()

        rec: dict = {"source_file": path.name, "mapping_year": year, "scope": scope, "layout": layout.name}
        rec["delivered_on"] = date(int(delivered[:4]), int(delivered[4:6]), int(delivered[6:]))
        rec["delivery_seq"] = seq
        for col in layout.columns:
            value = cell(col.header)
            c = col.canonical
            if col.kind == "text":
                if value is not None and re.fullmatch(r"\d+\.0", value):
                    value = value[:-2]
                rec[c] = value.lower() if (c == "person_id" and value) else value
            elif col.kind == "municipality":
                rec[c] = value.split(".")[0].zfill(4) if value else (scope[1:] if scope.startswith("K") else None)
            elif col.kind == "agency":
                v = value.split(".")[0] if value and re.fullmatch(r"\d+(\.0)?", value) else value
                v = v.zfill(2) if v and v.isdigit() else v
                rec[c] = book.lookup("agency", layout.name, v) if v else None
            elif col.kind == "date":
                rec[c] = _date(value)
            elif col.kind == "integer":
                rec[c] = _int(value)
            elif col.kind in ("colour", "index"):
                list_name = "colour" if col.kind == "colour" else "living_index"
                rec[c] = "unknown" if value is None else book.lookup(list_name, layout.name, value.split(".")[0])
            elif col.kind.startswith("code:"):
                list_name = col.kind.split(":", 1)[1]
                rec[c] = None if value is None else book.lookup(list_name, layout.name, value.split(".")[0])
            elif col.kind == "list":
                if value is None:
                    rec[c] = None
                elif normalise(value) == layout.list_none_token:
                    rec[c] = []
                else:
                    rec[c] = sorted(book.lookup("service", layout.name, p) for p in value.split(layout.list_separator))
        for const, value in layout.constants.items():
            rec[const] = value
        if layout.service_kind == "flags":
            for which in ("received", "recommended"):
                cells = [(sc.service_code, cell(sc.header)) for sc in layout.service_columns if sc.which == which]
                if all(v is None for _, v in cells):
                    rec[f"services_{which}"] = None
                else:
                    rec[f"services_{which}"] = sorted(
                        code
                        for code, v in cells
                        if v is not None and book.lookup("yes_no", layout.name, v.split(".")[0]) == "true"
                    )
        out.append(rec)
    schema_overrides = {"services_received": pl.List(pl.String), "services_recommended": pl.List(pl.String)}
    return pl.DataFrame(out, schema_overrides=schema_overrides, infer_schema_length=None)


def apply_rules(regs: pl.DataFrame, submission_ids: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Rule 1 (current delivery), rule 3 (de-duplication), rule 4 (user group) -> (kept, dropped, all rows)."""
    regs = regs.with_columns(
        pl.col("source_file").replace_strict(submission_ids).alias("submission_id"),
        pl.col("scope").str.slice(0, 1).replace_strict({"K": 2, "F": 1, "N": 0}).alias("narrow"),
    )
    latest = (
        regs.select("mapping_year", "municipality_code", "delivered_on", "delivery_seq", "narrow", "source_file")
        .unique()
        .sort(["delivered_on", "delivery_seq", "narrow"], descending=True)
        .group_by("mapping_year", "municipality_code", maintain_order=True)
        .first()
        .select("mapping_year", "municipality_code", pl.col("source_file").alias("current_file"))
    )
    regs = regs.join(latest, on=["mapping_year", "municipality_code"]).with_columns(
        (pl.col("source_file") == pl.col("current_file")).alias("is_current")
    )
    current = regs.filter("is_current")
    completeness = sum((pl.col(f"area_{a}") != "unknown").cast(pl.Int32) for a in AREAS) + (
        pl.col("living_index") != "unknown"
    ).cast(pl.Int32)
    completeness = (
        completeness
        + pl.col("services_received").is_not_null().cast(pl.Int32)
        + pl.col("services_recommended").is_not_null().cast(pl.Int32)
    )
    current = current.with_columns(completeness.alias("completeness"))
    ordered = current.sort(
        [
            "completeness",
            "mapped_on",
            "agency_code",
            "delivered_on",
            "delivery_seq",
            "registration_id",
            "submission_id",
        ],
        descending=[True, True, False, False, False, False, False],
    )
    ranked = ordered.with_columns(pl.int_range(pl.len()).over("mapping_year", "person_id").alias("rank"))
    kept = ranked.filter(pl.col("rank") == 0)
    dropped = ranked.filter(pl.col("rank") > 0).join(
        kept.select(
            "mapping_year",
            "person_id",
            pl.col("completeness").alias("k_completeness"),
            pl.col("mapped_on").alias("k_mapped_on"),
            pl.col("agency_code").alias("k_agency_code"),
            pl.col("registration_id").alias("kept_registration_id"),
            pl.col("source_file").alias("kept_file"),
            pl.col("municipality_code").alias("kept_municipality_code"),
        ),
        on=["mapping_year", "person_id"],
    )
    dropped = dropped.with_columns(
        pl.when(pl.col("completeness") != pl.col("k_completeness"))
        .then(pl.lit("completeness"))
        .when(pl.col("mapped_on") != pl.col("k_mapped_on"))
        .then(pl.lit("date"))
        .when(pl.col("agency_code") != pl.col("k_agency_code"))
        .then(pl.lit("agency"))
        .otherwise(pl.lit("delivery_or_id"))
        .alias("deciding_tiebreak"),
        (pl.col("municipality_code") != pl.col("kept_municipality_code")).alias("is_cross_municipality"),
    )
    mh, su = pl.col("area_mental_health"), pl.col("area_substance_use")
    serious = ((su == "red") & mh.is_in(["red", "yellow"])) | ((su == "yellow") & (mh == "red"))
    group = (
        pl.when(pl.col("target_group") == "mental")
        .then(pl.lit("mental"))
        .when(mh == "unknown")
        .then(pl.lit("rus_mental_unknown"))
        .when(mh == "green")
        .then(pl.lit("rus_only"))
        .when(serious)
        .then(pl.lit("rop_serious"))
        .otherwise(pl.lit("rop_less_serious"))
    )
    kept = kept.with_columns(group.alias("user_group"))
    return kept, dropped, regs
