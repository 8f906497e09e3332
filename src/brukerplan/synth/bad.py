"""`--bad-inputs`: a labelled set of malformed files, at least one per rule of extract-format.md §5, and
DIR/bad/expected.json with the outcome the ingestor must give for each (rejected rows with row number, rule and
column; or the quarantine rule; or "duplicate" for the same bytes again).

The set is meant to be ingested into a landing zone of its own: its files are valid deliveries for real
municipality-years and would supersede the default run's files if mixed with them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from brukerplan.codes import load_codebook
from brukerplan.synth.participation import Participants
from brukerplan.synth.people import PersonGenerator
from brukerplan.synth.reference import load_reference
from brukerplan.synth.writers import LayoutEncoder

Row = dict[str, str | None]
_FIXED_TIME = datetime(2022, 3, 1, 12, 0, 0)


@dataclass
class BadFile:
    name: str
    rule: str
    description: str
    layout: str | None
    rows: list[Row | None] = field(default_factory=list)  # None = a fully empty row
    headers: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (index into rows, rule, column header)
    quarantine: str | None = None
    fmt: str = "csv"
    title: list[str] = field(default_factory=list)
    raw_bytes: bytes | None = None
    duplicate_of: str | None = None


class ValidRows:
    """Valid rows of a layout, encoded by the generator's own encoder."""

    def __init__(self, seed: int) -> None:
        self.book = load_codebook()
        self.ref = load_reference()
        self.people = PersonGenerator(seed + 1)
        self.counter = 0

    def make(self, year: int, codes: list[str], n: int, group: str = "rus") -> tuple[list[str], list[Row]]:
        munis = tuple(m for m in self.ref.in_force[year] if m.code in codes)
        counts = np.full(len(munis), 0, dtype=np.int64)
        for i in range(n):
            counts[i % len(munis)] += 1
        frame = self.people.year(Participants(year=year, group=group, municipalities=munis, persons=counts))
        n_rows = frame.height
        self.counter += 1
        layout = self.book.layout_for_year(year)
        frame = frame.with_columns(
            pl.Series("agency_code", [f"{(i % 4) + 1:02d}" for i in range(n_rows)]),
            pl.Series("mapped_on", [date(year, 10, 1) + timedelta(days=i % 40) for i in range(n_rows)]),
            pl.Series("registration_id", [f"B{self.counter:02d}-{i + 1:04d}" for i in range(n_rows)]),
            pl.lit("bad").alias("file"),
            pl.int_range(0, n_rows).alias("row_order"),
        )
        encoded = LayoutEncoder(self.book, layout).encode(frame)
        headers = [c.header for c in layout.columns] + [s.header for s in layout.service_columns]
        return headers, encoded.select(headers).to_dicts()


def _csv_bytes(headers: list[str], rows: list[Row | None], delimiter: str = ";") -> bytes:
    def cell(value: str | None) -> str:
        text = "" if value is None else str(value)
        if delimiter in text or '"' in text or "\n" in text:
            text = '"' + text.replace('"', '""') + '"'
        return text

    lines = [delimiter.join(cell(h) for h in headers)]
    for row in rows:
        if row is None:
            lines.append(delimiter * (len(headers) - 1))
        else:
            lines.append(delimiter.join(cell(row.get(h)) for h in headers))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _write_xlsx(path: Path, headers: list[str], rows: list[Row | None], title: list[str]) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"in_memory": True})
    workbook.set_properties({"created": _FIXED_TIME})
    sheet = workbook.add_worksheet("Kartlegging")
    r = 0
    for text in title:
        if text:
            sheet.write_string(r, 0, text)
        r += 1
    sheet.write_row(r, 0, headers)
    r += 1
    for row in rows:
        if row is not None:
            for c, h in enumerate(headers):
                value = row.get(h)
                if value is not None and value != "":
                    sheet.write_string(r, c, str(value))
        r += 1
    workbook.close()


