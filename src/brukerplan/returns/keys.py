"""The return keys file (BRUKERPLAN_RETURN_KEYS): CSV `municipality_code,secret`, outside the project, readable
by its owner only. Secrets never come from the repository or the command line."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

from brukerplan.restricted import write_private_text

MIN_SECRET_LENGTH = 8


class ReturnKeysError(ValueError):
    """The keys file cannot be used (names the file, and the line where there is one)."""


def load_keys(path: Path) -> dict[str, str]:
    """Municipality code -> secret. Refuses a file others can read or write, a
    malformed line, a duplicate municipality and a secret shorter than MIN_SECRET_LENGTH characters."""
    path = path.resolve()
    if not path.is_file():
        raise ReturnKeysError(f"keys file {path}: no such file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ReturnKeysError(
            f"keys file {path}: mode {mode:04o} lets other users read or write it; run `chmod 600 {path}`"
        )
    keys: dict[str, str] = {}
    text = path.read_text(encoding="utf-8-sig")
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if number == 1 and row[0].strip().lower() == "municipality_code":
            continue
        if len(row) != 2:
            raise ReturnKeysError(f"keys file {path}, line {number}: expected `municipality_code,secret`")
        code, secret = row[0].strip(), row[1]
        if not (len(code) == 4 and code.isdigit()):
            raise ReturnKeysError(f"keys file {path}, line {number}: {code!r} is not a 4-digit municipality code")
        if code in keys:
            raise ReturnKeysError(f"keys file {path}, line {number}: municipality {code} appears twice")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ReturnKeysError(
                f"keys file {path}, line {number}: the secret of municipality {code} is shorter than "
                f"{MIN_SECRET_LENGTH} characters"
            )
        keys[code] = secret
    return keys


def write_throwaway_keys(path: Path, codes: list[str]) -> Path:
    """A keys file with a fresh random secret per municipality, for the demo's synthetic data only (real
    secrets are made and handed over outside the project: docs/returns.md). Written 0600 and renamed into place,
    so it never exists with a wider mode or half written."""
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{code},{secrets.token_urlsafe(24)}\n" for code in sorted(set(codes))]
    return write_private_text(path, "municipality_code,secret\n" + "".join(lines))
