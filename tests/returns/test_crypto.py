"""The workbook's password key chain (returns/crypto.py): the same bytes as msoffcrypto's own derivation, and a
workbook it encrypts opens with msoffcrypto's reader with the secret only."""

from __future__ import annotations

import io
import os

import msoffcrypto
import pytest
import xlsxwriter
from msoffcrypto.method.ecma376_agile import ECMA376Agile

from brukerplan.returns.crypto import encrypt_workbook, iterated_hash

LIBRARY = ECMA376Agile.__dict__["_derive_iterated_hash_from_password"]


@pytest.mark.parametrize(
    ("password", "spin"), [("s3cret", 0), ("s3cret", 1), ("Ærlig-øl-å ✓", 17), ("x" * 200, 1000), ("k", 100000)]
)
def test_the_chain_equals_msoffcrypto_s_own(password: str, spin: int) -> None:
    salt = os.urandom(16)
    expected = LIBRARY.__func__(password, salt, "SHA512", spin).digest()
    assert iterated_hash(password, salt, "SHA512", spin).digest() == expected


def test_another_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="SHA512 only"):
        iterated_hash("s3cret", b"salt", "SHA1", 10)


def _workbook() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.add_worksheet("Ark").write(0, 0, "ØÆÅ")
    book.close()
    return out.getvalue()


def test_an_encrypted_workbook_opens_with_the_secret_only_and_the_library_is_left_as_it_was() -> None:
    plain = _workbook()
    encrypted = encrypt_workbook(plain, "kommunens-hemmelighet")
    assert ECMA376Agile.__dict__["_derive_iterated_hash_from_password"] is LIBRARY
    assert plain not in encrypted
    office = msoffcrypto.OfficeFile(io.BytesIO(encrypted))
    office.load_key(password="kommunens-hemmelighet")
    out = io.BytesIO()
    office.decrypt(out)
    assert out.getvalue() == plain
    wrong = msoffcrypto.OfficeFile(io.BytesIO(encrypted))
    wrong.load_key(password="en-annen")
    with pytest.raises(msoffcrypto.exceptions.InvalidKeyError):
        wrong.decrypt(io.BytesIO())
