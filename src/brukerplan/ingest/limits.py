"""Limits the row rules (mapping) and the validation suite (validation) share; a module of their own so that the
validation process does not import the mapping's dependencies (polars) to read four constants."""

from __future__ import annotations

MIN_AGE, MAX_AGE = 16, 105
MAX_CHILDREN = 20
PERSON_ID_PATTERN = r"^[0-9a-f]{16}$"