def _with_bad(
    valid: ValidRows,
    name: str,
    rule: str,
    description: str,
    year: int,
    codes: list[str],
    n: int,
    edits: list[tuple[int, Callable[[Row, list[str]], tuple[str, str]]]],
    empty_after: tuple[int, ...] = (),
    group: str = "rus",
) -> BadFile:
    """n valid rows; edits[i] = (row index, function that breaks the row and returns (rule, column))."""
    headers, rows = valid.make(year, codes, n, group)
    bad = BadFile(name=name, rule=rule, description=description, layout=valid.book.layout_for_year(year).name)
    bad.headers = headers
    rejected = []
    for index, edit in edits:
        rule_id, column = edit(rows[index], headers)
        rejected.append((index, rule_id, column))
    out: list[Row | None] = []
    mapping: dict[int, int] = {}
    for i, row in enumerate(rows):
        mapping[i] = len(out)
        out.append(row)
        if i in empty_after:
            out.append(None)
    bad.rows = out
    bad.rejected = [(mapping[i], r, c) for i, r, c in rejected]
    return bad


def _set(column: str, value: str | None, rule: str, report_column: str | None = None):
    def edit(row: Row, headers: list[str]) -> tuple[str, str]:
        row[column] = value
        return rule, report_column or column

    return edit


def _multi(changes: dict[str, str | None], rule: str, column: str):
    def edit(row: Row, headers: list[str]) -> tuple[str, str]:
        row.update(changes)
        return rule, column

    return edit


