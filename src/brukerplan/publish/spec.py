"""The publish declaration (tables.yaml): quantities and the identities between them, and for every published
table which quantity each count column shows, what is derived from the counts, and what is public. Loaded into
frozen dataclasses and checked for consistency; every suppression equation is derived from it (equations.py)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).resolve().parent / "tables.yaml"


class SpecError(ValueError):
    """tables.yaml is inconsistent (or does not match the warehouse)."""


@dataclass(frozen=True)
class Hierarchy:
    """Values of a dimension that add up: a child's cell is part of its parent's equation."""

    name: str
    columns: tuple[str, ...]
    parent: dict[str, str] = field(default_factory=dict)  # user_group style: value -> parent value
    parent_sql: dict[str, tuple[str, ...]] = field(default_factory=dict)  # geography style: level -> SQL
    # levels of aggregation above the finest, by value of the first column (the solver keeps high ones shown)
    heights: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Quantity:
    """A number that published counts show, one cell per value of its dimensions."""

    name: str
    dims: tuple[str, ...]
    additive: tuple[str, ...] = ()  # hierarchies over which it adds up


@dataclass(frozen=True)
class Part:
    quantity: str
    where: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    where_not: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    rename: dict[str, str] = field(default_factory=dict)  # own dimension -> name used in `by`

    def dim_of(self, name: str) -> str:
        """The own dimension that is called `name` in an identity."""
        for own, other in self.rename.items():
            if other == name:
                return own
        return name


@dataclass(frozen=True)
class Identity:
    """total = sum of parts, one equation per value of `by`."""

    name: str
    total: Part
    parts: tuple[Part, ...]
    by: tuple[str, ...]


@dataclass(frozen=True)
class CountColumn:
    """A published count column: the quantity it shows, at which key (dimension -> SQL over the row)."""

    column: str
    quantity: str
    at: dict[str, str] = field(default_factory=dict)

    def key_sql(self, quantity: Quantity) -> list[str]:
        return [self.at.get(dim, f'"{dim}"') for dim in quantity.dims]


@dataclass(frozen=True)
class Source:
    """Where a derived column gets its numbers from (see tables.yaml)."""

    column: str | None = None
    table: str | None = None
    match: dict[str, str] | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    source: str
    keys: tuple[str, ...]
    counts: tuple[CountColumn, ...]
    public: tuple[str, ...]
    derived: dict[str, tuple[Source, ...]]
    extra: dict[str, str] = field(default_factory=dict)
    # a derived column that can also be computed from other counts (gap = recommended - received = new - end):
    # withheld only when each way of computing it has a withheld source
    alternatives: dict[str, tuple[Source, ...]] = field(default_factory=dict)
    # a difference of two counts of the row (gap: [plus, minus]): shown when the published cells fix its value
    differences: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def count_names(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.counts)

    @property
    def declared(self) -> tuple[str, ...]:
        return self.keys + self.count_names + self.public + tuple(self.derived)

    def count(self, column: str) -> CountColumn:
        for count in self.counts:
            if count.column == column:
                return count
        raise SpecError(f"{self.name}.{column} is not a declared count")


@dataclass(frozen=True)
class Dimension:
    name: str
    source: str


@dataclass(frozen=True)
class PublishSpec:
    tables: tuple[TableSpec, ...]
    dimensions: tuple[Dimension, ...]
    hierarchies: dict[str, Hierarchy]
    quantities: dict[str, Quantity]
    identities: tuple[Identity, ...]
    person_level_columns: tuple[str, ...]
    person_level_table_prefixes: tuple[str, ...]
    solve_apart_by: str | None = None  # the dimension whose values the solver may take one at a time (parts.py)

    def table(self, name: str) -> TableSpec:
        for table in self.tables:
            if table.name == name:
                return table
        raise SpecError(f"no published table named {name!r} in the publish spec")

    def single_table(self) -> PublishSpec:
        """A weaker declaration, for tests that prove the attack can fail: every table's counts are quantities of
        their own (a number shown in two tables is two cells) and only identities within one table are kept —
        the identities across tables (e.g. persons = known + unknown status, housing = living conditions) are
        left out, as in the publisher before the declaration covered them."""
        quantities: dict[str, Quantity] = {}
        tables = []
        identities = []
        for table in self.tables:
            shown = {count.quantity for count in table.counts}
            for name in shown:
                quantities[f"{table.name}:{name}"] = replace(self.quantities[name], name=f"{table.name}:{name}")
            counts = tuple(replace(count, quantity=f"{table.name}:{count.quantity}") for count in table.counts)
            tables.append(replace(table, counts=counts))
            for identity in self.identities:
                parts = (identity.total, *identity.parts)
                if all(p.quantity in shown for p in parts):
                    identities.append(
                        Identity(
                            name=f"{table.name}:{identity.name}",
                            total=replace(identity.total, quantity=f"{table.name}:{identity.total.quantity}"),
                            parts=tuple(replace(p, quantity=f"{table.name}:{p.quantity}") for p in identity.parts),
                            by=identity.by,
                        )
                    )
        return replace(self, tables=tuple(tables), quantities=quantities, identities=tuple(identities))


def _tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in (value or ()))


def _values(raw: dict[str, Any] | None) -> dict[str, tuple[Any, ...]]:
    return {str(k): tuple(v) if isinstance(v, list) else (v,) for k, v in (raw or {}).items()}


def _part(raw: Any) -> Part:
    if isinstance(raw, str):
        return Part(quantity=raw)
    return Part(
        quantity=str(raw["quantity"]),
        where=_values(raw.get("where")),
        where_not=_values(raw.get("where_not")),
        rename={str(k): str(v) for k, v in (raw.get("rename") or {}).items()},
    )


def _sources(raw: list[dict[str, Any]]) -> tuple[Source, ...]:
    return tuple(Source(column=item.get("column"), table=item.get("table"), match=item.get("match")) for item in raw)


def _heights(item: dict[str, Any]) -> dict[str, int]:
    """Declared `heights`, or for a `parent` hierarchy: 0 for a leaf, one more than its highest child else."""
    if item.get("heights"):
        return {str(k): int(v) for k, v in item["heights"].items()}
    parent = {str(k): str(v) for k, v in (item.get("parent") or {}).items()}
    heights: dict[str, int] = {}

    def height(value: str, depth: int = 0) -> int:
        if depth > len(parent):
            raise SpecError(f"hierarchy {item.get('columns')}: the parents form a cycle at {value!r}")
        if value not in heights:
            children = [c for c, p in parent.items() if p == value]
            heights[value] = 1 + max(height(c, depth + 1) for c in children) if children else 0
        return heights[value]

    for value in {*parent, *parent.values()}:
        height(value)
    return heights


def _counts(raw: dict[str, Any]) -> tuple[CountColumn, ...]:
    out = []
    for column, item in (raw or {}).items():
        item = item or {}
        out.append(
            CountColumn(
                column=str(column),
                quantity=str(item.get("quantity", column)),
                at={str(k): str(v) for k, v in (item.get("at") or {}).items()},
            )
        )
    return tuple(out)


def load_spec(path: Path = SPEC_PATH) -> PublishSpec:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    hierarchies: dict[str, Hierarchy] = {}
    for name, item in raw["hierarchies"].items():
        hierarchies[name] = Hierarchy(
            name=name,
            columns=_tuple(item["columns"]),
            parent={str(k): str(v) for k, v in (item.get("parent") or {}).items()},
            parent_sql={str(k): tuple(v) for k, v in (item.get("parent_sql") or {}).items()},
            heights=_heights(item),
        )
    quantities = {
        str(name): Quantity(name=str(name), dims=_tuple(item["dims"]), additive=_tuple(item.get("additive")))
        for name, item in raw["quantities"].items()
    }
    identities = tuple(
        Identity(
            name=str(item["name"]),
            total=_part(item["total"]),
            parts=tuple(_part(p) for p in item["parts"]),
            by=_tuple(item["by"]),
        )
        for item in raw.get("identities") or ()
    )
    tables = tuple(
        TableSpec(
            name=item["name"],
            source=item["source"],
            keys=_tuple(item["keys"]),
            counts=_counts(item.get("counts")),
            public=_tuple(item.get("public")),
            derived={
                str(k): _sources(v["sources"] if isinstance(v, dict) else v)
                for k, v in (item.get("derived") or {}).items()
            },
            alternatives={
                str(k): _sources(v["or_from"])
                for k, v in (item.get("derived") or {}).items()
                if isinstance(v, dict) and "or_from" in v
            },
            differences={
                str(k): (str(v["difference"][0]), str(v["difference"][1]))
                for k, v in (item.get("derived") or {}).items()
                if isinstance(v, dict) and "difference" in v
            },
            extra={str(k): str(v) for k, v in (item.get("extra") or {}).items()},
        )
        for item in raw["tables"]
    )
    spec = PublishSpec(
        tables=tables,
        dimensions=tuple(Dimension(name=d["name"], source=d["source"]) for d in raw.get("dimensions") or ()),
        hierarchies=hierarchies,
        quantities=quantities,
        identities=identities,
        person_level_columns=_tuple(raw["person_level"]["columns"]),
        person_level_table_prefixes=_tuple(raw["person_level"]["table_prefixes"]),
        solve_apart_by=str(raw["solve_apart_by"]) if raw.get("solve_apart_by") else None,
    )
    check_spec(spec)
    return spec


def _is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def check_spec(spec: PublishSpec) -> None:
    """Internal consistency: every name a count, identity or derived column refers to is declared."""
    names = [t.name for t in spec.tables]
    if len(set(names)) != len(names):
        raise SpecError(f"duplicate table names in the publish spec: {names}")
    identity_names = [i.name for i in spec.identities]
    if len(set(identity_names)) != len(identity_names):
        raise SpecError(f"duplicate identity names in the publish spec: {identity_names}")
    for quantity in spec.quantities.values():
        for hierarchy in quantity.additive:
            if hierarchy not in spec.hierarchies:
                raise SpecError(f"quantity {quantity.name}: unknown hierarchy {hierarchy!r}")
            if not set(spec.hierarchies[hierarchy].columns) <= set(quantity.dims):
                raise SpecError(f"quantity {quantity.name}: additive over {hierarchy} needs its dimensions")
    for table in spec.tables:
        seen: set[str] = set()
        for column in table.declared:
            if column in seen:
                raise SpecError(f"{table.name}.{column} is declared twice")
            seen.add(column)
        if len(table.counts) + len(table.derived) > 63:
            raise SpecError(f"{table.name}: more than 63 counts and derived columns (one bit each in the masks)")
        for count in table.counts:
            if _is_pattern(count.column):
                continue
            quantity = spec.quantities.get(count.quantity)
            if quantity is None:
                raise SpecError(f"{table.name}.{count.column}: no quantity {count.quantity!r} is declared")
            for dim in quantity.dims:
                if dim not in count.at and dim not in table.declared and dim not in table.extra:
                    raise SpecError(
                        f"{table.name}.{count.column}: quantity {quantity.name} needs dimension {dim!r}, which "
                        "is neither a column of the table nor given in `at`"
                    )
        for column, sources in [*table.derived.items(), *table.alternatives.items()]:
            for source in sources:
                if source.table is not None:
                    other = spec.table(source.table)
                    if source.column not in other.count_names:
                        raise SpecError(f"{table.name}.{column}: {source.table}.{source.column} is not a count")
                elif source.column not in table.count_names:
                    raise SpecError(f"{table.name}.{column}: source {source.column!r} is not a count of the table")
    for identity in spec.identities:
        for part in (identity.total, *identity.parts):
            if _is_pattern(part.quantity):
                continue
            quantity = spec.quantities.get(part.quantity)
            if quantity is None:
                raise SpecError(f"identity {identity.name}: no quantity {part.quantity!r} is declared")
            own = {part.rename.get(d, d) for d in quantity.dims}
            missing = [d for d in identity.by if d not in own and part is not identity.total]
            if missing:
                raise SpecError(f"identity {identity.name}: part {part.quantity} has no dimension {missing}")
            for dim in (*part.where, *part.where_not):
                if dim not in quantity.dims:
                    raise SpecError(f"identity {identity.name}: {part.quantity} has no dimension {dim!r}")


def _expand_names(names: list[str], columns: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if _is_pattern(name):
            out += [c for c in columns if fnmatch.fnmatchcase(c, name) and c not in out]
        elif name not in out:
            out.append(name)
    return out


def expand_patterns(spec: PublishSpec, columns_of: dict[str, list[str]]) -> PublishSpec:
    """Replace wildcard column names (e.g. `rejected_r*`, one column per rule) by the matching columns of the
    warehouse table, in the table's column order (a quantity name may use `{column}`), and wildcard quantities
    of identities by the quantities that exist then; check the result again."""
    quantities = dict(spec.quantities)
    tables = []
    for table in spec.tables:
        columns = columns_of.get(table.name, [])
        counts: list[CountColumn] = []
        for count in table.counts:
            if not _is_pattern(count.column):
                counts.append(count)
                continue
            for column in _expand_names([count.column], columns):
                name = count.quantity.replace("{column}", column)
                if name not in quantities:
                    pattern = next((q for q in quantities if _is_pattern(q) and fnmatch.fnmatchcase(name, q)), None)
                    if pattern is None:
                        raise SpecError(f"{table.name}.{column}: no quantity {name!r} is declared")
                    quantities[name] = replace(quantities[pattern], name=name)
                counts.append(CountColumn(column=column, quantity=name, at=count.at))
        tables.append(replace(table, counts=tuple(counts), public=tuple(_expand_names(list(table.public), columns))))
    concrete = sorted(q for q in quantities if not _is_pattern(q))
    for name in [q for q in quantities if _is_pattern(q)]:
        del quantities[name]
    identities = []
    for identity in spec.identities:
        parts: list[Part] = []
        for part in identity.parts:
            if _is_pattern(part.quantity):
                parts += [replace(part, quantity=q) for q in concrete if fnmatch.fnmatchcase(q, part.quantity)]
            else:
                parts.append(part)
        identities.append(replace(identity, parts=tuple(parts)))
    expanded = replace(spec, tables=tuple(tables), quantities=quantities, identities=tuple(identities))
    check_spec(expanded)
    return expanded
