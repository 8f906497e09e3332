"""The return workbook of one municipality (warehouse.md "Returning data"), laid out from the returns models:
`Registreringer`, `Brukere over tid`, `Avviste rader`, `Om filen`. Headers are the Norwegian labels of the code
book (the v2 layout's headers) and of the warehouse's dimensions; codes stand beside the labels."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import xlsxwriter

from brukerplan import __version__
from brukerplan.codes import CodeBook, load_codebook
from brukerplan.returns.data import MunicipalityData
from brukerplan.returns.sheetxml import SheetRows, rows_xml, splice

CHANGE_NB = {"better": "bedre", "same": "uendret", "worse": "verre", "unknown": "ukjent"}
OUTCOME_NB = {
    "counted": "telt her",
    "counted_elsewhere": "telt i en annen kommune",
    "dropped_for_own": "dublett av en annen registrering her",
}
TIEBREAK_NB = {
    "completeness": "mest fullstendig",
    "date": "siste kartleggingsdato",
    "agency": "instansprioritet",
    "delivery_or_id": "tidligste levering / laveste løpenummer",
}
ABOUT = (
    "Denne filen inneholder helseopplysninger om identifiserbare personer (pseudonymisert BrukerPlan-kartlegging) "
    "for kommunens egne registreringer. Oppbevar den kryptert, bare hos dem som har tjenstlig behov, og slett den "
    "når den ikke lenger trengs. Del den ikke med andre kommuner eller utenforstående."
)


@dataclass(frozen=True)
class Labels:
    """Norwegian labels: field headers from the code book, areas/colours/services/agencies from the warehouse."""

    fields: dict[str, str]  # canonical column -> header
    values: dict[tuple[str, str], str]  # (code list, canonical value) -> Norwegian raw value
    areas: dict[str, str]
    colours: dict[str, str]
    services: dict[str, str]
    agencies: dict[str, str]

    @classmethod
    def load(cls, codebook: CodeBook, con) -> Labels:
        layout = codebook.layouts["v2"]
        values: dict[tuple[str, str], str] = {}
        for (code_list, layout_name), mapping in codebook.values.items():
            if layout_name == "v2":
                for raw, canonical in mapping.items():
                    values.setdefault((code_list, canonical), raw)

        def pairs(sql: str) -> dict[str, str]:
            return dict(con.execute(sql).fetchall())

        return cls(
            fields={c.canonical: c.header for c in layout.columns},
            values=values,
            areas=pairs("select area_code, label_nb from core.dim_area"),
            colours=pairs("select colour, label_nb from core.dim_colour"),
            services=pairs("select service_code, label_nb from core.dim_service"),
            agencies=pairs("select agency_code, label_nb from core.dim_agency"),
        )


def services_text(codes: list[str] | None, labels: dict[str, str]) -> str:
    """A registration's services as labels ('ingen' for none, 'ukjent' when not recorded)."""
    if codes is None:
        return "ukjent"
    return ", ".join(labels.get(c, c) for c in codes) or "ingen"


# The areas and substances in code-list order, from the code book (seeds/codes), not a second copy.
AREAS: tuple[str, ...] = tuple(area.code for area in load_codebook().areas)
SUBSTANCES: tuple[str, ...] = tuple(substance.code for substance in load_codebook().substances)


def _registration_columns(labels: Labels) -> list[tuple[str, str, str]]:
    """(header, column, kind) of the Registreringer sheet, in order."""
    f = labels.fields
    columns = [
        ("Kartleggingsår", "mapping_year", "int"),
        ("Løpenummer", "registration_id", "text"),
        ("Innsending", "submission_id", "text"),
        (f["agency_code"], "agency_code", "agency"),
        (f["person_id"], "person_id", "text"),
        ("Registrert kommunenr", "municipality_code_registered", "text"),
        (f["mapped_on"], "mapped_on", "text"),
        (f["sex"], "sex", "text"),
        (f["birth_year"], "birth_year", "int"),
        ("Alder", "age", "int"),
        (f["target_group"], "target_group", "code:target_group"),
        (f["has_children"], "has_children", "bool"),
        (f["n_children"], "n_children", "int"),
        (f["custody"], "custody", "code:custody"),
        (f["pregnant"], "pregnant", "bool"),
        (f["education"], "education", "code:education"),
        (f["income_source"], "income_source", "code:income_source"),
        (f["injects"], "injects", "bool"),
        ("Utsatt for vold", "violence_exposed", "bool"),
    ]
    columns += [(f[f"substance_{s}"], f"substance_{s}", "int") for s in SUBSTANCES]
    columns += [(labels.areas[a], f"area_{a}", "colour") for a in AREAS]
    columns += [(labels.areas["living_index"], "living_index", "colour")]
    columns += [
        ("Tjenester mottatt", "services_received", "services"),
        ("Tjenester anbefalt", "services_recommended", "services"),
        ("Dublettvask", "dedup_outcome", "outcome"),
        ("Beholdt registrering (løpenummer)", "own_kept_registration_id", "text"),
        ("Avgjort av", "own_deciding_tiebreak", "tiebreak"),
        ("Kilde: fil", "source_file", "text"),
        ("Kilde: rad", "source_row", "int"),
    ]
    return columns


