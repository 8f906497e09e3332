"""The ground truth, computed from the generator's own registration table (never by re-reading its files):
after rule 1 (current delivery) and rule 3 (de-duplication) the kept registrations are the person table.
Columns are documented in docs/truth.md."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from brukerplan.codes import load_codebook
from brukerplan.synth.people import AREAS, COLOURS, CUSTODY, EDUCATION, INCOME, SUBSTANCES

KEYS = ["mapping_year", "municipality_code_registered", "user_group"]


def user_group() -> pl.Expr:
    """Rule 4 on the integer colour codes (0 unknown, 1 green, 2 yellow, 3 red)."""
    mh, su = pl.col("area_mental_health"), pl.col("area_substance_use")
    serious = ((su == 3) & (mh >= 2)) | ((su == 2) & (mh == 3))
    return (
        pl.when(pl.col("target_group") == "mental")
        .then(pl.lit("mental"))
        .when(mh == 0)
        .then(pl.lit("rus_mental_unknown"))
        .when(mh == 1)
        .then(pl.lit("rus_only"))
        .when(serious)
        .then(pl.lit("rop_serious"))
        .otherwise(pl.lit("rop_less_serious"))
        .alias("user_group")
    )


def _decode(column: str, values: tuple[str, ...]) -> pl.Expr:
    return pl.col(column).replace_strict(dict(enumerate(values)), default=None, return_dtype=pl.String)


def _service_list(book, which: str) -> pl.Expr:
    """Set bits of the mask as a list of service codes; empty list = none (the known flag is applied apart)."""
    joined = pl.concat_str(
        [pl.when((pl.col(f"{which}_mask") & (1 << i)) != 0).then(pl.lit(s.code)) for i, s in enumerate(book.services)],
        separator=";",
        ignore_nulls=True,
    )
    return joined.str.split(";").list.eval(pl.element().filter(pl.element() != "")).alias(f"services_{which}")


def _with_service_lists(book, frame: pl.DataFrame) -> pl.DataFrame:
    """services_received / services_recommended (null = unknown), decoded once per distinct mask and joined:
    a few thousand distinct masks instead of nineteen string columns per row."""
    for which in ("received", "recommended"):
        mask = f"{which}_mask"
        lookup = frame.select(pl.col(mask).unique()).with_columns(_service_list(book, which))
        frame = frame.join(lookup, on=mask, how="left", maintain_order="left").with_columns(
            pl.when(pl.col(f"{which}_known")).then(pl.col(f"services_{which}")).alias(f"services_{which}")
        )
    return frame


def person_year(registrations: pl.DataFrame) -> pl.DataFrame:
    """One row per person and mapping year: the kept registration, decoded to canonical values."""
    book = load_codebook()
    index = {s.code: i for i, s in enumerate(book.services)}
    asked = {name: sum(1 << index[c] for c in lay.services_asked) for name, lay in book.layouts.items()}
    asked_mask = pl.col("layout").replace_strict(asked, return_dtype=pl.Int32)
    kept = registrations.filter(pl.col("is_winner")).with_columns(
        # a service not asked in the layout is not in the file: never in the truth's sets
        pl.col("received_mask") & asked_mask,
        pl.col("recommended_mask") & asked_mask,
    )
    bool_cols = ["has_children", "pregnant", "injects", "violence_exposed"]
    py = kept.select(
        "person_id",
        "mapping_year",
        "registration_id",
        pl.col("file").alias("source_file"),
        "submission_id",
        pl.col("municipality_code").alias("municipality_code_registered"),
        "target_group",
        user_group(),
        "sex",
        "birth_year",
        (pl.col("mapping_year").cast(pl.Int32) - pl.col("birth_year").cast(pl.Int32)).alias("age"),
        "agency_code",
        "mapped_on",
        "layout",
        *(pl.when(pl.col(c) >= 0).then(pl.col(c) == 1).alias(c) for c in bool_cols),
        pl.when(pl.col("n_children") >= 0).then(pl.col("n_children")).alias("n_children"),
        _decode("custody", CUSTODY),
        _decode("education", EDUCATION),
        _decode("income_source", INCOME),
        *(
            pl.when(pl.col(f"substance_{s}") >= 0).then(pl.col(f"substance_{s}")).alias(f"substance_{s}")
            for s in SUBSTANCES
        ),
        *(_decode(f"area_{a}", COLOURS).alias(f"area_{a}") for a in AREAS),
        _decode("living_index", COLOURS).alias("living_index"),
        "received_mask",
        "recommended_mask",
        "received_known",
        "recommended_known",
    )
    columns = [*py.columns[:-4], "services_received", "services_recommended", "received_mask", "recommended_mask"]
    return _with_service_lists(book, py).select(columns).sort(["mapping_year", "person_id"])


def person_year_layout_fix(py: pl.DataFrame) -> pl.DataFrame:
    """Fields a layout does not carry are unknown (null) in the truth, as the reader will see them."""
    v1 = pl.col("layout") == "v1"
    v12 = pl.col("layout").is_in(["v1", "v2"])
    nulls = {c: v1 for c in ("education", "income_source", "injects", *(f"substance_{s}" for s in SUBSTANCES))}
    nulls["violence_exposed"] = v12
    return py.with_columns(pl.when(~cond).then(pl.col(c)).alias(c) for c, cond in nulls.items())


def persons_table(py: pl.DataFrame) -> pl.DataFrame:
    return (
        py.group_by(KEYS)
        .agg(
            pl.len().alias("persons"),
            (pl.col("age") >= 18).sum().alias("persons_18plus"),
            (pl.col("sex") == "M").sum().alias("men"),
            pl.col("age").sum().alias("sum_age"),
        )
        .sort(KEYS)
    )


def living_conditions_table(py: pl.DataFrame) -> pl.DataFrame:
    """Persons per key, area (the eight areas and the living index) and colour; one small group-by per area
    rather than one over the unpivoted table (nine times the persons)."""
    columns = [*((a, f"area_{a}") for a in AREAS), ("living_index", "living_index")]
    parts = [
        py.group_by([*KEYS, column])
        .agg(pl.len().alias("persons"))
        .select(*KEYS, pl.lit(area).alias("area"), pl.col(column).alias("colour"), "persons")
        for area, column in columns
    ]
    return pl.concat(parts).sort([*KEYS, "area", "colour"])


def housing_table(py: pl.DataFrame) -> pl.DataFrame:
    red_yellow = pl.col("area_housing").is_in(["red", "yellow"])
    with_children = red_yellow & (pl.col("has_children") == True)  # noqa: E712
    return (
        py.group_by(KEYS)
        .agg(
            (pl.col("area_housing") == "red").sum().alias("housing_red"),
            (pl.col("area_housing") == "yellow").sum().alias("housing_yellow"),
            with_children.sum().alias("persons_with_children_red_yellow"),
            pl.when(with_children)
            .then(pl.col("n_children").fill_null(0))
            .otherwise(0)
            .sum()
            .alias("children_red_yellow"),
        )
        .sort(KEYS)
    )


def services_table(py: pl.DataFrame) -> pl.DataFrame:
    book = load_codebook()
    index = {s.code: i for i, s in enumerate(book.services)}
    frames = []
    for layout in book.layouts.values():
        part = py.filter(pl.col("layout") == layout.name)
        if part.height == 0:
            continue
        for code in layout.services_asked:
            bit = 1 << index[code]
            recv_known = pl.col("services_received").is_not_null()
            rec_known = pl.col("services_recommended").is_not_null()
            recv = recv_known & ((pl.col("received_mask") & bit) != 0)
            rec = rec_known & ((pl.col("recommended_mask") & bit) != 0)
            both = recv_known & rec_known
            frames.append(
                part.group_by(KEYS)
                .agg(
                    recv_known.sum().alias("received_known"),
                    rec_known.sum().alias("recommended_known"),
                    recv.sum().alias("received"),
                    rec.sum().alias("recommended"),
                    (both & recv & rec).sum().alias("status_continue"),
                    (both & ~recv & rec).sum().alias("status_new"),
                    (both & recv & ~rec).sum().alias("status_end"),
                    (both & ~recv & ~rec).sum().alias("status_none"),
                    (~both).sum().alias("status_unknown"),
                )
                .with_columns(pl.lit(code).alias("service_code"))
            )
    return (
        pl.concat(frames)
        .select(*KEYS, "service_code", pl.exclude([*KEYS, "service_code"]))
        .sort([*KEYS, "service_code"])
    )


def audit_tables(registrations: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    dropped = pl.col("is_current") & ~pl.col("is_winner")
    cross = dropped & (pl.col("municipality_code") != pl.col("kept_municipality_code"))
    by_file = (
        registrations.group_by(["mapping_year", "municipality_code", "file", "submission_id"])
        .agg(
            pl.len().alias("registrations_raw"),
            (~pl.col("is_current")).sum().alias("superseded"),
            dropped.sum().alias("duplicates_removed"),
            cross.sum().alias("duplicates_cross_municipality"),
            pl.col("is_winner").sum().alias("persons"),
        )
        .rename({"municipality_code": "municipality_code_registered", "file": "source_file"})
        .sort(["mapping_year", "municipality_code_registered", "source_file"])
    )
    by_muni = (
        by_file.group_by(["mapping_year", "municipality_code_registered"])
        .agg(
            pl.col(c).sum()
            for c in (
                "registrations_raw",
                "superseded",
                "duplicates_removed",
                "duplicates_cross_municipality",
                "persons",
            )
        )
        .sort(["mapping_year", "municipality_code_registered"])
    )
    participation = (
        registrations.filter(pl.col("is_current"))
        .group_by(["mapping_year", "municipality_code", "target_group"])
        .agg(pl.len().alias("current_registrations"), pl.col("is_winner").sum().alias("persons"))
        .rename({"municipality_code": "municipality_code_registered"})
        .sort(["mapping_year", "municipality_code_registered", "target_group"])
    )
    return by_muni, by_file, participation


def dedup_table(registrations: pl.DataFrame) -> pl.DataFrame:
    sub = registrations.select("file", "registration_id", "submission_id")
    kept_sub = sub.rename(
        {"file": "kept_file", "registration_id": "kept_registration_id", "submission_id": "kept_submission_id"}
    )
    dropped = registrations.filter(pl.col("is_current") & ~pl.col("is_winner"))
    return (
        dropped.join(kept_sub, on=["kept_file", "kept_registration_id"], how="left")
        .select(
            "mapping_year",
            "person_id",
            pl.col("file").alias("source_file"),
            "submission_id",
            "registration_id",
            pl.col("municipality_code").alias("municipality_code_registered"),
            "kept_file",
            "kept_submission_id",
            "kept_registration_id",
            pl.col("kept_municipality_code").alias("kept_municipality_code_registered"),
            pl.col("criterion").alias("deciding_tiebreak"),
            (pl.col("municipality_code") != pl.col("kept_municipality_code")).alias("is_cross_municipality"),
        )
        .sort(["mapping_year", "source_file", "registration_id"])
    )


TABLES = (
    "persons",
    "living_conditions",
    "housing",
    "services",
    "dedup",
    "audit",
    "audit_submissions",
    "participation",
)


class TruthBuilder:
    """The truth, built one mapping year at a time: every table is keyed (and sorted) by mapping year first and
    no rule crosses years, so the tables of the years put one after the other are the tables of all years.
    Only the year's results are kept, never its registrations (memory stays flat, time linear); the person-year
    rows wait in `work_dir` (Arrow IPC files) until the end."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.person_year_files: list[Path] = []
        self.parts: dict[str, list[pl.DataFrame]] = {name: [] for name in TABLES}

    def add_year(self, registrations: pl.DataFrame) -> None:
        """Registrations of one mapping year (all of that year's rows, with submission_id)."""
        py = person_year_layout_fix(person_year(registrations))
        audit, audit_files, participation = audit_tables(registrations)
        tables = {
            "persons": persons_table(py),
            "living_conditions": living_conditions_table(py),
            "housing": housing_table(py),
            "services": services_table(py),
            "dedup": dedup_table(registrations),
            "audit": audit,
            "audit_submissions": audit_files,
            "participation": participation,
        }
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / f"person_year_{len(self.person_year_files):03d}.arrow"
        py.drop("received_mask", "recommended_mask").write_ipc(path, compression="lz4")
        self.person_year_files.append(path)
        for name, table in tables.items():
            self.parts[name].append(_own_strings(table))

    def write(self, truth_dir: Path) -> dict[str, int]:
        truth_dir.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for name in TABLES:
            table = _concat(self.parts[name])
            table.write_csv(truth_dir / f"{name}.csv")
            counts[name] = table.height
            del table
        py = _read_concat(self.person_year_files)
        py.write_parquet(truth_dir / "person_year.parquet", statistics=False)
        counts["person_year"] = py.height
        return counts


