"""Encryption of a package's files in memory (nothing person-level touches the disk in the clear): the workbook
with standard Office encryption (agile, AES-256, msoffcrypto-tool), PDFs with AES-256 (pikepdf, revision 6)."""

from __future__ import annotations

import io

import msoffcrypto.format.ooxml
import pikepdf


def encrypt_workbook(data: bytes, secret: str) -> bytes:
    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(data)).encrypt(secret, out)
    return out.getvalue()


def encrypt_pdf(data: bytes, secret: str) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner=secret, user=secret, R=6))
    return out.getvalue()