def _labelled(column: str, labels: dict[str, str]) -> pl.Expr:
    """'label (code)', the code itself where the code list has no label."""
    value = pl.col(column).cast(pl.String)
    return pl.concat_str([value.replace(labels), pl.lit(" ("), value, pl.lit(")")])


def _display(column: str, kind: str, labels: Labels) -> pl.Expr:
    """What a cell of `column` shows, for a whole column at once (a null stays a blank cell)."""
    value = pl.col(column)
    if kind == "int":
        return value.cast(pl.Int64)
    if kind == "bool":
        return pl.when(value).then(pl.lit("ja")).when(value.not_()).then(pl.lit("nei"))
    if kind == "colour":
        return _labelled(column, labels.colours)
    if kind == "agency":
        named = value.replace_strict(labels.agencies, default="", return_dtype=pl.String)
        return pl.concat_str([value, pl.lit(" "), named]).str.strip_chars()
    if kind == "services":
        names = value.list.eval(pl.element().replace(labels.services)).list.join(", ")
        return pl.when(value.list.len() == 0).then(pl.lit("ingen")).otherwise(names)
    if kind == "outcome":
        return value.replace(OUTCOME_NB)
    if kind == "tiebreak":
        return value.replace(TIEBREAK_NB)
    if kind.startswith("code:"):
        code_list = kind[5:]
        return _labelled(
            column, {canonical: raw for (name, canonical), raw in labels.values.items() if name == code_list}
        )
    return value.cast(pl.String)


def registrations_sheet(data: MunicipalityData, labels: Labels) -> pl.DataFrame:
    """`Registreringer`: the municipality's current registrations, one row each, headers as column names."""
    columns = _registration_columns(labels)
    return data.registrations.select([_display(column, kind, labels).alias(header) for header, column, kind in columns])


def trajectories(data: MunicipalityData, labels: Labels) -> pl.DataFrame:
    """`Brukere over tid`: one row per person the municipality registered in two or more mapping years up to
    the package's year; per area and the index the colour each year with the change since the previous mapping
    by the municipality; per year the services received and recommended, and whether each recommended service
    was received at the next mapping (only when that mapping is in the package)."""
    changes = data.area_changes.filter(pl.col("mapping_year") <= data.year)
    mapped = (
        changes.group_by("person_id")
        .agg(pl.col("mapping_year").unique().sort().alias("years"))
        .filter(pl.col("years").list.len() >= 2)
        .sort("person_id")
    )
    changes = changes.join(mapped.select("person_id"), on="person_id", how="semi")
    years = sorted(changes["mapping_year"].unique().to_list())
    areas = [*AREAS, "living_index"]
    colour = pl.col("colour").replace(labels.colours)
    change = pl.col("change").replace(CHANGE_NB)
    shown = (
        pl.when(pl.col("change").is_not_null() & (pl.col("change") != ""))
        .then(pl.concat_str([colour, pl.lit(" ("), change, pl.lit(")")]))
        .otherwise(colour)
    )
    cells = changes.select(
        "person_id",
        pl.concat_str([pl.col("area_code"), pl.lit("|"), pl.col("mapping_year").cast(pl.String)]).alias("key"),
        shown.alias("shown"),
    )
    services = _service_summaries(data, labels).join(
        changes.select("person_id", "mapping_year").unique(), on=["person_id", "mapping_year"], how="semi"
    )
    cells = pl.concat(
        [
            cells,
            services.select(
                "person_id",
                pl.concat_str([pl.lit("services|"), pl.col("mapping_year").cast(pl.String)]).alias("key"),
                "shown",
            ),
        ]
    )
    wide = mapped.select("person_id", pl.col("years").cast(pl.List(pl.String)).list.join(", ").alias("Kartlagt år"))
    if cells.height:
        wide = wide.join(
            cells.pivot("key", index="person_id", values="shown", aggregate_function="first"),
            on="person_id",
            how="left",
        )
    keys = [(f"{a}|{y}", f"{labels.areas[a]} {y}") for a in areas for y in years]
    keys += [(f"services|{y}", f"Tjenester {y}") for y in years]
    return wide.select(
        pl.col("person_id").alias("Pseudonym"),
        "Kartlagt år",
        *[(pl.col(key) if key in wide.columns else pl.lit(None, pl.String)).alias(header) for key, header in keys],
    )


