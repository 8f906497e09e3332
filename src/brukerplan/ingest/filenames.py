"""File names of extracts (extract-format.md §1): BP<year>_<scope>_<YYYYMMDD>[_<seq>].<xlsx|csv>."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

NAME_PATTERN = re.compile(
    r"^BP(?P<year>\d{4})_(?P<scope>K\d{4}|F\d{2}|NO)_(?P<date>\d{8})(?:_(?P<seq>\d{1,2}))?\.(?P<ext>xlsx|csv)$",
    re.IGNORECASE,
)

SCOPE_TYPES = {"K": "municipality", "F": "county", "N": "national"}


@dataclass(frozen=True)
class ExtractName:
    """What the file name says about a submission."""

    original: str
    year: int
    scope: str  # K0301 | F03 | NO
    scope_type: str  # municipality | county | national
    delivered_on: date
    seq: int
    fmt: str  # xlsx | csv

    @property
    def scope_code(self) -> str | None:
        """The municipality (4 digits) or county (2 digits) code of the scope; None for national files."""
        return None if self.scope_type == "national" else self.scope[1:]

    @property
    def order_key(self) -> tuple:
        """Landing order within one run (§6): mapping year, delivery date, seq, file name."""
        return (self.year, self.delivered_on, self.seq, self.original)

    @property
    def delivery_key(self) -> tuple:
        """Year, scope, delivery date (ISO text) and seq: two different files with the same key are ambiguous
        (Q09)."""
        return (self.year, self.scope, self.delivered_on.isoformat(), self.seq)


class BadFileName(ValueError):
    """The file name does not follow extract-format.md §1 (Q05)."""


def parse_name(name: str) -> ExtractName:
    """Parse a file name; raise BadFileName with a plain-words reason when it does not follow §1."""
    match = NAME_PATTERN.match(name)
    if not match:
        raise BadFileName(
            f"file name '{name}' does not follow BP<year>_<K<4 digits>|F<2 digits>|NO>_<YYYYMMDD>[_<seq>].<xlsx|csv>"
        )
    raw_date = match["date"]
    try:
        delivered = date(int(raw_date[:4]), int(raw_date[4:6]), int(raw_date[6:]))
    except ValueError as exc:
        raise BadFileName(f"file name '{name}': delivery date '{raw_date}' is not a valid date") from exc
    seq = int(match["seq"]) if match["seq"] is not None else 0
    if match["seq"] is not None and not 1 <= seq <= 99:
        raise BadFileName(f"file name '{name}': sequence number '{match['seq']}' is not between 1 and 99")
    scope = match["scope"].upper()
    return ExtractName(
        original=name,
        year=int(match["year"]),
        scope=scope,
        scope_type=SCOPE_TYPES[scope[0]],
        delivered_on=delivered,
        seq=seq,
        fmt=match["ext"].lower(),
    )