def _own_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its string columns copied: a filtered, sorted, joined or grouped string column shares the
    string buffers of its source, so a kept year result would otherwise keep all of the year's registrations'
    strings alive."""
    return frame.with_columns(pl.col(pl.String) + "")


def _schema(frames: list[pl.DataFrame]) -> pl.Schema:
    return pl.concat([frame.clear() for frame in frames], how="vertical_relaxed").schema


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The parts one after the other, one chunk per column (the parquet writer's row groups follow the chunks).
    Built column by column while emptying `parts`, so that at most one column exists twice."""
    schema = _schema(parts)
    pieces = {name: [part[name].cast(dtype) for part in parts] for name, dtype in schema.items()}
    parts.clear()
    return pl.DataFrame([pl.concat(pieces.pop(name), rechunk=True) for name in schema])


def _read_concat(paths: list[Path]) -> pl.DataFrame:
    """The IPC files one after the other, one chunk per column, read column by column (see _concat)."""
    schema = _schema([pl.DataFrame(schema=pl.read_ipc_schema(path)) for path in paths])
    return pl.DataFrame(
        [
            pl.concat(
                [pl.read_ipc(path, columns=[name])[name].cast(dtype) for path in paths],
                rechunk=True,
            )
            for name, dtype in schema.items()
        ]
    )
