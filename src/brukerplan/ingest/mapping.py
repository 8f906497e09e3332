"""Mapping: one declarative pass from a layout's headers and codes (codes.load_codebook, ingest/layouts.yaml,
seeds/codes/*.csv) to canonical typed columns, plus one boolean check column per row rule and source column.

Everything is a vectorised polars expression; no Python loop over rows. The checks are listed in rule order
(R01 … R07, then column order), so the first failing check of a row is the rule it is rejected under."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from brukerplan.codes import CodeBook, ColumnSpec, Layout, normalise
from brukerplan.ingest.errors import Quarantine
from brukerplan.ingest.filenames import ExtractName
from brukerplan.ingest.readers import RawSheet

MIN_AGE, MAX_AGE = 16, 105
MAX_CHILDREN = 20
PERSON_ID_PATTERN = r"^[0-9a-f]{16}$"
RULE_ORDER = ("R01", "R02", "R03", "R04", "R05", "R06", "R07")


@dataclass(frozen=True)
class Check:
    """One way a row can break a rule: `chk<i>` is true when it does."""

    rule: str
    header: str | None  # column header as in the file (None: the file scope)
    source: str | None  # text column c<i> holding the value
    reason: str  # plain words, completing "value 'x' …"


@dataclass
class Mapped:
    frame: pl.DataFrame  # _row, canonical columns v_<name>, checks chk<i>, text columns c<i>
    checks: list[Check]
    canonical: list[str]  # canonical column names present as v_<name>
    headers: list[str | None]  # header per text column
    extra_sources: list[int] = field(default_factory=list)  # text columns no layout maps


def _trim(expr: pl.Expr) -> pl.Expr:
    trimmed = expr.str.strip_chars()
    return pl.when(trimmed == "").then(None).otherwise(trimmed)


def pad_digits(value: str, width: int) -> str:
    """An all-digit code shorter than its width is zero-padded (§6)."""
    value = value.strip()
    return value.zfill(width) if value.isdigit() and len(value) < width else value


def parse_integer(value: str) -> int | None:
    """Whole numbers only ('1980', or '1980.0' from a typed cell); anything else is None."""
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def parse_text_date(value: str) -> date | None:
    """dd.mm.yyyy or yyyy-mm-dd text (§6), accepted in every layout; an all-digit text is not a date."""
    text = value.strip()
    for pattern, fmt in ((DOTTED, "%d.%m.%Y"), (ISO, "%Y-%m-%d")):
        if pattern.match(text):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                return None
    return None


DOTTED = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")
ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


def _describe(book: CodeBook, code_list: str, layout: str) -> str:
    raws = list(dict.fromkeys(book.values.get((code_list, layout), {}).keys()))
    return "/".join(raws)


@dataclass
class _Builder:
    book: CodeBook
    layout: Layout
    name: ExtractName
    in_force: frozenset[str]
    sheet: RawSheet
    source_of: dict[str, int]
    values: dict[str, pl.Expr] = field(default_factory=dict)
    checks: list[tuple[Check, pl.Expr]] = field(default_factory=list)
    _distinct: dict[str, list[str]] | None = None

    def distinct(self, column: str) -> list[str]:
        """Distinct non-null texts of a column; computed for every mapped column in one pass."""
        if self._distinct is None:
            columns = [f"c{i}" for i in sorted(set(self.source_of.values()))]
            frame = self.sheet.data.select([pl.col(c).unique().drop_nulls().implode() for c in columns])
            self._distinct = {c: frame.get_column(c)[0].to_list() for c in columns}
        return self._distinct.get(column, [])

    def header(self, canonical: str) -> str | None:
        idx = self.source_of.get(canonical)
        return self.sheet.headers[idx] if idx is not None else None

    def col(self, canonical: str) -> pl.Expr:
        idx = self.source_of.get(canonical)
        return pl.col(f"c{idx}") if idx is not None else pl.lit(None, dtype=pl.String)

    def check(self, rule: str, canonical: str | None, reason: str, expr: pl.Expr, idx: int | None = None) -> None:
        if canonical is not None and idx is None:
            idx = self.source_of.get(canonical)
        header = self.sheet.headers[idx] if idx is not None else None
        source = f"c{idx}" if idx is not None else None
        self.checks.append((Check(rule, header, source, reason), expr.fill_null(False)))

    def translate(self, idx: int | None, parse: Callable[[str], object], dtype: pl.DataType) -> pl.Expr:
        """Parse each distinct text of a column once in Python and map the column with the result: codes, dates
        and numbers have few distinct values, so this is a hash lookup per row. Unparsable -> null."""
        if idx is None:
            return pl.lit(None, dtype=dtype)
        column = f"c{idx}"
        distinct = self.distinct(column)
        mapping = {raw: parsed for raw in distinct if (parsed := parse(raw)) is not None}
        if not mapping:
            return pl.lit(None, dtype=dtype)
        return pl.col(column).replace_strict(mapping, default=None, return_dtype=dtype)

    def lookup(self, code_list: str, idx: int | None, width: int | None = None) -> pl.Expr:
        codes = self.book.values.get((code_list, self.layout.name), {})

        def parse(raw: str) -> str | None:
            return codes.get(normalise(pad_digits(raw, width) if width else raw))

        return self.translate(idx, parse, pl.String)

    def code(self, spec: ColumnSpec, code_list: str, blank: str | None = None, required: bool = False) -> pl.Expr:
        raw = self.col(spec.canonical)
        value = self.lookup(code_list, self.source_of.get(spec.canonical))
        allowed = _describe(self.book, code_list, self.layout.name)
        what = spec.canonical.replace("_", " ")
        self.check(
            "R04",
            spec.canonical,
            f"is not a valid {what} (expected {allowed} in layout {self.layout.name})",
            raw.is_not_null() & value.is_null(),
        )
        if required:
            self.check("R04", spec.canonical, f"is blank, but {what} is required", raw.is_null())
        if blank is not None:
            value = pl.when(raw.is_null()).then(pl.lit(blank)).otherwise(value)
        return value


def resolve_columns(sheet: RawSheet, layout: Layout, name: ExtractName) -> dict[str, int]:
    """canonical column (or service header key) -> text column index; Q03 when a required column is missing."""
    index: dict[str, int] = {}
    for i, header in enumerate(sheet.headers):
        if header is not None:
            index.setdefault(normalise(header), i)
    source_of: dict[str, int] = {}
    missing = []
    for spec in layout.columns:
        idx = index.get(normalise(spec.header))
        if idx is not None:
            source_of[spec.canonical] = idx
        elif spec.required and not (spec.optional_for_municipal_scope and name.scope_type == "municipality"):
            missing.append(spec.header)
    for service in layout.service_columns:
        idx = index.get(normalise(service.header))
        if idx is not None:
            source_of[f"{service.which}:{service.service_code}"] = idx
    if missing:
        listed = ", ".join(f"'{h}'" for h in missing)
        raise Quarantine(
            "Q03",
            f"{name.original}{', ' + sheet.where if sheet.where else ''}: layout {layout.name} recognised in row "
            f"{sheet.header_row}, but required column(s) {listed} missing",
            {"missing": missing, "header_row": sheet.header_row},
        )
    return source_of


def map_sheet(sheet: RawSheet, layout: Layout, name: ExtractName, book: CodeBook, in_force: frozenset[str]) -> Mapped:
    source_of = resolve_columns(sheet, layout, name)
    b = _Builder(book, layout, name, in_force, sheet, source_of)
    year = name.year
    v: dict[str, pl.Expr] = {}

    # R01 identifiers
    reg = _trim(b.col("registration_id"))
    pid = _trim(b.col("person_id")).str.to_lowercase()
    v["registration_id"], v["person_id"] = reg, pid
    b.check("R01", "registration_id", "is missing (a registration id is required)", reg.is_null())
    b.check("R01", "person_id", "is missing (a person pseudonym is required)", pid.is_null())
    b.check(
        "R01",
        "person_id",
        "is not a person pseudonym of 16 hexadecimal characters",
        pid.is_not_null() & ~pid.str.contains(PERSON_ID_PATTERN),
    )

    # R02 municipality
    if "municipality_code" in source_of:
        muni = b.translate(source_of["municipality_code"], lambda raw: pad_digits(raw, 4) or None, pl.String)
    else:  # v1 per-municipality file without Kommunenr: the scope gives it
        muni = pl.lit(name.scope_code, dtype=pl.String)
    v["municipality_code"] = muni
    b.check("R02", "municipality_code", "is missing (a municipality code is required)", muni.is_null())
    b.check(
        "R02",
        "municipality_code",
        f"is not a municipality code in force on 1 January {year}",
        muni.is_not_null() & ~muni.is_in(sorted(in_force)),
    )
    if name.scope_type == "municipality":
        b.check(
            "R02",
            "municipality_code",
            f"differs from the file's scope {name.scope} (a municipal file holds only municipality {name.scope_code})",
            muni.is_not_null() & (muni != name.scope_code),
        )
    elif name.scope_type == "county":
        b.check(
            "R02",
            "municipality_code",
            f"is not in county {name.scope_code} (the file's scope {name.scope})",
            muni.is_not_null() & (muni.str.slice(0, 2) != name.scope_code),
        )

    # R03 birth year
    birth_raw = b.col("birth_year")
    birth = b.translate(source_of.get("birth_year"), parse_integer, pl.Int64)
    v["birth_year"] = birth
    b.check("R03", "birth_year", "is missing (a birth year is required)", birth_raw.is_null())
    b.check("R03", "birth_year", "is not a whole year", birth_raw.is_not_null() & birth.is_null())
    age = pl.lit(year) - birth
    b.check(
        "R03",
        "birth_year",
        f"gives an age in {year} outside {MIN_AGE}-{MAX_AGE}",
        birth.is_not_null() & ((age < MIN_AGE) | (age > MAX_AGE)),
    )

    # R04 codes, in layout column order
    for spec in layout.columns:
        c = spec.canonical
        if spec.kind == "agency":
            raw = b.col(c)
            value = b.lookup("agency", source_of.get(c), width=2)
            allowed = _describe(book, "agency", layout.name)
            b.check(
                "R04",
                c,
                f"is not a valid agency (expected {allowed} in layout {layout.name})",
                raw.is_not_null() & value.is_null(),
            )
            b.check("R04", c, "is blank, but the agency is required", raw.is_null())
            v[c] = value
        elif spec.kind == "colour":
            v[c] = b.code(spec, "colour", blank="unknown")
        elif spec.kind == "index":
            v[c] = b.code(spec, "living_index", blank="unknown")
        elif spec.kind.startswith("code:"):
            code_list = spec.kind.split(":", 1)[1]
            value = b.code(spec, code_list, required=c in ("sex", "target_group"))
            if code_list == "yes_no":
                value = value == "true"
            elif code_list == "substance_level":
                value = value.cast(pl.Int8)
            v[c] = value
        elif spec.kind == "integer" and c == "n_children":
            raw = b.col(c)
            n = b.translate(source_of.get(c), parse_integer, pl.Int64)
            b.check(
                "R04",
                c,
                f"is not a number of children between 0 and {MAX_CHILDREN}",
                raw.is_not_null() & (n.is_null() | (n < 0) | (n > MAX_CHILDREN)),
            )
            v[c] = pl.when((n >= 0) & (n <= MAX_CHILDREN)).then(n).otherwise(None)
        elif spec.kind == "list":
            v[c] = _service_list(b, spec)
    for constant, value in layout.constants.items():
        v[constant] = pl.lit(value, dtype=pl.String)
    if layout.service_kind == "flags":
        for which in ("received", "recommended"):
            v[f"services_{which}"] = _service_flags(b, which)

    # R05 mapping date
    date_raw = b.col("mapped_on")
    mapped_on = b.translate(source_of.get("mapped_on"), parse_text_date, pl.Date)
    if "mapped_on" in source_of and sheet.typed_dates is not None:
        mapped_on = pl.coalesce(pl.col("_typed_date"), mapped_on)
    v["mapped_on"] = mapped_on
    b.check("R05", "mapped_on", "is missing (a mapping date is required)", date_raw.is_null())
    b.check(
        "R05",
        "mapped_on",
        "is not a date (expected dd.mm.yyyy or yyyy-mm-dd, or a date cell)",
        date_raw.is_not_null() & mapped_on.is_null(),
    )
    b.check(
        "R05",
        "mapped_on",
        f"is not in the mapping year {year}",
        mapped_on.is_not_null() & (mapped_on.dt.year() != year),
    )

    # R06 repeated registration id (every repeat after the first)
    b.check(
        "R06",
        "registration_id",
        "repeats a registration id already used earlier in the file",
        reg.is_not_null() & ~reg.is_first_distinct(),
    )

    # R07 contradictions
    if "pregnant" in v:
        b.check("R07", "pregnant", "says pregnant for a man", (v["pregnant"] == True) & (v["sex"] == "M"))  # noqa: E712
    if "n_children" in v and "has_children" in v:
        b.check(
            "R07",
            "n_children",
            f"is above 0 while '{b.header('has_children')}' says no children under 18",
            (v["n_children"] > 0) & (v["has_children"] == False),  # noqa: E712
        )

    frame = sheet.data
    if "mapped_on" in source_of and sheet.typed_dates is not None:
        frame = frame.with_columns(sheet.typed_dates(source_of["mapped_on"]).alias("_typed_date"))
    ordered = sorted(enumerate(b.checks), key=lambda item: (RULE_ORDER.index(item[1][0].rule), item[0]))
    checks = [check for _, (check, _) in ordered]
    exprs = [expr.alias(f"chk{i}") for i, (_, (_, expr)) in enumerate(ordered)]
    frame = frame.with_columns([expr.alias(f"v_{k}") for k, expr in v.items()] + exprs)
    mapped_sources = set(source_of.values())
    extra = [i for i, h in enumerate(sheet.headers) if i not in mapped_sources]
    return Mapped(frame, checks, list(v.keys()), list(sheet.headers), extra)


def _service_flags(b: _Builder, which: str) -> pl.Expr:
    """v1/v2: one yes/no column per service; unknown only when every cell of the set is blank (§6)."""
    codes, raws = [], []
    for service in b.layout.service_columns:
        if service.which != which:
            continue
        key = f"{which}:{service.service_code}"
        idx = b.source_of.get(key)
        raw = pl.col(f"c{idx}") if idx is not None else pl.lit(None, dtype=pl.String)
        flag = b.lookup("yes_no", idx)
        allowed = _describe(b.book, "yes_no", b.layout.name)
        b.check(
            "R04",
            None,
            f"is not a valid yes/no answer (expected {allowed} in layout {b.layout.name})",
            raw.is_not_null() & flag.is_null(),
            idx,
        )
        codes.append(pl.when(flag == "true").then(pl.lit(service.service_code)))
        raws.append(raw.is_not_null())
    if not codes:
        return pl.lit(None, dtype=pl.List(pl.String))
    listed = pl.concat_list(codes).list.drop_nulls()
    return pl.when(pl.any_horizontal(raws)).then(listed).otherwise(None)


def _service_list(b: _Builder, spec: ColumnSpec) -> pl.Expr:
    """v3: ';'-separated service codes; 'ingen' alone = none; blank = unknown; any other token (also 'ingen' among
    codes, or a list of separators only) is an unknown code, R04."""
    codes = b.book.values.get(("service", b.layout.name), {})
    none_token, separator = b.layout.list_none_token, b.layout.list_separator

    def parse(raw: str) -> str | None:
        tokens = [normalise(t) for t in raw.split(separator) if t.strip()]
        if tokens == [none_token]:
            return ""
        mapped = [codes.get(t) for t in tokens]
        if not tokens or None in mapped:
            return None
        return separator.join(dict.fromkeys(m for m in mapped if m is not None))

    raw = b.col(spec.canonical)
    joined = b.translate(b.source_of.get(spec.canonical), parse, pl.String)
    b.check(
        "R04",
        spec.canonical,
        f"holds a service code that is not in the list for layout {b.layout.name} "
        f"('{none_token}' may only stand alone)",
        raw.is_not_null() & joined.is_null(),
    )
    empty = pl.lit([], dtype=pl.List(pl.String))
    return pl.when(joined.is_null()).then(None).when(joined == "").then(empty).otherwise(joined.str.split(separator))
