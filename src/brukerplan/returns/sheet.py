"""The one-user sheet (warehouse.md "Returning data", "One-user sheet"): for one person registered by one
municipality, the areas and the index as colour strips per mapping year, the services received and recommended
per year, and the date and agency of each registration; nothing about other persons. HTML rendered in memory,
printed to PDF by Chromium from a data: URL (no file on the way), encrypted by the caller."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import polars as pl
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from brukerplan import __version__
from brukerplan.returns.workbook import AREAS, Labels, services_text

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_person(
    registrations: pl.DataFrame, labels: Labels, municipality: tuple[str, str], created_at: datetime
) -> str:
    """HTML of the sheet from the person's rows of fct_return_registration (one municipality's only)."""
    code, name = municipality
    chosen = registrations.sort(["mapping_year", "is_kept", "completeness"], descending=[False, True, True])
    per_year = chosen.unique(subset=["mapping_year"], keep="first", maintain_order=True)
    years = per_year["mapping_year"].to_list()
    areas = []
    for area in [*AREAS, "living_index"]:
        column = "living_index" if area == "living_index" else f"area_{area}"
        cells = [
            {"colour": colour, "label": labels.colours.get(colour, colour)} for colour in per_year[column].to_list()
        ]
        areas.append({"label": labels.areas.get(area, area), "cells": cells})
    services = [
        {
            "year": r["mapping_year"],
            "received": services_text(r["services_received"], labels.services),
            "recommended": services_text(r["services_recommended"], labels.services),
        }
        for r in per_year.iter_rows(named=True)
    ]
    rows = [
        {
            "year": r["mapping_year"],
            "mapped_on": r["mapped_on"],
            "agency": f"{r['agency_code']} {labels.agencies.get(r['agency_code'], '')}".strip(),
            "registration_id": r["registration_id"],
        }
        for r in chosen.iter_rows(named=True)
    ]
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined
    )
    return env.get_template("person.html.j2").render(
        person_id=registrations["person_id"][0],
        municipality_code=code,
        municipality_name=name,
        years=years,
        areas=areas,
        services=services,
        registrations=rows,
        created_at=created_at.isoformat(timespec="seconds"),
        version=__version__,
    )


def print_pdf(html: str) -> bytes:
    """The page printed to PDF by the distribution's Chromium, from a data: URL (never written to disk)."""
    from brukerplan.report.browser import Chromium

    url = "data:text/html;base64," + base64.b64encode(html.encode("utf-8")).decode("ascii")
    with Chromium() as browser:
        tab = browser.tab()
        tab.open(url)
        data = tab.pdf_bytes()
        tab.close()
    return data
