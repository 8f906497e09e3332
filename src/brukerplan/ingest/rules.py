"""Row rules: each row gets the lowest rule it breaks (§6 "one rule per row"); rejected rows get a message in plain
words that names file, sheet, row, column, value and reason. Produces the landing tables of each file of a batch
as Arrow: the registrations of all files are built at once and cut into one slice per file."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from brukerplan.ingest.batch import FILE, ROW, FileCells, extra_column, header_label
from brukerplan.ingest.contract import registrations_schema, rejects_schema
from brukerplan.ingest.mapping import Mapped


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


def _ints(values: np.ndarray) -> pa.Array:
    """A numpy integer array as Arrow, without pa.array (which imports pandas, ~1 s: the main process never
    needs it otherwise)."""
    values = np.ascontiguousarray(values, dtype=np.int32 if values.dtype == np.int32 else np.int64)
    kind = pa.int32() if values.dtype == np.int32 else pa.int64()
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _strings(values: list[str | None]) -> pa.Array:
    """Python strings as Arrow, without pa.array (see _ints)."""
    return pl.Series(values, dtype=pl.String).to_arrow().cast(pa.string())


def _map_array(
    frame: pl.DataFrame, columns: list[str], labels: list[list[str | None]], files: pl.Series
) -> pa.MapArray:
    """A map<string,string> per row of `frame`: the (key, value) pairs of `columns` whose value is not null, in
    column order. The key of column k in a row is `labels[f][k]`, f being the row's file (`files`).

    Built from Arrow buffers with numpy: polars' list-of-struct expressions cost ~8 µs a row here."""
    n, width = frame.height, len(columns)
    if width == 0:
        return pa.MapArray.from_arrays(_ints(np.zeros(n + 1, dtype=np.int32)), _strings([]), _strings([]))
    present = frame.select(pl.col(c).is_not_null() for c in columns).to_numpy()
    rows, positions = np.nonzero(present)  # row-major: by row, then by column
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    table = frame.select(columns).to_arrow()
    values = pa.concat_arrays([table.column(c).combine_chunks().cast(pa.string()) for c in columns])
    cells = values.take(_ints(positions * n + rows))
    flat = [labels[f][k] if k < len(labels[f]) else None for f in range(len(labels)) for k in range(width)]
    keys = _strings(flat).take(_ints(files.to_numpy()[rows].astype(np.int64) * width + positions))
    return pa.MapArray.from_arrays(_ints(offsets), keys, cells)