def build_bad_files(seed: int) -> list[BadFile]:
    v = ValidRows(seed)
    files: list[BadFile] = []
    osl = ["0301"]
    files.append(
        _with_bad(
            v,
            "BP2021_K0301_20220301.csv",
            "R01",
            "person or registration id missing, person id not 16 hex characters",
            2021,
            osl,
            50,
            [
                (2, _set("pseudo_id", None, "R01")),
                (7, _set("pseudo_id", "0123456789abcde", "R01")),
                (11, _set("pseudo_id", "0123456789abcdeg", "R01")),
                (20, _set("registrering_id", None, "R01")),
            ],
        )
    )
    files.append(
        _with_bad(
            v,
            "BP2021_F46_20220302.csv",
            "R02",
            "municipality unknown, not in force in 2021, outside the county, blank",
            2021,
            ["4601", "4602"],
            50,
            [
                (3, _set("kommunenummer", "9999", "R02")),
                (9, _set("kommunenummer", "1201", "R02")),
                (15, _set("kommunenummer", "0301", "R02")),
                (30, _set("kommunenummer", None, "R02")),
            ],
        )
    )
    r02b = _with_bad(
        v,
        "BP2021_K0301_20220303.xlsx",
        "R02",
        "xlsx with title rows and an empty row: municipality differs from the file's scope",
        2021,
        osl,
        20,
        [(9, _set("kommunenummer", "4601", "R02"))],
        empty_after=(4,),
    )
    r02b.fmt = "xlsx"
    r02b.title = ["BrukerPlan 2021 – 0301 Oslo", ""]
    files.append(r02b)
    files.append(
        _with_bad(
            v,
            "BP2021_K0301_20220304.csv",
            "R03",
            "birth year missing, age 15, age 106; one row breaking R03 and R05 (R03 wins), one breaking R02 and R04",
            2021,
            osl,
            60,
            [
                (1, _set("fodselsar", None, "R03")),
                (5, _set("fodselsar", "2006", "R03")),
                (8, _set("fodselsar", "1915", "R03")),
                (12, _multi({"fodselsar": None, "kartlagt_dato": None}, "R03", "fodselsar")),
                (17, _multi({"kommunenummer": "9999", "kjonn": "x"}, "R02", "kommunenummer")),
            ],
        )
    )
    files.append(
        _with_bad(
            v,
            "BP2021_K0301_20220305.csv",
            "R04",
            "values outside their code lists (v3), n_children 21, 'ingen' mixed with codes",
            2021,
            osl,
            140,
            [
                (0, _set("kjonn", "x", "R04")),
                (10, _set("levekar_bolig", "blå", "R04")),
                (20, _set("instans_kode", "11", "R04")),
                (30, _set("malgruppe", "annet", "R04")),
                (40, _set("barn_under_18", "kanskje", "R04")),
                (50, _set("omsorg_samvaer", "delt", "R04")),
                (60, _set("utdanning", "master", "R04")),
                (70, _set("hovedinntekt", "lotto", "R04")),
                (80, _set("rusmiddel_cannabis", "3", "R04")),
                (90, _set("tjenester_mottatt", "hjemmesykepleie;foo", "R04")),
                (100, _set("tjenester_anbefalt", "ingen;lar", "R04")),
                (110, _multi({"barn_under_18": "ja", "antall_barn": "21"}, "R04", "antall_barn")),
                (120, _set("levekarsindeks", "lilla", "R04")),
            ],
        )
    )
    files.append(
        _with_bad(
            v,
            "BP2019_F12_20200305.csv",
            "R04",
            "v2 codes outside their lists (county file of Hordaland, 2019)",
            2019,
            ["1201", "1246"],
            40,
            [
                (2, _set("Bosituasjon", "Blå", "R04")),
                (6, _set("Instans", "Legevakt", "R04")),
                (13, _set("Målgruppe", "X", "R04")),
            ],
        )
    )
    files.append(
        _with_bad(
            v,
            "BP2014_F16_20150305.csv",
            "R04",
            "v1 numeric codes outside their lists",
            2014,
            ["1601", "1653"],
            40,
            [
                (1, _set("Nettverk", "5", "R04")),
                (5, _set("Levekårsindeks", "5", "R04")),
                (9, _set("Kjønn", "3", "R04")),
                (14, _set("Instans", "11", "R04")),
            ],
        )
    )
    files.append(
        _with_bad(
            v,
            "BP2021_K0301_20220306.csv",
            "R05",
            "mapping date missing, impossible, outside the year, all digits; a dd.mm.yyyy date is accepted",
            2021,
            osl,
            50,
            [
                (4, _set("kartlagt_dato", None, "R05")),
                (8, _set("kartlagt_dato", "2021-02-30", "R05")),
                (12, _set("kartlagt_dato", "2020-12-31", "R05")),
                (16, _set("kartlagt_dato", "44300", "R05")),
            ],
        )
    )
    files[-1].rows[20]["kartlagt_dato"] = "31.12.2021"  # type: ignore[index]
    r06 = _with_bad(
        v,
        "BP2021_K0301_20220307.csv",
        "R06",
        "registration id repeated (twice after its first occurrence, and after a first occurrence rejected by R01)",
        2021,
        osl,
        50,
        [],
    )
    rows = r06.rows
    first, second = rows[3], rows[10]
    assert first is not None and second is not None
    rows[20]["registrering_id"] = first["registrering_id"]  # type: ignore[index]
    rows[30]["registrering_id"] = first["registrering_id"]  # type: ignore[index]
    second["pseudo_id"] = None
    rows[40]["registrering_id"] = second["registrering_id"]  # type: ignore[index]
    r06.rejected = [(10, "R01", "pseudo_id"), (20, "R06", "registrering_id"), (30, "R06", "registrering_id")]
    r06.rejected.append((40, "R06", "registrering_id"))
    files.append(r06)
    files.append(
        _with_bad(
            v,
            "BP2021_K0301_20220308.csv",
            "R07",
            "pregnant man; children counted but 'no children'",
            2021,
            osl,
            30,
            [
                (2, _multi({"kjonn": "mann", "gravid": "ja"}, "R07", "gravid")),
                (5, _multi({"barn_under_18": "nei", "antall_barn": "2"}, "R07", "antall_barn")),
            ],
        )
    )
    # Q07: reject threshold (default 10 % of data rows; an empty row is not a data row)
    files.append(
        _with_bad(
            v,
            "BP2021_K0301_20220309.csv",
            "Q07",
            "boundary: exactly 10 % of 20 data rows rejected (an empty row does not count) - lands",
            2021,
            osl,
            20,
            [(3, _set("pseudo_id", None, "R01")), (9, _set("fodselsar", None, "R03"))],
            empty_after=(5,),
        )
    )
    q07 = _with_bad(
        v,
        "BP2021_K0301_20220310.csv",
        "Q07",
        "just above the threshold: 2 of 19 data rows rejected (10.5 %) - quarantined",
        2021,
        osl,
        19,
        [(3, _set("pseudo_id", None, "R01")), (9, _set("fodselsar", None, "R03"))],
    )
    q07.quarantine, q07.rejected = "Q07", []
    files.append(q07)
    # quarantines of the whole file
    headers, rows_ok = v.make(2021, osl, 10)
    files.append(
        BadFile(
            "BP2021_K0301_20220311.xlsx", "Q01", "not a valid xlsx (text bytes)", None, raw_bytes=b"not a workbook\n"
        )
    )
    files[-1].quarantine = "Q01"
    undecodable = _csv_bytes(headers, rows_ok)[:200] + b"\x81\x8d\x8f\x90\x9d\xff\xfe\n"
    files.append(
        BadFile(
            "BP2021_K0301_20220312.csv",
            "Q01",
            "bytes that decode in none of UTF-8, UTF-8 with BOM, Windows-1252",
            None,
            raw_bytes=undecodable,
            quarantine="Q01",
        )
    )
    files.append(
        BadFile(
            "BP2021_K0301_20220313.csv",
            "Q02",
            "no row in the first 20 matches a layout's header",
            None,
            headers=["navn", "adresse", "telefon", "merknad"],
            rows=[{"navn": "A", "adresse": "B", "telefon": "1", "merknad": ""} for _ in range(5)],
            quarantine="Q02",
        )
    )
    missing = [h for h in headers if h != "fodselsar"]
    files.append(
        BadFile(
            "BP2021_K0301_20220314.csv",
            "Q03",
            "v3 layout recognised, required column fodselsar missing",
            "v3",
            headers=missing,
            rows=[dict(r) for r in rows_ok],
            quarantine="Q03",
        )
    )
    h1, rows1 = v.make(2014, ["1601", "1653"], 10)
    files.append(
        BadFile(
            "BP2014_F16_20150314.csv",
            "Q03",
            "v1 county file without Kommunenr (required unless the scope is a municipality)",
            "v1",
            headers=[h for h in h1 if h != "Kommunenr"],
            rows=[dict(r) for r in rows1],
            quarantine="Q03",
        )
    )
    files.append(BadFile("BP2021_K0301_20220315.csv", "Q04", "header only", "v3", headers=headers, quarantine="Q04"))
    files.append(
        BadFile(
            "BP2021_K0301_20220316.csv",
            "Q04",
            "header and fully empty rows only",
            "v3",
            headers=headers,
            rows=[None, None, None],
            quarantine="Q04",
        )
    )
    files.append(
        BadFile(
            "brukerplan_oslo_2021.csv",
            "Q05",
            "file name does not follow BP<year>_<scope>_<YYYYMMDD>[_<seq>]",
            "v3",
            headers=headers,
            rows=[dict(r) for r in rows_ok],
            quarantine="Q05",
        )
    )
    h2, rows2 = v.make(2019, osl, 10)
    files.append(
        BadFile(
            "BP2021_K0301_20220317.csv",
            "Q06",
            "v2 headers in a 2021 file (layout of another mapping year)",
            "v2",
            headers=h2,
            rows=rows2,
            quarantine="Q06",
        )
    )
    # Q09: same year, scope, date and seq, different bytes; landing order by name puts .csv before .xlsx
    h3, rows3 = v.make(2021, osl, 12)
    files.append(
        BadFile(
            "BP2021_K0301_20220320.csv",
            "Q09",
            "first of two deliveries with the same year, scope, date and seq - lands",
            "v3",
            headers=h3,
            rows=rows3,
        )
    )
    second_q09 = BadFile(
        "BP2021_K0301_20220320.xlsx",
        "Q09",
        "second delivery with the same year, scope, date and seq but other bytes - quarantined",
        "v3",
        headers=h3,
        rows=[dict(r) for r in rows3[:10]],
        quarantine="Q09",
        fmt="xlsx",
    )
    files.append(second_q09)
    # the same bytes again, under other names: nothing lands, whatever became of the first copy
    files.append(BadFile("BP2021_K0301_20220321.csv", "duplicate", "same bytes as the R01 file", None))
    files[-1].duplicate_of = "BP2021_K0301_20220301.csv"
    files.append(BadFile("BP2021_K0301_20220322.xlsx", "duplicate", "same bytes as the quarantined Q01 xlsx", None))
    files[-1].duplicate_of = "BP2021_K0301_20220311.xlsx"
    files.append(BadFile("kopi_BP2021_R07.csv", "duplicate", "same bytes as the R07 file, under a bad name", None))
    files[-1].duplicate_of = "BP2021_K0301_20220308.csv"
    return files


