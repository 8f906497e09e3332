"""From the person table of one year to every registration written to a file: the files of the year
(municipal, county, national; resubmissions), agencies and mapping dates, duplicates designed so that the
de-duplication rule keeps the person's own registration on a known criterion, and superseded earlier versions.

Every row carries what the truth needs: whether it is current (rule 1), whether it is the kept registration
(rule 3), and for a dropped one the criterion that decides and the kept registration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from brukerplan.codes import load_codebook
from brukerplan.synth.config import load_params
from brukerplan.synth.participation import Participants
from brukerplan.synth.people import AREAS
from brukerplan.synth.reference import Municipality
from brukerplan.synth.rng import rng_for

ENCODINGS = ("utf-8", "utf-8-sig", "cp1252")
DELIMITERS = (";", ",", "\t")
SHEETS = ("Kartlegging", "Data", "Ark1")
XLSX_STYLES = ("typed", "serial", "text")
EXTRA_COLUMNS = ("Kommentar", "Saksbehandler", "Bydel")
AGENCY_CODES = tuple(f"{i:02d}" for i in range(1, 11))
AGENCY_DTYPE = f"<U{max(map(len, AGENCY_CODES))}"
KNOWN_ITEMS = (*(f"area_{a}" for a in AREAS), "living_index", "received_known", "recommended_known")
CRITERIA = ("completeness", "date", "agency", "delivery_or_id")


@dataclass
class FilePlan:
    """One extract file: its name, delivery and how it is written."""

    name: str
    year: int
    scope: str  # K0301 | F34 | NO
    layout: str
    fmt: str  # csv | xlsx
    delivered_on: date
    seq: int
    encoding: str | None = None
    delimiter: str | None = None
    quote_all: bool = False
    crlf: bool = False
    sheet: str | None = None
    title_rows: int = 0
    xlsx_style: str | None = None
    extras: tuple[str, ...] = ()
    with_municipality: bool = True
    v2_lower: bool = False
    blank_zeros: bool = False
    upper_ids: bool = False
    header_style: str = "plain"  # plain | upper | padded | nfd


def file_name(year: int, scope: str, delivered: date, seq: int, fmt: str) -> str:
    suffix = f"_{seq}" if seq else ""
    return f"BP{year}_{scope}_{delivered:%Y%m%d}{suffix}.{fmt}"


class YearDeliveries:
    """Builds the files and registrations of one mapping year."""

    def __init__(self, seed: int, year: int, persons: pl.DataFrame, participants: dict[str, Participants]) -> None:
        self.seed = seed
        self.year = year
        self.persons = persons
        self.participants = participants
        self.params = load_params()
        self.book = load_codebook()
        self.layout = self.book.layout_for_year(year).name
        self.rng = rng_for(seed, "deliveries", year)
        munis: dict[str, Municipality] = {}
        for part in participants.values():
            for m in part.municipalities:
                munis[m.code] = m
        self.munis = dict(sorted(munis.items()))
        self.files: dict[str, FilePlan] = {}
        self.primary: dict[str, str] = {}  # municipality -> file holding its current rows
        self.old_versions: list[tuple[str, str]] = []  # (municipality, file holding a superseded version)

    # ---------------------------------------------------------------- files
    def _new_file(self, scope: str, delivered: date, seq: int, fmt: str) -> FilePlan:
        plan = FilePlan(
            name=file_name(self.year, scope, delivered, seq, fmt),
            year=self.year,
            scope=scope,
            layout=self.layout,
            fmt=fmt,
            delivered_on=delivered,
            seq=seq,
        )
        if plan.name in self.files:  # same municipality, date and format twice: move one day
            return self._new_file(scope, delivered + timedelta(days=1), seq, fmt)
        self.files[plan.name] = plan
        return plan

    def plan_files(self) -> None:
        rng = self.rng
        d = self.params["delivery"]
        counties = sorted({m.county for m in self.munis.values()})
        window_start: dict[str, date] = {}
        window_days: dict[str, int] = {}
        for county in counties:
            start = date(self.year, 2, 1) + timedelta(days=int(rng.integers(0, 240)))
            window_start[county] = start
            window_days[county] = int(rng.integers(30, 61))
        self.window_start, self.window_days = window_start, window_days

        def window_end(county: str) -> date:
            return window_start[county] + timedelta(days=window_days[county])

        national = self.year in d["national_file_years"]
        via_national = {c for c in counties if national and rng.random() < d["national_file_county_share"]}
        channel: dict[str, str] = {}
        for code, m in self.munis.items():
            size = "small" if m.pop16 < 5000 else "medium" if m.pop16 < 20000 else "large"
            u = rng.random()
            if u < d["municipal_xlsx"][size]:
                channel[code] = "xlsx"
            elif u < d["municipal_xlsx"][size] + d["municipal_csv"]:
                channel[code] = "csv"
            else:
                channel[code] = "NO" if m.county in via_national else "F"
        # county and national files, with whole-file resubmissions for some counties
        latest_shared: dict[str, FilePlan] = {}
        for county in counties:
            members = [c for c in self.munis if self.munis[c].county == county and channel[c] == "F"]
            if not members:
                continue
            delivered = window_end(county) + timedelta(days=int(rng.integers(15, 46)))
            if rng.random() < d["resubmit_county"]:
                if rng.random() < 0.5:
                    old = self._new_file(f"F{county}", delivered, 1, "csv")
                    new = self._new_file(f"F{county}", delivered, 2, "csv")
                else:
                    old = self._new_file(f"F{county}", delivered - timedelta(days=int(rng.integers(7, 41))), 0, "csv")
                    new = self._new_file(f"F{county}", delivered, 0, "csv")
                self.old_versions += [(c, old.name) for c in members]
            else:
                new = self._new_file(f"F{county}", delivered, 0, "csv")
            for c in members:
                self.primary[c] = new.name
                latest_shared[c] = new
        no_members = [c for c in self.munis if channel[c] == "NO"]
        if no_members:
            last = max(window_end(self.munis[c].county) for c in no_members)
            plan = self._new_file("NO", last + timedelta(days=int(rng.integers(20, 61))), 0, "csv")
            for c in no_members:
                self.primary[c] = plan.name
                latest_shared[c] = plan
        # municipal files, resubmitted or correcting a county/national file
        for code, m in self.munis.items():
            if channel[code] in ("xlsx", "csv"):
                delivered = window_end(m.county) + timedelta(days=int(rng.integers(5, 31)))
                if rng.random() < d["resubmit_municipal"]:
                    if rng.random() < 0.5:
                        old = self._new_file(f"K{code}", delivered, 0, channel[code])
                        new = self._new_file(f"K{code}", delivered, 2, channel[code])
                    else:
                        earlier = delivered - timedelta(days=int(rng.integers(10, 61)))
                        old = self._new_file(f"K{code}", earlier, 0, channel[code])
                        new = self._new_file(f"K{code}", delivered, 0, channel[code])
                    self.old_versions.append((code, old.name))
                else:
                    new = self._new_file(f"K{code}", delivered, 0, channel[code])
                self.primary[code] = new.name
            elif rng.random() < d["corrected_by_municipal"]:
                shared = latest_shared[code]
                fmt = "xlsx" if rng.random() < 0.5 else "csv"
                if rng.random() < d["same_day_tie_share"]:
                    new = self._new_file(f"K{code}", shared.delivered_on, shared.seq, fmt)
                else:
                    new = self._new_file(
                        f"K{code}", shared.delivered_on + timedelta(days=int(rng.integers(3, 60))), 0, fmt
                    )
                self.old_versions += [(code, f) for f in self._shared_files_of(code)]
                self.primary[code] = new.name
        self._styles()

    def _shared_files_of(self, code: str) -> list[str]:
        """County or national files that hold rows of this municipality (its old versions included)."""
        out = [name for c, name in self.old_versions if c == code]
        out.append(self.primary[code])
        return out

    def _styles(self) -> None:
        rng = self.rng
        d = self.params["delivery"]
        names = sorted(self.files)
        csv_files = [n for n in names if self.files[n].fmt == "csv"]
        combos = [(e, s) for e in ENCODINGS for s in DELIMITERS]
        offset = int(rng.integers(0, len(combos)))
        for i, name in enumerate(csv_files):
            plan = self.files[name]
            plan.encoding, plan.delimiter = combos[(i + offset) % len(combos)]
            plan.quote_all = rng.random() < 0.15
            plan.crlf = plan.encoding == "cp1252" or rng.random() < 0.3
        xlsx_files = [n for n in names if self.files[n].fmt == "xlsx"]
        for i, name in enumerate(xlsx_files):
            plan = self.files[name]
            plan.sheet = SHEETS[int(rng.integers(0, len(SHEETS)))]
            plan.title_rows = int(rng.integers(0, 4))
            plan.xlsx_style = XLSX_STYLES[(i + offset) % len(XLSX_STYLES)]
        for name in names:
            plan = self.files[name]
            if rng.random() < d["extra_columns_share"]:
                k = int(rng.integers(1, 4))
                plan.extras = tuple(sorted(rng.choice(EXTRA_COLUMNS, size=k, replace=False).tolist()))
            plan.v2_lower = rng.random() < 0.2
            plan.blank_zeros = rng.random() < 0.5
            plan.upper_ids = rng.random() < 0.1
            u = rng.random()
            plan.header_style = "upper" if u < 0.05 else "padded" if u < 0.10 else "nfd" if u < 0.15 else "plain"
            if plan.header_style == "nfd" and plan.encoding == "cp1252":
                plan.header_style = "plain"  # combining marks do not exist in Windows-1252
            if self.layout == "v1" and plan.scope.startswith("K"):
                plan.with_municipality = plan.fmt == "csv" and rng.random() < 0.5

    # ---------------------------------------------------------------- registrations
    def _agency_sets(self) -> dict[str, np.ndarray]:
        a = self.params["agencies"]
        out = {}
        for code, m in self.munis.items():
            rng = rng_for(self.seed, "agencies", code)
            extra = int(rng.poisson(max(0.0, (np.log10(m.pop16) - 2.8) * a["extra_per_log10_pop"])))
            others = [c for c in AGENCY_CODES if c not in a["always"]]
            weights = np.array([a["rus"][c] for c in others])
            chosen = rng.choice(others, size=min(extra, len(others)), replace=False, p=weights / weights.sum())
            out[code] = np.array(sorted({*a["always"], *chosen.tolist()}))
        return out

    def registrations(self, new_keys) -> pl.DataFrame:
        """All rows of the year's files. new_keys(n) gives n unused person ids (for rows later withdrawn)."""
        rng = self.rng
        params = self.params
        persons = self.persons
        n = persons.height
        agency_sets = self._agency_sets()
        # rows of each municipality in row order (a stable sort by municipality: no per-row Python objects)
        position = {code: i for i, code in enumerate(self.munis)}
        muni_of = persons["municipality_code"].replace_strict(position, return_dtype=pl.Int32).to_numpy()
        by_muni = np.argsort(muni_of, kind="stable")
        bounds = np.searchsorted(muni_of[by_muni], np.arange(len(position) + 1))
        is_rus = (persons["target_group"] == "rus").to_numpy()
        agency = np.empty(n, dtype=AGENCY_DTYPE)
        mapped = np.empty(n, dtype="datetime64[D]")
        for k, code in enumerate(self.munis):
            idx = by_muni[bounds[k] : bounds[k + 1]]
            if not len(idx):
                continue
            for group in ("rus", "mental"):
                gi = idx[is_rus[idx] == (group == "rus")]
                options = agency_sets[code]
                w = np.array([params["agencies"][group][c] for c in options])
                agency[gi] = rng.choice(options, size=len(gi), p=w / w.sum())
            county = self.munis[code].county
            start = np.datetime64(self.window_start[county])
            mapped[idx] = start + rng.integers(0, self.window_days[county], size=len(idx))
        winners = persons.with_columns(
            pl.Series("agency_code", agency),
            pl.Series("mapped_on", mapped),
            pl.lit(True).alias("is_current"),
            pl.lit(True).alias("is_winner"),
            pl.lit(None, dtype=pl.String).alias("criterion"),
            pl.int_range(0, n, dtype=pl.Int64).alias("person_row"),
        )
        losers = self._losers(winners, agency_sets)
        current = pl.concat([winners, losers], how="diagonal_relaxed")
        current = current.with_columns(
            pl.col("municipality_code").replace_strict(self.primary, return_dtype=pl.String).alias("file")
        )
        old = self._old_versions(current, new_keys)
        rows = pl.concat([current, old], how="diagonal_relaxed")
        return self._ids(rows)

    def _losers(self, winners: pl.DataFrame, agency_sets: dict[str, np.ndarray]) -> pl.DataFrame:
        rng = self.rng
        dp = self.params["duplicates"]
        n = winners.height
        u = rng.random(n)
        extra = np.where(u < dp["share_three"], 2, np.where(u < dp["share_three"] + dp["share_two"], 1, 0))
        src = np.repeat(np.arange(n), extra)
        m = len(src)
        if m == 0:
            return winners.clear()
        base = winners[src]
        crit_p = np.array([dp["criteria"][c] for c in CRITERIA])
        criterion = rng.choice(len(CRITERIA), size=m, p=crit_p / crit_p.sum())
        w_agency = base["agency_code"].to_numpy().astype(str)
        w_code = base["municipality_code"].to_numpy().astype(str)
        w_group = base["target_group"].to_numpy().astype(str)
        w_date = base["mapped_on"].to_numpy().astype("datetime64[D]")
        criterion[(criterion == CRITERIA.index("agency")) & (w_agency == "10")] = CRITERIA.index("delivery_or_id")
        # municipality of the dropped registration: sometimes another participating one (same county if any)
        cross = rng.random(m) < dp["cross_municipality"]
        loser_code = w_code.copy()
        by_group = {g: [mm.code for mm in p.municipalities] for g, p in self.participants.items()}
        picks: dict[tuple[str, str], list[str]] = {}  # (group, municipality) -> where its dropped rows may go

        def choices(group: str, code: str) -> list[str]:
            options = [c for c in by_group[group] if c != code]
            same_county = [c for c in options if self.munis[c].county == self.munis[code].county]
            return same_county or options

        for i in np.flatnonzero(cross):
            key = (w_group[i], w_code[i])
            pick = picks.get(key)
            if pick is None:
                pick = picks[key] = choices(*key)
            if not pick:
                continue
            candidate = pick[int(rng.integers(0, len(pick)))]
            if CRITERIA[criterion[i]] == "delivery_or_id":
                mine, theirs = self.files[self.primary[w_code[i]]], self.files[self.primary[candidate]]
                if mine.name != theirs.name and not ((theirs.delivered_on, theirs.seq) > (mine.delivered_on, mine.seq)):
                    continue
            loser_code[i] = candidate
        # agency
        loser_agency = w_agency.copy()
        for i in range(m):
            crit = CRITERIA[criterion[i]]
            options = agency_sets[loser_code[i]]
            if crit in ("completeness", "date"):
                loser_agency[i] = options[int(rng.integers(0, len(options)))]
            elif crit == "agency":
                higher = [c for c in options if c > w_agency[i]] or [c for c in AGENCY_CODES if c > w_agency[i]]
                loser_agency[i] = higher[int(rng.integers(0, len(higher)))]
        # mapping date
        loser_date = w_date.copy()
        is_date = criterion == CRITERIA.index("date")
        loser_date[is_date] = w_date[is_date] - rng.integers(1, 31, size=int(is_date.sum()))
        is_compl = criterion == CRITERIA.index("completeness")
        for i in np.flatnonzero(is_compl):
            county = self.munis[loser_code[i]].county
            loser_date[i] = np.datetime64(self.window_start[county]) + int(rng.integers(0, self.window_days[county]))
        # completeness: blank 1-3 of the kept registration's known items
        known = np.column_stack(
            [base[c].to_numpy() > 0 if c.startswith(("area_", "living")) else base[c].to_numpy() for c in KNOWN_ITEMS]
        )
        n_known = known.sum(axis=1)
        criterion[is_compl & (n_known == 0)] = CRITERIA.index("date")
        is_compl = criterion == CRITERIA.index("completeness")
        priority = np.where(known, rng.random(known.shape), np.inf)
        rank = np.argsort(np.argsort(priority, axis=1), axis=1)
        k = np.minimum(rng.integers(1, 4, size=m), n_known)
        blank = is_compl[:, None] & (rank < k[:, None]) & known
        changes = {}
        for j, item in enumerate(KNOWN_ITEMS):
            col = base[item].to_numpy().copy()
            if item.startswith(("area_", "living")):
                shift = rng.random(m) < 0.15
                top = 4 if item == "living_index" else 3
                moved = np.clip(col + rng.choice([-1, 1], size=m), 1, top)
                col = np.where(shift & (col > 0), moved, col)
                col = np.where(blank[:, j], 0, col).astype(np.int8)
            else:
                col = np.where(blank[:, j], False, col)
            changes[item] = col
        flips_r = rng.random((m, 19)) < 0.04
        flips_c = rng.random((m, 19)) < 0.04
        bits = 1 << np.arange(19)
        recv = base["received_mask"].to_numpy() ^ (flips_r * bits).sum(axis=1).astype(np.int32)
        rec = base["recommended_mask"].to_numpy() ^ (flips_c * bits).sum(axis=1).astype(np.int32)
        county_of = {c: mm.county for c, mm in self.munis.items()}
        return base.with_columns(
            *(pl.Series(item, changes[item]) for item in KNOWN_ITEMS),
            pl.Series("received_mask", np.where(changes["received_known"], recv, 0).astype(np.int32)),
            pl.Series("recommended_mask", np.where(changes["recommended_known"], rec, 0).astype(np.int32)),
            pl.Series("municipality_code", loser_code.astype(str)),
            pl.Series("county_code", [county_of[c] for c in loser_code]),
            pl.Series("agency_code", loser_agency.astype(str)),
            pl.Series("mapped_on", loser_date),
            pl.lit(False).alias("is_winner"),
            pl.Series("criterion", [CRITERIA[c] for c in criterion], dtype=pl.String),
            pl.Series("kept_municipality_code", w_code),
        )

    def _old_versions(self, current: pl.DataFrame, new_keys) -> pl.DataFrame:
        """Superseded versions: the municipality's current rows minus a few, plus a few later withdrawn,
        with some values that the correction changed."""
        rng = self.rng
        parts = []
        for code, name in self.old_versions:
            rows = current.filter(pl.col("municipality_code") == code)
            if rows.height == 0:
                continue
            keep = rng.random(rows.height) >= 0.05
            if not keep.any():
                keep[0] = True
            kept = rows.filter(pl.Series(keep))
            n_ghost = int(rng.binomial(rows.height, 0.03))
            if n_ghost:
                ghosts = rows[rng.integers(0, rows.height, size=n_ghost)].with_columns(
                    pl.Series("person_id", new_keys(n_ghost))
                )
                kept = pl.concat([kept, ghosts])
            shift = rng.random(kept.height) < 0.1
            col = kept["area_housing"].to_numpy()
            col = np.where(shift & (col > 0), np.clip(col + 1, 1, 3), col).astype(np.int8)
            parts.append(
                kept.with_columns(
                    pl.Series("area_housing", col),
                    pl.lit(name).alias("file"),
                    pl.lit(False).alias("is_current"),
                    pl.lit(False).alias("is_winner"),
                    pl.lit(None, dtype=pl.String).alias("criterion"),
                    pl.lit(None, dtype=pl.String).alias("kept_municipality_code"),
                )
            )
        if not parts:
            return current.clear()
        return pl.concat(parts, how="diagonal_relaxed")

    def _ids(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Row order within each file (random) and registration ids of equal width, so that the kept
        registration has the lowest id among the same person's rows in a file."""
        rng = self.rng
        rows = rows.with_columns(pl.Series("shuffle", rng.random(rows.height)))
        rows = rows.with_columns(
            (pl.col("shuffle").rank("ordinal").over("file") - 1).cast(pl.Int64).alias("row_order"),
            pl.Series("id_draw", rng.random(rows.height)),
        )
        rows = rows.with_columns((pl.col("id_draw").rank("ordinal").over("file")).cast(pl.Int64).alias("id_rank"))
        rows = rows.sort(["file", "person_id", "is_winner", "id_rank"], descending=[False, False, True, False])
        rows = rows.with_columns(pl.col("id_rank").sort().over(["file", "person_id"]).alias("id_rank"))
        scope = pl.col("file").str.split("_").list.get(1)
        if self.layout == "v1":
            reg = (pl.col("id_rank") + 100000).cast(pl.String)
        elif self.layout == "v2":
            reg = pl.lit(str(self.year)) + pl.col("id_rank").cast(pl.String).str.zfill(6)
        else:
            reg = scope + pl.lit("-") + pl.col("id_rank").cast(pl.String).str.zfill(6)
        rows = rows.with_columns(reg.alias("registration_id")).drop("shuffle", "id_draw", "id_rank")
        kept = rows.filter(pl.col("is_winner")).select(
            "person_id", pl.col("file").alias("kept_file"), pl.col("registration_id").alias("kept_registration_id")
        )
        rows = rows.join(kept, on="person_id", how="left")
        rows = rows.with_columns(
            pl.when(pl.col("is_current") & ~pl.col("is_winner"))
            .then(pl.col("kept_file"))
            .otherwise(None)
            .alias("kept_file"),
            pl.when(pl.col("is_current") & ~pl.col("is_winner"))
            .then(pl.col("kept_registration_id"))
            .otherwise(None)
            .alias("kept_registration_id"),
        )
        return rows.sort(["file", "row_order"])
