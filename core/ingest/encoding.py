"""Bringing a file's bytes to UTF-8: BOMs, UTF-16/32, UTF-8 validation, a guess for 8-bit text; binary refused."""
from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import charset_normalizer
import numpy as np
import pyarrow as pa

from core.errors import IngestError

_BINARY_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SQLite format 3": "an SQLite database",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ": "an xz archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
}
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_SNIFF_BYTES = 64 * 1024  # the head searched for line ends
_VALIDATE_BYTES = 8 << 20  # UTF-8 is validated in pieces of this size


@dataclass
class Text:
    """UTF-8 bytes of the file (``start`` skips a UTF-8 BOM) and what the encoding was.

    With ``path`` set, ``buf`` is only the head of the file and the body is streamed from ``path``.
    """

    buf: bytes | bytearray
    start: int
    encoding: str
    bom: bool
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


def decode(data: bytes | bytearray, name: str) -> Text:
    """Check for binary content, bring any supported encoding to UTF-8, and CR-only line ends to LF."""
    text = _decode_bytes(data, name)
    head = text.buf[:_SNIFF_BYTES]
    if b"\n" not in head and b"\r" in head:  # classic Mac line ends
        text.buf = bytes(text.buf).replace(b"\r", b"\n")
        text.notes.append("Line ends were bare carriage returns (old Mac style); read them as new lines.")
    return text


def is_valid_utf8(data: bytes | bytearray, start: int) -> bool:
    """Arrow's (SIMD) UTF-8 check on the whole buffer as one string value, without copying it."""
    buf = pa.py_buffer(data).slice(start)
    offsets = pa.py_buffer(np.array([0, buf.size], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buf]).cast(pa.large_string())
        return True
    except pa.ArrowInvalid:
        return False


def _decode_bytes(data: bytes | bytearray, name: str) -> Text:
    if not data:
        raise IngestError(f"{name} is empty (0 bytes).")
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise IngestError(f"{name} is {what}, not a CSV or Parquet file. Save or export it as CSV first.")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding == "utf-8":
                _check_nul(data, name)
                _validate_utf8(data, 3, name)
                return Text(data, 3, "utf-8", True)
            return _transcode(data, encoding, name, bom=True)
    utf16 = _sniff_utf16(data)
    if utf16:
        return _transcode(data, utf16, name, bom=False)
    _check_nul(data, name)
    if data.isascii():
        return Text(data, 0, "utf-8", False)
    try:
        _validate_utf8(data, 0, name)
        return Text(data, 0, "utf-8", False)
    except UnicodeDecodeError as exc:
        encoding = _guess_encoding(data, exc.start, name)
    text = _transcode(data, encoding, name, bom=False)
    text.notes.append(f"The file is not UTF-8; read it as {encoding} (guessed from its bytes).")
    return text


def _validate_utf8(data: bytes | bytearray, start: int, name: str) -> None:
    """Raise UnicodeDecodeError (``start`` = offset in ``data``) unless the bytes are UTF-8.

    Decoded in chunks and discarded: validating must not hold a second copy of the file.
    """
    if is_valid_utf8(data, start):
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for pos in range(start, max(len(data), start + 1), _VALIDATE_BYTES):
        chunk = view[pos:pos + _VALIDATE_BYTES]
        try:
            decoder.decode(chunk, final=pos + len(chunk) >= len(data))
        except UnicodeDecodeError as exc:
            bad_at = min(pos + max(exc.start, 0), len(data) - 1)
            if start:  # a BOM promised UTF-8 but the bytes are not: name the place
                line = data.count(b"\n", 0, bad_at) + 1
                raise IngestError(
                    f"{name}: starts with a UTF-8 byte-order mark but line {line} is not valid UTF-8 "
                    f"(byte 0x{data[bad_at]:02x}). Save the file as UTF-8 again.") from None
            raise UnicodeDecodeError("utf-8", bytes(data[bad_at:bad_at + 1]), bad_at, bad_at + 1,
                                     exc.reason) from None


