"""Header-row and layout detection (extract-format.md §6): the first of the first 20 non-empty rows that holds
at least half of some layout's required headers; the layout with the highest share wins, a tie is Q02."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from brukerplan.codes import Layout, normalise
from brukerplan.ingest.errors import Quarantine

HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class HeaderMatch:
    row_index: int  # index of the header row in the sheet (0-based)
    layout: str
    share: float


def is_blank(cells: Sequence[object | None]) -> bool:
    return all(c is None or str(c).strip() == "" for c in cells)


Required = list[tuple[str, frozenset[str]]]
"""Each layout's name with its required headers normalised: computed once per header search, not once per row."""


def required_headers(layouts: Iterable[Layout]) -> Required:
    return [(layout.name, frozenset(normalise(h) for h in layout.required_headers)) for layout in layouts]


def layout_shares(cells: Sequence[object | None], required: Required) -> dict[str, float]:
    """Share of each layout's required headers present in a row."""
    present = {normalise(str(c)) for c in cells if c is not None}
    return {name: len(wanted & present) / len(wanted) for name, wanted in required}


def match_row(cells: Sequence[object | None], required: Required) -> tuple[str | None, float, bool]:
    """(best layout or None, its share, tie) for one row; None when no layout reaches half."""
    shares = layout_shares(cells, required)
    best = max(shares.values(), default=0.0)
    if best < 0.5:
        return None, best, False
    winners = [name for name, share in shares.items() if share == best]
    return winners[0], best, len(winners) > 1


def find_header(
    rows: Iterable[tuple[int, Sequence[object | None]]], layouts: Iterable[Layout], where: str
) -> HeaderMatch:
    """Search the first 20 non-empty rows (index, cells) for the header row; raise Q02 when there is none or a tie."""
    required = required_headers(layouts)
    seen = 0
    for index, cells in rows:
        if is_blank(cells):
            continue
        seen += 1
        if seen > HEADER_SEARCH_ROWS:
            break
        name, share, tie = match_row(cells, required)
        if name is None:
            continue
        if tie:
            raise Quarantine(
                "Q02",
                f"{where}, row {index + 1}: the header row fits several layouts equally well "
                f"({share:.0%} of the required headers each); layout not recognised",
                {"row": index + 1},
            )
        return HeaderMatch(index, name, share)
    raise Quarantine(
        "Q02",
        f"{where}: none of the first {HEADER_SEARCH_ROWS} non-empty rows holds at least half of the required headers "
        "of any layout (v1, v2, v3); layout not recognised",
    )
