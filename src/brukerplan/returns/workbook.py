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


def _services(codes: list[str] | None, labels: dict[str, str]) -> str:
    if codes is None:
        return "ukjent"
    return ", ".join(labels.get(c, c) for c in codes) or "ingen"


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
        (f["mapped_on"], "mapped_on", "date"),
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


# The areas and substances in code-list order, from the code book (seeds/codes), not a second copy.
AREAS: tuple[str, ...] = tuple(area.code for area in load_codebook().areas)
SUBSTANCES: tuple[str, ...] = tuple(substance.code for substance in load_codebook().substances)


def _cell(value: object, kind: str, labels: Labels) -> object:
    if value is None:
        return None
    if kind == "bool":
        return "ja" if value else "nei"
    if kind == "colour":
        return f"{labels.colours.get(str(value), value)} ({value})"
    if kind == "agency":
        return f"{value} {labels.agencies.get(str(value), '')}".strip()
    if kind == "services":
        return _services(value, labels.services)  # type: ignore[arg-type]
    if kind == "outcome":
        return OUTCOME_NB.get(str(value), value)
    if kind == "tiebreak":
        return TIEBREAK_NB.get(str(value), value)
    if kind.startswith("code:"):
        return f"{labels.values.get((kind[5:], str(value)), value)} ({value})"
    if kind == "date":
        return str(value)
    return value


def _table(sheet, header_format, headers: list[str], rows: list[list[object]]) -> None:
    sheet.write_row(0, 0, headers, header_format)
    for index, row in enumerate(rows, start=1):
        sheet.write_row(index, 0, row)
    sheet.freeze_panes(1, 0)
    if rows:
        sheet.autofilter(0, 0, len(rows), len(headers) - 1)
    sheet.set_column(0, len(headers) - 1, 16)


def trajectories(data: MunicipalityData, labels: Labels) -> tuple[list[str], list[list[object]]]:
    """`Brukere over tid`: one row per person the municipality registered in two or more mapping years up to
    the package's year; per area and the index the colour each year with the change since the previous mapping
    by the municipality; per year the services received and recommended, and whether each recommended service
    was received at the next mapping (only when that mapping is in the package)."""
    changes = data.area_changes.filter(pl.col("mapping_year") <= data.year)
    counts = changes.group_by("person_id").agg(pl.col("mapping_year").n_unique().alias("n"))
    persons = counts.filter(pl.col("n") >= 2)["person_id"].sort().to_list()
    years = sorted(changes.filter(pl.col("person_id").is_in(persons))["mapping_year"].unique().to_list())
    areas = [*AREAS, "living_index"]
    headers = ["Pseudonym", "Kartlagt år"]
    headers += [f"{labels.areas[a]} {y}" for a in areas for y in years]
    headers += [f"Tjenester {y}" for y in years]
    by_person = {key[0]: frame for key, frame in changes.partition_by("person_id", as_dict=True).items()}
    services = data.services.filter(pl.col("mapping_year") <= data.year)
    services_by_person = {key[0]: frame for key, frame in services.partition_by("person_id", as_dict=True).items()}
    rows: list[list[object]] = []
    for person in persons:
        frame = by_person[person]
        cells = {(r["area_code"], r["mapping_year"]): r for r in frame.iter_rows(named=True)}
        mapped = sorted(frame["mapping_year"].unique().to_list())
        row: list[object] = [person, ", ".join(map(str, mapped))]
        for area in areas:
            for year in years:
                r = cells.get((area, year))
                if r is None:
                    row.append(None)
                    continue
                text = labels.colours.get(r["colour"], r["colour"])
                row.append(f"{text} ({CHANGE_NB[r['change']]})" if r["change"] else text)
        person_services = services_by_person.get(person)
        for year in years:
            row.append(_service_summary(person_services, year, data.year, labels) if year in mapped else None)
        rows.append(row)
    return headers, rows


def _service_summary(frame: pl.DataFrame | None, year: int, last_year: int, labels: Labels) -> str | None:
    if frame is None:
        return None
    rows = frame.filter(pl.col("mapping_year") == year).to_dicts()
    if not rows:
        return None
    received = [labels.services.get(r["service_code"], r["service_code"]) for r in rows if r["is_received"]]
    recommended = []
    for r in rows:
        if not r["is_recommended"]:
            continue
        label = labels.services.get(r["service_code"], r["service_code"])
        in_package = (r["person_next_mapping_year"] or last_year + 1) <= last_year
        followed = r["is_received_at_next_mapping"] if in_package else None
        note = {True: "mottatt ved neste kartlegging", False: "ikke mottatt ved neste kartlegging"}.get(followed)
        recommended.append(f"{label} ({note})" if note else label)
    unknown_received = any(r["is_received"] is None for r in rows)
    unknown_recommended = any(r["is_recommended"] is None for r in rows)
    return (
        f"mottatt: {'ukjent' if unknown_received else ', '.join(received) or 'ingen'}; "
        f"anbefalt: {'ukjent' if unknown_recommended else ', '.join(recommended) or 'ingen'}"
    )


def build_workbook(data: MunicipalityData, labels: Labels, created_at: datetime) -> bytes:
    """The workbook as bytes (never written to disk in the clear by this function)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "remove_timezone": True})
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    columns = _registration_columns(labels)
    rows = [
        [_cell(r.get(column), kind, labels) for _, column, kind in columns]
        for r in data.registrations.iter_rows(named=True)
    ]
    _table(book.add_worksheet("Registreringer"), bold, [h for h, _, _ in columns], rows)
    headers, rows = trajectories(data, labels)
    _table(book.add_worksheet("Brukere over tid"), bold, headers, rows)
    reject_headers = ["Kartleggingsår", "Type", "Fil", "Ark", "Rad", "Kolonne", "Verdi", "Regel", "Årsak"]
    reject_rows = [
        [
            r["mapping_year"],
            "rad avvist" if r["kind"] == "row" else "fil i karantene",
            r["source_file"],
            r["source_sheet"],
            r["source_row"],
            r["column_name"],
            r["value"],
            r["rule_id"],
            r["message"],
        ]
        for r in data.rejects.iter_rows(named=True)
    ]
    _table(book.add_worksheet("Avviste rader"), bold, reject_headers, reject_rows)
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
    return buffer.getvalue()
