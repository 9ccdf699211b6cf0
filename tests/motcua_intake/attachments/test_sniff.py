"""Magic bytes and filenames (pure)."""

from __future__ import annotations

import pytest

from motcua_intake.attachments.sniff import extension_type, filename_problem, sniff


class TestSniff:
    @pytest.mark.parametrize(("head", "kind"), [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    ])
    def test_accepted_kinds(self, head: bytes, kind: str) -> None:
        assert sniff(head).content_type == kind

    @pytest.mark.parametrize(("head", "looks_like"), [
        (b"MZ\x90\x00", "a Windows executable"),
        (b"\x7fELF\x02", "a Linux executable"),
        (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
        (b"<!doctype html>", "an HTML page"),
        (b"#!/bin/sh", "a script"),
    ])
    def test_refused_kinds_are_named(self, head: bytes, looks_like: str) -> None:
        assert sniff(head).content_type is None
        assert sniff(head).looks_like == looks_like

    def test_unknown_bytes(self) -> None:
        assert sniff(b"hello").content_type is None and sniff(b"hello").looks_like is None

    def test_extension_claims(self) -> None:
        assert extension_type("Giấy Chứng Sinh.PDF") == "application/pdf"
        assert extension_type("anh.JPEG") == "image/jpeg"
        assert extension_type("virus.pdf.exe") is None


class TestFilenames:
    @pytest.mark.parametrize("name", ["../x.pdf", "a/b.pdf", "a\\b.pdf", "..", "C:x.pdf",
                                      "a\nb.pdf", "a\u202eb.pdf", "NUL.pdf", "lpt1.png", "",
                                      " ", "x" * 201])
    def test_refused(self, name: str) -> None:
        assert filename_problem(name) is not None

    @pytest.mark.parametrize("name", ["Tờ khai đăng ký khai sinh.pdf", "scan 01.png",
                                      "a..b.pdf", "con-trai.pdf"])
    def test_kept(self, name: str) -> None:
        assert filename_problem(name) is None
