"""The publish spec (tables.yaml): which tables are published, which columns are counts, what is derived from
them and which additive sets tie them together. Loaded into frozen dataclasses and checked for consistency."""

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
class Source:
    """Where a derived column gets its numbers from (see tables.yaml)."""

    column: str | None = None
    table: str | None = None
    match: dict[str, str] | None = None


@dataclass(frozen=True)
class AdditiveSet:
    name: str
    kind: str  # hierarchy | columns | link
    hierarchy: str | None = None
    columns: tuple[str, ...] = ()
    total: str | None = None  # kind columns
    parts: tuple[str, ...] = ()  # kind columns
    # kind link: the total cell (table, column) and the parts
    total_table: str | None = None
    total_column: str | None = None
    parts_table: str | None = None
    parts_column: str | None = None
    parts_match: dict[str, str] = field(default_factory=dict)  # total-side column -> parts-side column
    parts_group_by: tuple[str, ...] = ()
    parts_where: dict[str, Any] = field(default_factory=dict)
    parts_where_not: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSpec:
    name: str
    source: str
    keys: tuple[str, ...]
    counts: tuple[str, ...]
    public: tuple[str, ...]
    derived: dict[str, tuple[Source, ...]]
    sets: tuple[AdditiveSet, ...]
    # a count repeated on several rows (e.g. the area total on every colour row): the key columns it does not
    # vary over. All its copies are one cell, withheld together.
    repeated: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def declared(self) -> tuple[str, ...]:
        return self.keys + self.counts + self.public + tuple(self.derived)


@dataclass(frozen=True)
class Dimension:
    name: str
    source: str