def _check_nul(data: bytes | bytearray, name: str) -> None:
    pos = data.find(b"\x00")
    if pos >= 0:
        line = data.count(b"\n", 0, pos) + 1
        raise IngestError(
            f"{name}: looks like binary data, not CSV text (NUL byte at offset {pos}, line {line}). "
            "Export the data as CSV (UTF-8) or Parquet.")


def _sniff_utf16(data: bytes | bytearray) -> str | None:
    """UTF-16 without a BOM: about every other byte of ASCII-range text is NUL."""
    head = bytes(data[:4096])
    if len(head) < 4 or head.count(0) < len(head) // 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _transcode(data: bytes | bytearray, encoding: str, name: str, bom: bool) -> Text:
    codec = {"utf-16-le": "utf-16", "utf-16-be": "utf-16", "utf-32-le": "utf-32", "utf-32-be": "utf-32"}
    try:
        text = data.decode(codec.get(encoding, encoding) if bom else encoding)
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: is not valid {encoding} text (byte offset {exc.start}).") from None
    except LookupError:
        raise IngestError(f"{name}: unknown text encoding {encoding!r}.") from None
    if "\x00" in text:
        pos = text.index("\x00")
        line = text.count("\n", 0, pos) + 1
        raise IngestError(f"{name}: looks like binary data (NUL character on line {line} after decoding {encoding}).")
    return Text(text.encode("utf-8"), 0, encoding, bom)


_WESTERN_SYMBOLS = set("€£¥¢°§©®«»–—…‘’‚“”„•™×÷¿¡½¼¾µºª±·¶†‡‰\u00a0")


def _guess_encoding(data: bytes | bytearray, bad_at: int, name: str) -> str:
    """The likeliest 8-bit encoding of bytes that are not UTF-8.

    Western text (cp1252, which covers latin-1's printable characters) is by far the commonest
    case for CSV exports and is taken when it decodes plausibly: accented letters and usual
    symbols, mostly next to ASCII letters. Anything else is charset-normalizer's best guess.
    """
    sample = bytes(data[:32_768]) + b"\n" + bytes(data[max(0, bad_at - 16_384): bad_at + 16_384])
    try:
        if _plausible_western(sample.decode("cp1252")):
            return "cp1252"
    except UnicodeDecodeError:
        pass
    best = _prefer_windows(list(charset_normalizer.from_bytes(sample)))
    if best is None:
        line = data.count(b"\n", 0, bad_at) + 1
        raise IngestError(
            f"{name}: unknown text encoding — not UTF-8, and no known encoding fits (line {line}, "
            f"byte 0x{data[bad_at]:02x}). Save the file as UTF-8 and upload it again.")
    return best.encoding


def _prefer_windows(matches: list) -> Any:
    """charset-normalizer's best match, but a Windows code page over a near-equal Mac one
    (short samples cannot tell them apart; Windows exports are far more common)."""
    if not matches:
        return None
    best = matches[0]
    if best.encoding.startswith("mac_"):
        for other in matches[1:]:
            if (other.encoding.startswith("cp125") and other.chaos <= best.chaos + 0.1
                    and other.coherence >= best.coherence - 0.1):
                return other
    return best


def _plausible_western(text: str) -> bool:
    """Non-ASCII characters are letters or usual symbols, and letters sit among ASCII letters
    (Cyrillic or Greek read as cp1252 gives whole words of accented letters)."""
    high = [i for i, ch in enumerate(text) if ord(ch) > 127]
    if not high:
        return True
    odd = sum(1 for i in high if not text[i].isalpha() and (text[i] not in _WESTERN_SYMBOLS or _inside_word(text, i)))
    runs = sum(1 for i in high if 0 < i < len(text) - 1 and ord(text[i - 1]) > 127 and ord(text[i + 1]) > 127)
    return odd <= 0.02 * len(high) and runs <= 0.3 * len(high)


def _inside_word(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha()
