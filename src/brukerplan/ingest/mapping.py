"""Mapping: one declarative pass from a layout's headers and codes (codes.load_codebook, ingest/layouts.yaml,
seeds/codes/*.csv) to canonical typed columns, plus one boolean check column per row rule and source column.

It maps a whole batch of files of one layout at once (`batch.stack`): what differs between the files (mapping
year, scope, which columns they have, their headers) is in columns of the batch or in `CheckSpec.render`, never in
the expressions. Everything is a vectorised polars expression; no Python loop over rows. Each distinct text of a
column is parsed once, in Python, into a lookup; those lookups are computed first as columns of their own, so the
checks and values that use them read a column instead of repeating the lookup. The checks are listed in rule order
(R01 … R07, then column order), so the first failing check of a row is the rule it is rejected under."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from brukerplan.codes import CodeBook, ColumnSpec, Layout, normalise
from brukerplan.ingest.batch import (
    FILE,
    MUNI_FROM_SCOPE,
    SCOPE_CODE,
    SCOPE_TYPE,
    TYPED_DATE,
    YEAR,
    Batch,
    FileCells,
    source_column,
)
from brukerplan.ingest.errors import Quarantine
from brukerplan.ingest.filenames import ExtractName
from brukerplan.ingest.limits import MAX_AGE, MAX_CHILDREN, MIN_AGE, PERSON_ID_PATTERN
from brukerplan.ingest.readers import RawSheet
from brukerplan.ingest.reference import load_municipalities

LIST_JOIN = ";"
RULE_ORDER = ("R01", "R02", "R03", "R04", "R05", "R06", "R07")


@dataclass(frozen=True)
class Check:
    """One way a row of one file can break a rule."""

    rule: str
    header: str | None  # column header as in the file (None: the file scope)
    source: str | None  # batch column holding the value
    reason: str  # plain words, completing "value 'x' …"


Reason = Callable[[FileCells], str]


@dataclass(frozen=True)
class CheckSpec:
    """One way a row can break a rule, for every file of a batch: `chk<i>` is true when it does."""

    rule: str
    key: str | None  # canonical column or service key of the cell it is about (None: no cell)
    reason: Reason  # per file: some reasons name the file's year, scope or headers

    def render(self, file: FileCells) -> Check:
        index = file.source_of.get(self.key) if self.key is not None else None
        if index is None:
            return Check(self.rule, None, None, self.reason(file))
        return Check(self.rule, file.sheet.headers[index], file.columns[index], self.reason(file))


def _text(reason: str) -> Reason:
    return lambda _file: reason


@dataclass
class Mapped:
    frame: pl.DataFrame  # the batch: _file, _row, canonical columns v_<name>, checks chk<i>, cells s_<key> / x<k>
    checks: list[CheckSpec]  # chk<i> is checks[i], in rule order
    canonical: list[str]  # canonical column names present as v_<name>
    files: list[FileCells]
    rows: list[int]  # data rows of each file


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
    frame: pl.DataFrame
    present: set[str]  # keys some file of the batch has a column for
    lookups: dict[str, pl.Expr] = field(default_factory=dict)  # each column's lookup, computed first
    derived: dict[str, pl.Expr] = field(default_factory=dict)  # then what several values and checks read
    checks: list[tuple[CheckSpec, pl.Expr]] = field(default_factory=list)
    _distinct: dict[str, list[str]] | None = None

    def distinct(self, column: str) -> list[str]:
        """Distinct non-null texts of a column; computed for every mapped column in one pass."""
        if self._distinct is None:
            columns = sorted(source_column(key) for key in self.present)
            frame = self.frame.select([pl.col(c).unique().drop_nulls().implode() for c in columns])
            self._distinct = {c: frame.get_column(c)[0].to_list() for c in columns}
        return self._distinct.get(column, [])

    def col(self, key: str) -> pl.Expr:
        return pl.col(source_column(key)) if key in self.present else pl.lit(None, dtype=pl.String)

    def computed(self, expr: pl.Expr) -> pl.Expr:
        """`expr` (which may read lookups) as a column of its own, computed once before the values and checks."""
        name = f"_d{len(self.derived)}"
        self.derived[name] = expr
        return pl.col(name)

    def check(self, rule: str, key: str | None, reason: str | Reason, expr: pl.Expr) -> None:
        spec = CheckSpec(rule, key, _text(reason) if isinstance(reason, str) else reason)
        self.checks.append((spec, expr.fill_null(False)))

    def translate(self, key: str | None, parse: Callable[[str], object], dtype: pl.DataType) -> pl.Expr:
        """Parse each distinct text of a column once in Python and map the column with the result: codes, dates
        and numbers have few distinct values, so this is a hash lookup per row. Unparsable -> null."""
        if key is None or key not in self.present:
            return pl.lit(None, dtype=dtype)
        column = source_column(key)
        mapping = {raw: parsed for raw in self.distinct(column) if (parsed := parse(raw)) is not None}
        if not mapping:
            return pl.lit(None, dtype=dtype)
        name = f"_t{len(self.lookups)}"
        self.lookups[name] = pl.col(column).replace_strict(mapping, default=None, return_dtype=dtype)
        return pl.col(name)

    def lookup(self, code_list: str, key: str | None, width: int | None = None) -> pl.Expr:
        codes = self.book.values.get((code_list, self.layout.name), {})

        def parse(raw: str) -> str | None:
            return codes.get(normalise(pad_digits(raw, width) if width else raw))

        return self.translate(key, parse, pl.String)

    def code(self, spec: ColumnSpec, code_list: str, blank: str | None = None, required: bool = False) -> pl.Expr:
        raw = self.col(spec.canonical)
        value = self.lookup(code_list, spec.canonical)
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


def service_key(which: str, service_code: str) -> str:
    """The key of a v1/v2 service flag column: received:<service> or recommended:<service>."""
    return f"{which}:{service_code}"


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
            source_of[service_key(service.which, service.service_code)] = idx
    if missing:
        listed = ", ".join(f"'{h}'" for h in missing)
        raise Quarantine(
            "Q03",
            f"{name.original}{', ' + sheet.where if sheet.where else ''}: layout {layout.name} recognised in row "
            f"{sheet.header_row}, but required column(s) {listed} missing",
            {"missing": missing, "header_row": sheet.header_row},
        )
    return source_of


def _in_force_keys(years: set[int]) -> list[str]:
    """'<year>:<code>' for every municipality code in force on 1 January of each year."""
    municipalities = load_municipalities()
    return sorted(f"{year}:{code}" for year in years for code in municipalities.in_force(year))


def _scope_reason(file: FileCells) -> str:
    name = file.name
    if name.scope_type == "municipality":
        return (
            f"differs from the file's scope {name.scope} (a municipal file holds only municipality {name.scope_code})"
        )
    return f"is not in county {name.scope_code} (the file's scope {name.scope})"


def _has_children_reason(file: FileCells) -> str:
    index = file.source_of.get("has_children")
    header = file.sheet.headers[index] if index is not None else None
    return f"is above 0 while '{header}' says no children under 18"


def map_batch(batch: Batch, layout: Layout, book: CodeBook) -> Mapped:
    """Canonical values and row checks for every file of a batch (all of one layout)."""
    present = {key for file in batch.files for key in file.source_of}
    b = _Builder(book, layout, batch.frame, present)
    year = pl.col(YEAR)
    v: dict[str, pl.Expr] = {}

    # R01 identifiers
    reg = b.computed(_trim(b.col("registration_id")))
    pid = b.computed(_trim(b.col("person_id")).str.to_lowercase())
    v["registration_id"], v["person_id"] = reg, pid
    b.check("R01", "registration_id", "is missing (a registration id is required)", reg.is_null())
    b.check("R01", "person_id", "is missing (a person pseudonym is required)", pid.is_null())
    b.check(
        "R01",
        "person_id",
        "is not a person pseudonym of 16 hexadecimal characters",
        pid.is_not_null() & ~pid.str.contains(PERSON_ID_PATTERN),
    )

    # R02 municipality; a v1 per-municipality file without Kommunenr: the scope gives it
    listed = b.translate("municipality_code", lambda raw: pad_digits(raw, 4) or None, pl.String)
    muni = b.computed(pl.when(pl.col(MUNI_FROM_SCOPE)).then(pl.col(SCOPE_CODE)).otherwise(listed))
    v["municipality_code"] = muni
    b.check("R02", "municipality_code", "is missing (a municipality code is required)", muni.is_null())
    years = {file.name.year for file in batch.files}
    b.check(
        "R02",
        "municipality_code",
        lambda file: f"is not a municipality code in force on 1 January {file.name.year}",
        muni.is_not_null() & ~pl.concat_str([year.cast(pl.String), muni], separator=":").is_in(_in_force_keys(years)),
    )
    scope, scope_code = pl.col(SCOPE_TYPE), pl.col(SCOPE_CODE)
    b.check(  # never for a national file
        "R02",
        "municipality_code",
        _scope_reason,
        muni.is_not_null()
        & (
            ((scope == "municipality") & (muni != scope_code))
            | ((scope == "county") & (muni.str.slice(0, 2) != scope_code))
        ),
    )

    # R03 birth year
    birth_raw = b.col("birth_year")
    birth = b.translate("birth_year", parse_integer, pl.Int64)
    v["birth_year"] = birth
    b.check("R03", "birth_year", "is missing (a birth year is required)", birth_raw.is_null())
    b.check("R03", "birth_year", "is not a whole year", birth_raw.is_not_null() & birth.is_null())
    age = year - birth
    b.check(
        "R03",
        "birth_year",
        lambda file: f"gives an age in {file.name.year} outside {MIN_AGE}-{MAX_AGE}",
        birth.is_not_null() & ((age < MIN_AGE) | (age > MAX_AGE)),
    )

    # R04 codes, in layout column order
    for spec in layout.columns:
        c = spec.canonical
        if spec.kind == "agency":
            raw = b.col(c)
            value = b.lookup("agency", c, width=2)
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
            n = b.translate(c, parse_integer, pl.Int64)
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

    # R05 mapping date: a typed date or Excel serial number (xlsx) first, else the text
    date_raw = b.col("mapped_on")
    mapped_on = b.computed(pl.coalesce(pl.col(TYPED_DATE), b.translate("mapped_on", parse_text_date, pl.Date)))
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
        lambda file: f"is not in the mapping year {file.name.year}",
        mapped_on.is_not_null() & (mapped_on.dt.year() != year),
    )

    # R06 repeated registration id (every repeat after the first, within its file)
    b.check(
        "R06",
        "registration_id",
        "repeats a registration id already used earlier in the file",
        reg.is_not_null() & ~reg.is_first_distinct().over(FILE),
    )

    # R07 contradictions
    if "pregnant" in v:
        b.check("R07", "pregnant", "says pregnant for a man", (v["pregnant"] == True) & (v["sex"] == "M"))  # noqa: E712
    if "n_children" in v and "has_children" in v:
        b.check(
            "R07",
            "n_children",
            _has_children_reason,
            (v["n_children"] > 0) & (v["has_children"] == False),  # noqa: E712
        )

    ordered = sorted(enumerate(b.checks), key=lambda item: (RULE_ORDER.index(item[1][0].rule), item[0]))
    checks = [check for _, (check, _) in ordered]
    exprs = [expr.alias(f"chk{i}") for i, (_, (_, expr)) in enumerate(ordered)]
    frame = batch.frame.with_columns(expr.alias(name) for name, expr in b.lookups.items())
    frame = frame.with_columns(expr.alias(name) for name, expr in b.derived.items())
    frame = frame.with_columns([expr.alias(f"v_{k}") for k, expr in v.items()] + exprs)
    frame = frame.drop([*b.lookups, *b.derived])
    return Mapped(frame, checks, list(v.keys()), batch.files, batch.rows)


def _service_flags(b: _Builder, which: str) -> pl.Expr:
    """v1/v2: one yes/no column per service; unknown only when every cell of the set is blank (§6)."""
    codes, raws = [], []
    for service in b.layout.service_columns:
        if service.which != which:
            continue
        key = service_key(which, service.service_code)
        raw = b.col(key)
        flag = b.lookup("yes_no", key)
        allowed = _describe(b.book, "yes_no", b.layout.name)
        b.check(
            "R04",
            key,
            f"is not a valid yes/no answer (expected {allowed} in layout {b.layout.name})",
            raw.is_not_null() & flag.is_null(),
        )
        codes.append(pl.when(flag == "true").then(pl.lit(service.service_code)))
        raws.append(raw.is_not_null())
    if not codes:
        return pl.lit(None, dtype=pl.List(pl.String))
    if any(LIST_JOIN in service.service_code for service in b.layout.service_columns):
        raise ValueError(f"a service code holds {LIST_JOIN!r}, which joins the codes of a v1/v2 service set")
    # the codes of the flags that say yes, in column order: joined as text and split (several times faster than
    # a list of every flag with the nulls dropped); no service code holds the separator
    joined = b.computed(pl.concat_str(codes, separator=LIST_JOIN, ignore_nulls=True))
    listed = pl.when(joined == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(joined.str.split(LIST_JOIN))
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
    joined = b.translate(spec.canonical, parse, pl.String)
    b.check(
        "R04",
        spec.canonical,
        f"holds a service code that is not in the list for layout {b.layout.name} "
        f"('{none_token}' may only stand alone)",
        raw.is_not_null() & joined.is_null(),
    )
    empty = pl.lit([], dtype=pl.List(pl.String))
    return pl.when(joined.is_null()).then(None).when(joined == "").then(empty).otherwise(joined.str.split(separator))