@dataclass(frozen=True)
class PublishSpec:
    tables: tuple[TableSpec, ...]
    dimensions: tuple[Dimension, ...]
    hierarchies: dict[str, Hierarchy]
    person_level_columns: tuple[str, ...]
    person_level_table_prefixes: tuple[str, ...]

    def table(self, name: str) -> TableSpec:
        for table in self.tables:
            if table.name == name:
                return table
        raise SpecError(f"no published table named {name!r} in the publish spec")

    def all_sets(self) -> list[tuple[TableSpec, AdditiveSet]]:
        return [(table, s) for table in self.tables for s in table.sets]


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def _set(table: str, raw: dict[str, Any]) -> AdditiveSet:
    kind = raw.get("kind")
    name = raw.get("name")
    if not name or kind not in {"hierarchy", "columns", "link"}:
        raise SpecError(f"{table}: every set needs a name and kind hierarchy|columns|link, got {raw}")
    if kind == "hierarchy":
        return AdditiveSet(name=name, kind=kind, hierarchy=raw["hierarchy"], columns=_tuple(raw["columns"]))
    if kind == "columns":
        return AdditiveSet(name=name, kind=kind, total=raw["total"], parts=_tuple(raw["parts"]))
    parts = raw["parts"]
    return AdditiveSet(
        name=name,
        kind=kind,
        total_table=raw.get("table", table),
        total_column=raw["column"],
        parts_table=parts.get("table", table),
        parts_column=parts["column"],
        parts_match={str(k): str(v) for k, v in parts["match"].items()},
        parts_group_by=_tuple(parts.get("group_by")),
        parts_where=dict(parts.get("where") or {}),
        parts_where_not=dict(parts.get("where_not") or {}),
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
    tables = tuple(
        TableSpec(
            name=item["name"],
            source=item["source"],
            keys=_tuple(item["keys"]),
            counts=_tuple(item.get("counts")),
            public=_tuple(item.get("public")),
            derived={str(k): _sources(v) for k, v in (item.get("derived") or {}).items()},
            sets=tuple(_set(item["name"], s) for s in item.get("sets") or ()),
            repeated={str(k): _tuple(v) for k, v in (item.get("repeated") or {}).items()},
        )
        for item in raw["tables"]
    )
    spec = PublishSpec(
        tables=tables,
        dimensions=tuple(Dimension(name=d["name"], source=d["source"]) for d in raw.get("dimensions") or ()),
        hierarchies=hierarchies,
        person_level_columns=_tuple(raw["person_level"]["columns"]),
        person_level_table_prefixes=_tuple(raw["person_level"]["table_prefixes"]),
    )
    check_spec(spec)
    return spec


def check_spec(spec: PublishSpec) -> None:
    """Internal consistency: every name a set or derived column refers to is declared."""
    names = [t.name for t in spec.tables]
    if len(set(names)) != len(names):
        raise SpecError(f"duplicate table names in the publish spec: {names}")
    set_names = [s.name for _, s in spec.all_sets()]
    if len(set(set_names)) != len(set_names):
        raise SpecError(f"duplicate set names in the publish spec: {set_names}")
    for table in spec.tables:
        seen: set[str] = set()
        for column in table.declared:
            if column in seen:
                raise SpecError(f"{table.name}.{column} is declared twice")
            seen.add(column)
        if len(table.counts) + len(table.derived) > 63:
            raise SpecError(f"{table.name}: more than 63 counts and derived columns (one bit each in the masks)")
        for s in table.sets:
            _check_set(spec, table, s)
        for column, over in table.repeated.items():
            if column not in table.counts or not set(over) <= set(table.keys):
                raise SpecError(f"{table.name}: repeated {column} over {over} must be a count over key columns")
        for column, sources in table.derived.items():
            for source in sources:
                if source.table is not None:
                    other = spec.table(source.table)
                    if source.column not in other.counts:
                        raise SpecError(f"{table.name}.{column}: {source.table}.{source.column} is not a count")
                elif source.column not in table.counts:
                    raise SpecError(f"{table.name}.{column}: source {source.column!r} is not a count of the table")


def _check_set(spec: PublishSpec, table: TableSpec, s: AdditiveSet) -> None:
    where = f"{table.name} set {s.name}"
    if s.kind == "hierarchy":
        if s.hierarchy not in spec.hierarchies:
            raise SpecError(f"{where}: unknown hierarchy {s.hierarchy!r}")
        for column in spec.hierarchies[s.hierarchy].columns:
            if column not in table.keys:
                raise SpecError(f"{where}: hierarchy column {column!r} is not a key column")
        cells = s.columns
    elif s.kind == "columns":
        cells = (s.total or "", *s.parts)
    else:
        total = spec.table(s.total_table or table.name)
        parts = spec.table(s.parts_table or table.name)
        if s.total_column not in total.counts:
            raise SpecError(f"{where}: total {total.name}.{s.total_column} is not a count")
        if s.parts_column not in parts.counts:
            raise SpecError(f"{where}: part {parts.name}.{s.parts_column} is not a count")
        for own, other in s.parts_match.items():
            if own not in total.declared or other not in parts.declared:
                raise SpecError(f"{where}: match {own} -> {other} names an undeclared column")
        for column in (*s.parts_group_by, *s.parts_where, *s.parts_where_not):
            if column not in parts.keys:
                raise SpecError(f"{where}: {column!r} is not a key column of {parts.name}")
        return
    for column in cells:
        if column not in table.counts:
            raise SpecError(f"{where}: {column!r} is not a count of {table.name}")


def _expand_names(names: tuple[str, ...], columns: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        if any(ch in name for ch in "*?["):
            out += [c for c in columns if fnmatch.fnmatchcase(c, name) and c not in out]
        elif name not in out:
            out.append(name)
    return tuple(out)


def expand_patterns(spec: PublishSpec, columns_of: dict[str, list[str]]) -> PublishSpec:
    """Replace wildcard column names (e.g. `rejected_r*`, one column per rule) by the matching columns of the
    warehouse table, in the table's column order, and check the result again."""
    tables = []
    for table in spec.tables:
        columns = columns_of.get(table.name, [])
        sets = tuple(
            replace(s, columns=_expand_names(s.columns, columns), parts=_expand_names(s.parts, columns))
            for s in table.sets
        )
        tables.append(
            replace(
                table,
                counts=_expand_names(table.counts, columns),
                public=_expand_names(table.public, columns),
                sets=sets,
            )
        )
    expanded = replace(spec, tables=tuple(tables))
    check_spec(expanded)
    return expanded
