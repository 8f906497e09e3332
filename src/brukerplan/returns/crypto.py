"""Encryption of a package's files in memory (nothing person-level touches the disk in the clear): the workbook
with standard Office encryption (agile, AES-256, msoffcrypto-tool), PDFs with AES-256 (pikepdf, revision 6).

The agile encryption's password key is SHA-512 iterated 100,000 times (the spin count Office writes). That chain
is most of a small package's time, and msoffcrypto hashes it with OpenSSL through `hashlib`, whose per-call set-up
costs more than the 68 bytes hashed. `iterated_hash` computes the same chain with CPython's own SHA-512 (`_sha512`,
about 40 % less time here, decisions T9) and is put in msoffcrypto's place for the one call that encrypts;
tests/returns/test_crypto.py checks it against msoffcrypto's own derivation."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import msoffcrypto.format.ooxml
import pikepdf
from msoffcrypto.method.ecma376_agile import ECMA376Agile

try:  # CPython's own SHA-512 (the same digests as hashlib's), cheaper to start per call
    from _sha512 import sha512 as _SHA512
except ImportError:  # a Python built without it: OpenSSL's, as msoffcrypto uses
    from hashlib import sha512 as _SHA512

_COUNTER = struct.Struct("<I").pack


@dataclass(frozen=True)
class _Digest:
    """What msoffcrypto expects back from its derivation: an object with `digest()`."""

    value: bytes

    def digest(self) -> bytes:
        return self.value


def iterated_hash(password: str, salt: bytes, hash_name: str, spin_count: int) -> _Digest:
    """H0 = SHA-512(salt + password as UTF-16LE), then H(i+1) = SHA-512(i as 4 bytes little-endian + H(i)) for i
    below the spin count ([MS-OFFCRYPTO] 2.3.4.11). Only SHA-512 (what msoffcrypto writes)."""
    if hash_name != "SHA512":
        raise ValueError(f"iterated_hash computes SHA512 only, not {hash_name}")
    sha512 = _SHA512
    digest = sha512(salt + password.encode("UTF-16LE")).digest()
    for i in range(spin_count):
        digest = sha512(_COUNTER(i) + digest).digest()
    return _Digest(digest)


@contextmanager
def _fast_derivation() -> Iterator[None]:
    original = ECMA376Agile.__dict__["_derive_iterated_hash_from_password"]
    ECMA376Agile._derive_iterated_hash_from_password = staticmethod(iterated_hash)  # type: ignore[method-assign]
    try:
        yield
    finally:
        ECMA376Agile._derive_iterated_hash_from_password = original  # type: ignore[method-assign]


def encrypt_workbook(data: bytes, secret: str) -> bytes:
    out = io.BytesIO()
    with _fast_derivation():
        msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(data)).encrypt(secret, out)
    return out.getvalue()


def encrypt_pdf(data: bytes, secret: str) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner=secret, user=secret, R=6))
    return out.getvalue()
