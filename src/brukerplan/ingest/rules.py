"""Row rules: each row gets the lowest rule it breaks (§6 "one rule per row"); rejected rows get a message in plain
words that names file, sheet, row, column, value and reason. Produces the landing tables as Arrow."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
import pyarrow as pa

from brukerplan.ingest.contract import registrations_schema, rejects_schema
from brukerplan.ingest.filenames import ExtractName
from brukerplan.ingest.mapping import Mapped
from brukerplan.ingest.readers import RawSheet


@dataclass
class Outcome:
    registrations: pa.Table
    rejects: pa.Table
    rows_read: int
    municipalities_covered: list[str]

    @property
    def rows_landed(self) -> int:
        return self.registrations.num_rows

    @property
    def rows_rejected(self) -> int:
        return self.rejects.num_rows


def _header_label(header: str | None, index: int) -> str:
    return header if header is not None else f"(column {index + 1})"


def _map_expr(columns: list[int], headers: list[str | None]) -> pl.Expr:
    if not columns:
        return pl.lit(None, dtype=pl.List(pl.Struct({"key": pl.String, "value": pl.String})))
    items = [
        pl.struct(pl.lit(_header_label(headers[i], i)).alias("key"), pl.col(f"c{i}").alias("value")) for i in columns
    ]
    return pl.concat_list(items).list.eval(pl.element().filter(pl.element().struct.field("value").is_not_null()))


def _as_map(column: pa.ChunkedArray | pa.Array, length: int) -> pa.Array:
    """list<struct<key,value>> (from polars) -> map<string,string>; null lists become empty maps."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count == length:
        return pa.MapArray.from_arrays(
            pa.array(np.zeros(length + 1, dtype=np.int32)), pa.array([], pa.string()), pa.array([], pa.string())
        )
    offsets = np.asarray(arr.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    child = arr.flatten()
    offsets = (offsets - offsets[0]).astype(np.int32)
    keys = child.field("key").cast(pa.string())
    values = child.field("value").cast(pa.string())
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values)


def _landing_table(
    frame: pl.DataFrame,
    schema: pa.Schema,
    lineage: dict[str, pl.Expr],
    cells: tuple[str, pl.Expr],
    mapped: Collection[str],
    other: Callable[[pa.Field], pl.Expr],
) -> pa.Table:
    """The rows of `frame` as a landing table of the contract, column by column in the contract's order: the lineage
    columns, `cells` (the name and expression of the map of cells by header), the mapped values v_<name> of the
    columns in `mapped`, and `other(field)` for the rest."""
    cells_name, cells_expr = cells
    columns = []
    for fld in schema:
        if fld.name in lineage:
            column = lineage[fld.name]
        elif fld.name == cells_name:
            column = cells_expr
        elif fld.name in mapped:
            column = pl.col(f"v_{fld.name}")
        else:
            column = other(fld)
        columns.append(column.alias(fld.name))
    source = frame.select(columns).to_arrow()
    arrays = [
        _as_map(source.column(fld.name), frame.height)
        if fld.name == cells_name
        else source.column(fld.name).cast(fld.type)
        for fld in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def apply_rules(
    mapped: Mapped, sheet: RawSheet, name: ExtractName, submission_id: str, ingested_at: datetime
) -> Outcome:
    frame = mapped.frame
    n_checks = len(mapped.checks)
    flags = [pl.col(f"chk{i}") for i in range(n_checks)]
    # index of the first failing check (checks are in rule order), null when the row breaks none
    rule_index = (
        pl.when(pl.any_horizontal(flags)).then(pl.concat_list(flags).list.arg_max()).otherwise(None)
        if n_checks
        else pl.lit(None, dtype=pl.UInt32)
    )
    frame = frame.with_columns(rule_index.alias("_check"))
    lineage = {
        "submission_id": pl.lit(submission_id),
        "mapping_year": pl.lit(name.year, dtype=pl.Int16),
        "source_file": pl.lit(name.original),
        "source_sheet": pl.lit(sheet.sheet, dtype=pl.String),
        "source_row": pl.col("_row"),
        "layout": pl.lit(sheet.layout),
        "delivered_on": pl.lit(name.delivered_on, dtype=pl.Date),
        "delivery_seq": pl.lit(name.seq, dtype=pl.Int16),
        "ingested_at": pl.lit(ingested_at, dtype=pl.Datetime("us", "UTC")),
    }
    landed = frame.filter(pl.col("_check").is_null())
    registrations = _landing_table(
        landed,
        registrations_schema(),
        lineage,
        ("extra", _map_expr(mapped.extra_sources, mapped.headers)),
        mapped.canonical,
        lambda fld: pl.lit(None, dtype=pl.List(pl.String) if str(fld.type).startswith("list") else pl.String),
    )

    rejected = frame.filter(pl.col("_check").is_not_null())
    rejects = _rejects(mapped, rejected, sheet, name, lineage)
    covered = sorted(set(landed.get_column("v_municipality_code").drop_nulls().unique().to_list()))
    return Outcome(registrations, rejects, frame.height, covered)


def _rejects(mapped: Mapped, rejected: pl.DataFrame, sheet: RawSheet, name: ExtractName, lineage: dict) -> pa.Table:
    if rejected.height == 0:
        return rejects_schema().empty_table()
    checks = mapped.checks
    all_columns = list(range(len(mapped.headers)))
    others = (
        pl.concat_list([pl.when(pl.col(f"chk{i}")).then(pl.lit(c.rule)) for i, c in enumerate(checks)])
        .list.drop_nulls()
        .list.unique(maintain_order=True)
        if checks
        else pl.lit(None, dtype=pl.List(pl.String))
    )
    base = rejected.with_columns(others.alias("_rules"))
    rows = base.select("_row", "_check", "_rules", *[f"c{i}" for i in all_columns]).rows()
    rule_ids, column_names, values, messages = [], [], [], []
    place = name.original + (f", sheet {sheet.sheet}" if sheet.sheet else "")
    for row in rows:
        source_row, check_index, rules = row[0], row[1], row[2]
        check = checks[check_index]
        value = row[3 + int(check.source[1:])] if check.source else None
        if check.header is None and check.source is None:
            column_text = f"municipality from the file scope {name.scope}"
            value = name.scope_code
        else:
            column_text = f"column '{check.header}'"
        if value is None:
            text = f"{place}, row {source_row}, {column_text} {check.reason}"
        else:
            text = f"{place}, row {source_row}, {column_text}: value '{value}' {check.reason}"
        also = [r for r in rules if r != check.rule]
        if also:
            text += f" (the row also breaks {', '.join(also)})"
        rule_ids.append(check.rule)
        column_names.append(check.header)
        values.append(value)
        messages.append(text)
    extra = pl.DataFrame(
        {"rule_id": rule_ids, "column_name": column_names, "value": values, "message": messages},
        schema={"rule_id": pl.String, "column_name": pl.String, "value": pl.String, "message": pl.String},
    )
    return _landing_table(
        pl.concat([base, extra], how="horizontal"),
        rejects_schema(),
        lineage,
        ("raw", _map_expr(all_columns, mapped.headers)),
        ("registration_id", "person_id", "municipality_code"),
        lambda fld: pl.col(fld.name),
    )
