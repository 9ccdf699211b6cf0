"""What a file really is, from its first bytes, and whether its name can be kept (pure).

The client's content type and extension are claims; the magic bytes decide. Accepted
types are PDF, PNG and JPEG (what one-stop desks scan to). A file whose bytes are some
other known kind (an executable, an archive, a script) is named as such in the refusal.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Accepted types: content type → (extensions, magic prefixes).
ACCEPTED: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {
    "application/pdf": ((".pdf",), (b"%PDF-",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
}
#: Recognised but refused kinds, to say what a disguised file really is.
REFUSED: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "a Linux executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"#!", "a script"),
    (b"<!DOCTYPE html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<svg", "an SVG image (may carry scripts)"),
    (b"GIF8", "a GIF image"),
)
SNIFF_BYTES = 16
MAX_FILENAME = 200


@dataclass(frozen=True)
class Sniffed:
    """The verdict on a file's first bytes."""

    content_type: str | None  # an accepted type, or None
    looks_like: str | None  # a refused kind it was recognised as, if any


def sniff(head: bytes) -> Sniffed:
    """Identify a file from its first bytes."""
    for content_type, (_, magics) in ACCEPTED.items():
        if any(head.startswith(m) for m in magics):
            return Sniffed(content_type, None)
    lowered = head.lower()
    for magic, kind in REFUSED:
        if head.startswith(magic) or lowered.startswith(magic.lower()):
            return Sniffed(None, kind)
    return Sniffed(None, None)


def extension_type(filename: str) -> str | None:
    """The accepted content type an extension claims, if any."""
    lowered = filename.lower()
    for content_type, (extensions, _) in ACCEPTED.items():
        if lowered.endswith(extensions):
            return content_type
    return None


def filename_problem(filename: str) -> str | None:
    """Why a client filename cannot even be displayed back, or None when it can.

    Files are stored under generated names whatever the client says; a name with path
    parts, control characters or a reserved device name is refused outright rather than
    "cleaned", so nobody later trusts a cleaned path by mistake.
    """
    if not filename or not filename.strip():
        return "the filename is empty"
    if len(filename) > MAX_FILENAME:
        return f"the filename is longer than {MAX_FILENAME} characters"
    if "/" in filename or "\\" in filename:
        return "the filename contains a path separator"
    if filename in (".", "..") or filename.startswith(".."):
        return "the filename is a relative path"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in filename):
        return "the filename contains control characters"
    if ":" in filename:
        return "the filename contains a drive or stream separator"
    stem = filename.split(".", 1)[0].upper()
    if stem in {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                *(f"LPT{i}" for i in range(10))}:
        return "the filename is a reserved device name"
    return None
