"""Settings of the warehouse (warehouse.md "Interfaces"): environment variables with defaults under the
project directory; a command-line option of the same name wins over the environment."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
"""The project root (where dbt_project.yml lives); the package sits in <root>/src/brukerplan."""

ENV = {
    "landing": "BRUKERPLAN_LANDING",
    "warehouse": "BRUKERPLAN_WAREHOUSE",
    "published": "BRUKERPLAN_PUBLISHED",
    "reports": "BRUKERPLAN_REPORTS",
    "returns": "BRUKERPLAN_RETURNS",
    "reject_threshold": "BRUKERPLAN_REJECT_THRESHOLD",
    "suppression_threshold": "BRUKERPLAN_SUPPRESSION_THRESHOLD",
}

DEFAULTS = {
    "landing": "data/landing",
    "warehouse": "warehouse/brukerplan.duckdb",
    "published": "published/brukerplan.duckdb",
    "reports": "reports",
    "returns": "returns",
    "reject_threshold": "0.10",
    "suppression_threshold": "5",
}


RETURN_KEYS_ENV = "BRUKERPLAN_RETURN_KEYS"
"""The keys file of the return packages (CSV municipality_code,secret); only a path, never a secret."""

NUMBERS = ("reject_threshold", "suppression_threshold")
"""The numeric settings: each command checks only those it uses (Settings.load `uses`)."""


class SettingsError(ValueError):
    """A setting has a value that cannot be used (a usage error, exit status 2)."""


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    published: Path
    reports: Path
    returns: Path = PROJECT_DIR / "returns"
    return_keys: Path | None = None  # BRUKERPLAN_RETURN_KEYS: no default, secrets live outside the project
    reject_threshold: float = 0.10
    suppression_threshold: int = 5
    project_dir: Path = field(default=PROJECT_DIR)

    @classmethod
    def load(
        cls, environ: dict[str, str] | None = None, uses: Collection[str] = NUMBERS, **overrides: object
    ) -> Settings:
        """Defaults < environment < explicit overrides (command-line options). None overrides are ignored.

        Relative paths from the environment or the command line resolve against the current directory;
        the defaults resolve against the project directory. Only the numeric settings in `uses` (the ones the
        command needs) are checked: a bad value of another one is not this command's business, and the
        setting keeps its default here."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        source: dict[str, str] = {}  # where each value came from, for the error messages
        for key, var in ENV.items():
            given = overrides.get(key)
            if given is not None:
                values[key], source[key] = given, "--" + key.replace("_", "-")
            elif var in env and env[var] != "":
                values[key], source[key] = env[var], f"environment variable {var}"
            else:
                values[key] = DEFAULTS[key] if key.endswith("threshold") else PROJECT_DIR / DEFAULTS[key]
                source[key] = "default"

        def number(key: str, kind: type[float] | type[int]) -> float | int:
            try:
                return kind(values[key])  # type: ignore[arg-type]
            except (TypeError, ValueError) as exc:
                what = "a whole number" if kind is int else "a number"
                raise SettingsError(f"{source[key]} must be {what}, got {values[key]!r}") from exc

        keys = overrides.get("return_keys") or env.get(RETURN_KEYS_ENV) or None
        for key in NUMBERS:
            if key not in uses:
                values[key], source[key] = DEFAULTS[key], "default"
        reject = float(number("reject_threshold", float))
        suppression = int(number("suppression_threshold", int))
        if not 0.0 <= reject <= 1.0:
            raise SettingsError(f"{source['reject_threshold']} must be between 0 and 1, got {reject}")
        if suppression < 1:
            raise SettingsError(f"{source['suppression_threshold']} must be at least 1, got {suppression}")
        return cls(
            landing=Path(str(values["landing"])).resolve(),
            warehouse=Path(str(values["warehouse"])).resolve(),
            published=Path(str(values["published"])).resolve(),
            reports=Path(str(values["reports"])).resolve(),
            returns=Path(str(values["returns"])).resolve(),
            return_keys=Path(str(keys)).resolve() if keys else None,
            reject_threshold=reject,
            suppression_threshold=suppression,
        )

    def with_paths(self, **paths: Path) -> Settings:
        return replace(self, **paths)

    def as_env(self) -> dict[str, str]:
        """The settings as environment variables, for subprocesses and dbt."""
        return {
            ENV["landing"]: str(self.landing),
            ENV["warehouse"]: str(self.warehouse),
            ENV["published"]: str(self.published),
            ENV["reports"]: str(self.reports),
            ENV["returns"]: str(self.returns),
            **({RETURN_KEYS_ENV: str(self.return_keys)} if self.return_keys else {}),
            ENV["reject_threshold"]: repr(self.reject_threshold),
            ENV["suppression_threshold"]: str(self.suppression_threshold),
        }