def _row_number(bad: BadFile, index: int) -> int:
    """Row number as a person counts it: title rows, then the header, then data (empty rows included)."""
    return len(bad.title) + 1 + index + 1


def write_bad_inputs(out: Path, seed: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    files = build_bad_files(seed)
    contents: dict[str, bytes] = {}
    expected = []
    for bad in files:
        path = out / bad.name
        if bad.duplicate_of:
            data = contents[bad.duplicate_of]
            path.write_bytes(data)
        elif bad.raw_bytes is not None:
            data = bad.raw_bytes
            path.write_bytes(data)
        elif bad.fmt == "xlsx":
            _write_xlsx(path, bad.headers, bad.rows, bad.title)
            data = path.read_bytes()
        else:
            data = _csv_bytes(bad.headers, bad.rows)
            path.write_bytes(data)
        contents[bad.name] = data
        entry: dict = {"file": bad.name, "rule": bad.rule, "description": bad.description, "layout": bad.layout}
        if bad.duplicate_of:
            entry.update(outcome="duplicate", duplicate_of=bad.duplicate_of)
        elif bad.quarantine:
            entry.update(outcome="quarantined", rule_id=bad.quarantine)
        else:
            data_rows = sum(1 for r in bad.rows if r is not None)
            rejected = sorted(
                ({"row": _row_number(bad, i), "rule_id": r, "column": c} for i, r, c in bad.rejected),
                key=lambda x: x["row"],
            )
            entry.update(
                outcome="landed",
                data_rows=data_rows,
                rows_landed=data_rows - len(rejected),
                rows_rejected=len(rejected),
                rejected=rejected,
            )
        expected.append(entry)
    document = {
        "about": (
            "Malformed extract files, one or more per rule of extract-format.md section 5, with the outcome the "
            "ingestor must give. Ingest them into a landing zone of their own, all in one run (the order rule "
            "of section 6 decides Q09 and the duplicates). Rows are numbered as a person counts them: title rows "
            "and the header included, fully empty rows occupy a number. 'column' is the header of the offending "
            "column as written in the file (for R07 the column that contradicts the other)."
        ),
        "reject_threshold": 0.10,
        "files": expected,
        "not_provoked": [
            {
                "rule_id": "Q08",
                "reason": (
                    "The validation suite runs on data that already passed the row rules R01-R07, so no file "
                    "can fail it unless the suite checks something the row rules do not. Test Q08 through a hook "
                    "in the ingestor (e.g. an extra expectation injected by the test) instead."
                ),
            }
        ],
    }
    (out / "expected.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return len(files)