def _landing_table(
    frame: pl.DataFrame,
    schema: pa.Schema,
    lineage: dict[str, pl.Expr],
    cells: tuple[str, pa.Array],
    mapped: Collection[str],
    other: Callable[[pa.Field], pl.Expr],
) -> pa.Table:
    """The rows of `frame` as a landing table of the contract, column by column in the contract's order: the lineage
    columns, `cells` (the name and array of the map of cells by header), the mapped values v_<name> of the columns
    in `mapped`, and `other(field)` for the rest."""
    cells_name, cells_array = cells
    columns = []
    for fld in schema:
        if fld.name in lineage:
            column = lineage[fld.name]
        elif fld.name in mapped:
            column = pl.col(f"v_{fld.name}")
        elif fld.name != cells_name:
            column = other(fld)
        else:
            continue
        columns.append(column.alias(fld.name))
    source = frame.select(columns).to_arrow()
    arrays = [cells_array if fld.name == cells_name else source.column(fld.name).cast(fld.type) for fld in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _lineage(file: FileCells) -> dict[str, pl.Expr]:
    """The lineage columns of one file's rows."""
    name, sheet = file.name, file.sheet
    return {
        "submission_id": pl.lit(file.submission_id),
        "mapping_year": pl.lit(name.year, dtype=pl.Int16),
        "source_file": pl.lit(name.original),
        "source_sheet": pl.lit(sheet.sheet, dtype=pl.String),
        "source_row": pl.col(ROW),
        "layout": pl.lit(sheet.layout),
        "delivered_on": pl.lit(name.delivered_on, dtype=pl.Date),
        "delivery_seq": pl.lit(name.seq, dtype=pl.Int16),
        "ingested_at": pl.lit(file.ingested_at, dtype=pl.Datetime("us", "UTC")),
    }


def _batch_lineage(files: list[FileCells]) -> dict[str, pl.Expr]:
    """The lineage columns of the rows of a batch: each file's values, picked by the row's file."""

    def per_file(values: list, dtype: pl.DataType) -> pl.Expr:
        return pl.lit(pl.Series(values, dtype=dtype)).gather(pl.col(FILE))

    return {
        "submission_id": per_file([f.submission_id for f in files], pl.String),
        "mapping_year": per_file([f.name.year for f in files], pl.Int16),
        "source_file": per_file([f.name.original for f in files], pl.String),
        "source_sheet": per_file([f.sheet.sheet for f in files], pl.String),
        "source_row": pl.col(ROW),
        "layout": per_file([f.sheet.layout for f in files], pl.String),
        "delivered_on": per_file([f.name.delivered_on for f in files], pl.Date),
        "delivery_seq": per_file([f.name.seq for f in files], pl.Int16),
        "ingested_at": per_file([f.ingested_at for f in files], pl.Datetime("us", "UTC")),
    }


def _batch_extra(landed: pl.DataFrame, files: list[FileCells]) -> pa.MapArray:
    """The `extra` map of each row: the non-blank cells of its file's unmapped columns, keyed by their headers."""
    width = max((len(f.extra) for f in files), default=0)
    labels = [[header_label(f.sheet.headers[i], i) for i in f.extra] for f in files]
    return _map_array(landed, [extra_column(k) for k in range(width)], labels, landed.get_column(FILE))


def apply_rules(mapped: Mapped) -> list[Outcome]:
    """The outcome of each file of the batch, in the order of `mapped.files`."""
    frame = mapped.frame
    files = mapped.files
    n_checks = len(mapped.checks)
    # index of the first failing check (checks are in rule order), null when the row breaks none
    rule_index = (
        pl.coalesce([pl.when(pl.col(f"chk{i}")).then(pl.lit(i, dtype=pl.UInt32)) for i in range(n_checks)])
        if n_checks
        else pl.lit(None, dtype=pl.UInt32)
    )
    frame = frame.with_columns(rule_index.alias("_check"))
    landed = frame.filter(pl.col("_check").is_null())
    registrations = _landing_table(
        landed,
        registrations_schema(),
        _batch_lineage(files),
        ("extra", _batch_extra(landed, files)),
        mapped.canonical,
        lambda fld: pl.lit(None, dtype=pl.List(pl.String) if str(fld.type).startswith("list") else pl.String),
    )
    landed_counts = np.bincount(landed.get_column(FILE).to_numpy(), minlength=len(files))
    covered: list[set[str]] = [set() for _ in files]
    for index, code in landed.select(FILE, "v_municipality_code").drop_nulls().unique().iter_rows():
        covered[index].add(code)
    rejected = frame.filter(pl.col("_check").is_not_null())
    by_file = rejected.partition_by(FILE, as_dict=True, maintain_order=True) if rejected.height else {}
    outcomes = []
    offset = 0
    for index, file in enumerate(files):
        count = int(landed_counts[index])
        rows = by_file.get((index,))
        outcomes.append(
            Outcome(
                registrations.slice(offset, count),
                _rejects(mapped, file, rows) if rows is not None else pa.Table.from_batches([], rejects_schema()),
                mapped.rows[index],
                sorted(covered[index]),
            )
        )
        offset += count
    return outcomes


def _rejects(mapped: Mapped, file: FileCells, rejected: pl.DataFrame) -> pa.Table:
    """The rejects table of one file: every rejected row with its lowest rule, message and raw cells."""
    checks = [spec.render(file) for spec in mapped.checks]
    others = (
        pl.concat_list([pl.when(pl.col(f"chk{i}")).then(pl.lit(c.rule)) for i, c in enumerate(checks)])
        .list.drop_nulls()
        .list.unique(maintain_order=True)
        if checks
        else pl.lit(None, dtype=pl.List(pl.String))
    )
    base = rejected.with_columns(others.alias("_rules"))
    rows = base.select(ROW, "_check", "_rules", *file.columns).rows()
    position = {column: 3 + i for i, column in enumerate(file.columns)}
    rule_ids, column_names, values, messages = [], [], [], []
    name, place = file.name, file.place
    for row in rows:
        source_row, check_index, rules = row[0], row[1], row[2]
        check = checks[check_index]
        value = row[position[check.source]] if check.source else None
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
    labels = [[header_label(header, i) for i, header in enumerate(file.sheet.headers)]]
    raw = _map_array(base, file.columns, labels, pl.Series(np.zeros(base.height, dtype=np.int64)))
    return _landing_table(
        pl.concat([base, extra], how="horizontal"),
        rejects_schema(),
        _lineage(file),
        ("raw", raw),
        ("registration_id", "person_id", "municipality_code"),
        lambda fld: pl.col(fld.name),
    )
