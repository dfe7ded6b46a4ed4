"""Loading a path or bytes: gzip stream-decompressed under a size cap, large plain UTF-8 files only sniffed."""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import IngestError
from core.ingest.report import IngestLimits, format_size

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
HEAD_BYTES = 1 << 20  # a path's first MB: sniffing and profiling; the body is then streamed


@dataclass
class Loaded:
    """The bytes to read: the whole content, or (``path`` set) only the head of a plain UTF-8 file."""

    data: bytes | bytearray
    format: str  # "csv" | "csv.gz" | "parquet"
    path: Path | None = None


class NeedsWholeFile(Exception):
    """A streamed file turned out to need the whole-file path (stray quotes, non-UTF-8 bytes)."""


def load(source: str | os.PathLike | bytes, name: str, limits: IngestLimits) -> Loaded:
    """The content (gunzipped with a size cap), or for a large plain UTF-8 CSV only its head."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source) if isinstance(source, memoryview) else source
        if data[:2] == _GZIP_MAGIC:
            view = memoryview(data)
            return Loaded(_gunzip((view[i:i + _CHUNK] for i in range(0, len(view), _CHUNK)), name, limits), "csv.gz")
        return Loaded(data, "parquet" if data[:4] == b"PAR1" else "csv")
    path = Path(source)
    with _open(path, name) as fh:
        head = fh.read(HEAD_BYTES)
        if head[:2] == _GZIP_MAGIC:
            fh.seek(0)
            return Loaded(_gunzip(iter(lambda: fh.read(_CHUNK), b""), name, limits), "csv.gz")
        if head[:4] == b"PAR1" or len(head) < HEAD_BYTES:
            data = head + fh.read()
            return Loaded(data, "parquet" if data[:4] == b"PAR1" else "csv")
        head += fh.readline()
    if _plain_utf8(head):
        return Loaded(head, "csv", path)
    return Loaded(read_path(path, name), "csv")


def read_path(path: Path, name: str) -> bytes:
    """The whole file, with ``IngestError`` for a missing, folder or unreadable path."""
    with _open(path, name) as fh:
        return fh.read()


def hinted_parquet(name: str) -> bool:
    """Whether the file name promises Parquet (then CSV bytes are refused, not misread)."""
    return name.lower().endswith((".parquet", ".pq", ".parq"))


def _open(path: Path, name: str) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise IngestError(f"{name}: file not found.") from None
    except IsADirectoryError:
        raise IngestError(f"{name}: is a folder, not a file.") from None
    except PermissionError:
        raise IngestError(f"{name}: permission denied.") from None


def _plain_utf8(head: bytes) -> bool:
    """Whether a file can be streamed: its head is UTF-8 (BOM allowed) with no NUL."""
    if b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\n" not in head:
        return False
    if head.isascii():
        return True
    try:
        str(head, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _gunzip(chunks, name: str, limits: IngestLimits) -> bytearray:
    """Stream-decompress gzip members, stopping as soon as the output passes the limit."""
    out = bytearray()
    inflater = zlib.decompressobj(wbits=31)
    limit = limits.max_decompressed_bytes
    try:
        for chunk in chunks:
            while chunk:
                out += inflater.decompress(chunk, _CHUNK)
                if len(out) > limit:
                    raise IngestError(
                        f"{name}: decompresses to more than {format_size(limit)} (the limit, "
                        "TXLAB_MAX_DECOMPRESSED_MB); refusing to expand it further.")
                chunk = inflater.unconsumed_tail
                if inflater.eof:
                    rest = inflater.unused_data
                    if rest[:2] != _GZIP_MAGIC:  # trailing padding after the last member
                        return out
                    inflater, chunk = zlib.decompressobj(wbits=31), rest
    except zlib.error as exc:
        raise IngestError(f"{name}: corrupt gzip data ({exc}).") from None
    if not inflater.eof:
        raise IngestError(f"{name}: the gzip data is truncated (the file ends before the compressed stream does).")
    return out
