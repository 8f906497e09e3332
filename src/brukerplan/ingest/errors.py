"""The one exception a file-level rule raises: the file is quarantined (extract-format.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Quarantine(Exception):
    rule_id: str  # Q01..Q09
    message: str
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.message}"