def _service_summaries(data: MunicipalityData, labels: Labels) -> pl.DataFrame:
    """Per person and mapping year: 'mottatt: ...; anbefalt: ...', each recommended service with whether it was
    received at the person's next mapping when that mapping is in the package."""
    last = data.year
    services = data.services.filter(pl.col("mapping_year") <= last)
    label = pl.col("service_code").replace(labels.services)
    in_package = pl.col("person_next_mapping_year").fill_null(last + 1) <= last
    followed = pl.when(in_package).then(pl.col("is_received_at_next_mapping"))
    note = (
        pl.when(followed)
        .then(pl.lit(" (mottatt ved neste kartlegging)"))
        .when(followed.not_())
        .then(pl.lit(" (ikke mottatt ved neste kartlegging)"))
        .otherwise(pl.lit(""))
    )
    summary = services.with_columns(label.alias("label"), pl.concat_str([label, note]).alias("recommended_label"))
    grouped = summary.group_by(["person_id", "mapping_year"], maintain_order=True).agg(
        pl.col("label").filter(pl.col("is_received")).str.join(", ").alias("received"),
        pl.col("recommended_label").filter(pl.col("is_recommended")).str.join(", ").alias("recommended"),
        pl.col("is_received").is_null().any().alias("unknown_received"),
        pl.col("is_recommended").is_null().any().alias("unknown_recommended"),
    )

    def listed(column: str, unknown: str) -> pl.Expr:
        return (
            pl.when(pl.col(unknown))
            .then(pl.lit("ukjent"))
            .when(pl.col(column) == "")
            .then(pl.lit("ingen"))
            .otherwise(pl.col(column))
        )

    return grouped.select(
        "person_id",
        "mapping_year",
        pl.concat_str(
            [
                pl.lit("mottatt: "),
                listed("received", "unknown_received"),
                pl.lit("; anbefalt: "),
                listed("recommended", "unknown_recommended"),
            ]
        ).alias("shown"),
    )


def rejects_sheet(data: MunicipalityData) -> pl.DataFrame:
    """`Avviste rader`: the municipality's rejected rows and quarantined files."""
    return data.rejects.select(
        pl.col("mapping_year").alias("Kartleggingsår"),
        pl.when(pl.col("kind") == "row").then(pl.lit("rad avvist")).otherwise(pl.lit("fil i karantene")).alias("Type"),
        pl.col("source_file").alias("Fil"),
        pl.col("source_sheet").alias("Ark"),
        pl.col("source_row").alias("Rad"),
        pl.col("column_name").alias("Kolonne"),
        pl.col("value").alias("Verdi"),
        pl.col("rule_id").alias("Regel"),
        pl.col("message").alias("Årsak"),
    )


def _table(book: xlsxwriter.Workbook, name: str, header_format, frame: pl.DataFrame) -> SheetRows:
    """A sheet with the frame's column names as a bold header row; its data rows are spliced in afterwards."""
    sheet = book.add_worksheet(name)
    sheet.write_row(0, 0, frame.columns, header_format)
    sheet.freeze_panes(1, 0)
    if frame.height:
        sheet.autofilter(0, 0, frame.height, frame.width - 1)
    sheet.set_column(0, frame.width - 1, 16)
    return SheetRows(len(book.worksheets()) - 1, rows_xml(frame), frame.height + 1, frame.width)


def build_workbook(data: MunicipalityData, labels: Labels, created_at: datetime) -> bytes:
    """The workbook as bytes (never written to disk in the clear by this function)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "remove_timezone": True})
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    tables = [
        _table(book, "Registreringer", bold, registrations_sheet(data, labels)),
        _table(book, "Brukere over tid", bold, trajectories(data, labels)),
        _table(book, "Avviste rader", bold, rejects_sheet(data)),
    ]
    about = book.add_worksheet("Om filen")
    about.set_column(0, 0, 28)
    about.set_column(1, 1, 100)
    lines = [
        ("Hva", f"BrukerPlan-data for {data.municipality_name} ({data.municipality_code}), egne registreringer"),
        ("Kartleggingsår", ", ".join(str(y) for y in sorted(data.registrations["mapping_year"].unique()))),
        ("Til og med år", str(data.year)),
        ("Personopplysninger", ABOUT),
        ("Laget", created_at.isoformat(timespec="seconds")),
        ("Versjon", f"brukerplan {__version__}"),
        ("Registreringer", str(data.registrations.height)),
        ("Personer", str(data.registrations["person_id"].n_unique())),
    ]
    for index, (key, value) in enumerate(lines):
        about.write_row(index, 0, [key, value], None)
    start = len(lines) + 1
    about.write_row(start, 0, ["Innsendinger", "fil, levert, kartleggingsår"], bold)
    for offset, s in enumerate(data.submissions.iter_rows(named=True), start=1):
        about.write_row(
            start + offset, 0, [s["submission_id"], f"{s['original_name']}, {s['delivered_on']}, {s['mapping_year']}"]
        )
    book.close()
    return splice(buffer.getvalue(), tables)
