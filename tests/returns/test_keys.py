"""The return keys file: secrets only from a file that only its owner can read, every bad line named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brukerplan.returns.keys import ReturnKeysError, load_keys


def _keys(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "keys.csv"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def test_a_good_file_gives_one_secret_per_municipality(tmp_path: Path) -> None:
    path = _keys(tmp_path, 'municipality_code,secret\n0301,oslo-secret-1\n\n5001,"trondheim, with comma"\n')
    assert load_keys(path) == {"0301": "oslo-secret-1", "5001": "trondheim, with comma"}


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_other_users_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = _keys(tmp_path, "0301,oslo-secret-1\n", mode)
    with pytest.raises(ReturnKeysError, match=f"{mode:04o}.*chmod 600"):
        load_keys(path)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("municipality_code,secret\n0301,oslo-secret-1\n301,short-code-x\n", "line 3: '301' is not a 4-digit"),
        ("0301,oslo-secret-1\n0301,again-secret\n", "line 2: municipality 0301 appears twice"),
        ("0301,oslo-secret-1,extra\n", "line 1: expected `municipality_code,secret`"),
        ("0301,short\n", "line 1: the secret of municipality 0301 is shorter than 8"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ReturnKeysError) as caught:
        load_keys(_keys(tmp_path, text))
    assert named in str(caught.value) and str(tmp_path / "keys.csv") in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReturnKeysError, match="no such file"):
        load_keys(tmp_path / "absent.csv")
