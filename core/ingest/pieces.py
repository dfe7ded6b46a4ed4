"""Cutting a CSV body into pieces of whole records: quotes paired on the way, streamed pieces checked."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from core.errors import IngestError
from core.ingest.encoding import is_valid_utf8
from core.ingest.lines import file_line_numbers
from core.ingest.source import NeedsWholeFile

PIECE_BYTES = 4 << 20  # the body is parsed in pieces of about this size (bounds peak memory)


@dataclass
class Piece:
    """``data[lo:hi]`` is a run of whole records starting at byte ``offset`` of the text."""

    offset: int
    data: bytes | bytearray
    lo: int
    hi: int
    quoted: bool


def file_pieces(path: Path, start: int, delimiter: str, name: str) -> Iterator[Piece]:
    """Pieces of a streamed file, each checked: a NUL byte or an unclosed quote is an error;
    non-UTF-8 bytes or stray quotes need the whole-file path (``NeedsWholeFile``)."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        offset = start
        while offset < size:
            fh.seek(offset)
            data = fh.read(PIECE_BYTES)
            try:
                cut, quoted = _next_cut(data, 0, len(data), delimiter, fh.tell() >= size)
                while cut < 0:  # a record longer than a piece
                    data += fh.read(PIECE_BYTES)
                    cut, quoted = _next_cut(data, 0, len(data), delimiter, fh.tell() >= size)
            except _StrayQuotes:
                raise NeedsWholeFile("quotes inside unquoted fields") from None
            except _Unclosed as exc:
                _raise_unclosed(name, file_line_numbers(path, [exc.position + offset])[0],
                                bytes(data[exc.position:exc.position + 60]))
            _check_text(data, cut, offset, path, name)
            yield Piece(offset, data, 0, cut, quoted)
            offset += cut


def buffer_pieces(buf: bytes | bytearray, start: int, delimiter: str, name: str) -> Iterator[Piece]:
    """Pieces of an in-memory body; after a stray quote, the rest is one piece checked by the exact rule."""
    pos, n = start, len(buf)
    while pos < n:
        hi = min(n, pos + PIECE_BYTES)
        try:
            cut, quoted = _next_cut(buf, pos, hi, delimiter, hi == n)
            while cut < 0:
                hi = min(n, hi + PIECE_BYTES)
                cut, quoted = _next_cut(buf, pos, hi, delimiter, hi == n)
        except _StrayQuotes:
            full = np.frombuffer(buf, dtype=np.uint8)
            opener = _unclosed_quote_exact(full, np.flatnonzero(full[pos:] == 34) + pos, ord(delimiter), pos)
            if opener >= 0:
                _raise_unclosed(name, buf.count(b"\n", 0, opener) + 1, bytes(buf[opener:opener + 60]))
            cut, quoted = n, True
        except _Unclosed as exc:
            _raise_unclosed(name, buf.count(b"\n", 0, exc.position) + 1, bytes(buf[exc.position:exc.position + 60]))
        yield Piece(pos, buf, pos, cut, quoted)
        pos = cut


class _StrayQuotes(Exception):
    """A quote sits inside an unquoted field, so quotes cannot be paired in order."""


class _Unclosed(Exception):
    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


def _next_cut(data, lo: int, hi: int, delimiter: str, final: bool) -> tuple[int, bool]:
    """Where the piece starting at ``lo`` should end, and whether it holds quotes.

    ``lo`` is a record start. The cut is just after the last line end in ``data[lo:hi]`` outside
    quotes (``hi`` itself when ``final``), -1 if there is none yet. Quotes are paired in order,
    which is exact when every quote sits at a field edge (else ``_StrayQuotes``). At the end of
    the data an unpaired quote raises ``_Unclosed`` with its position.
    """
    full = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(full[lo:hi] == 34) + lo if data.find(b'"', lo, hi) >= 0 else _NONE
    if len(quotes) and not _at_field_edges(full, quotes, delimiter, lo):
        raise _StrayQuotes()
    if final:
        if len(quotes) % 2:
            raise _Unclosed(int(quotes[-1]))
        return hi, bool(len(quotes))
    nl = data.rfind(b"\n", lo, hi)
    while nl >= 0:
        k = int(np.searchsorted(quotes, nl))
        if k % 2 == 0:
            return nl + 1, bool(k)
        nl = data.rfind(b"\n", lo, int(quotes[k - 1]))
    return -1, bool(len(quotes))


_NONE = np.zeros(0, dtype=np.int64)


def _at_field_edges(full: np.ndarray, quotes: np.ndarray, delimiter: str, start: int) -> bool:
    """Openers follow a delimiter, line end or quote; closers precede one (then pairing in order is exact).

    A closer on the last byte held is accepted: what follows is checked with the next piece.
    """
    edge = np.zeros(256, dtype=bool)
    edge[[ord(delimiter), 10, 13, 34]] = True
    openers, closers = quotes[0::2], quotes[1::2]
    ok_open = edge[full[np.maximum(openers - 1, 0)]] | (openers == start)
    last = len(full) - 1
    ok_close = edge[full[np.minimum(closers + 1, last)]] | (closers == last)
    return bool(ok_open.all() and ok_close.all())


def _unclosed_quote_exact(arr: np.ndarray, quotes: np.ndarray, delim: int, start: int) -> int:
    """The CSV rule: a quote opens a field only at its start; '""' inside is an escaped quote."""
    inside, opened, i, n = False, -1, 0, len(quotes)
    field_start = {delim, 10, 13}
    while i < n:
        p = int(quotes[i])
        if not inside:
            if p == start or int(arr[p - 1]) in field_start:
                inside, opened = True, p
            i += 1
        elif i + 1 < n and int(quotes[i + 1]) == p + 1:
            i += 2
        else:
            inside = False
            i += 1
    return opened if inside else -1


def _raise_unclosed(name: str, line: int, head: bytes) -> None:
    """Name the line where a quoted field opens and never closes; ``head`` is the text from the quote."""
    line_text = head.decode("utf-8", "replace").split("\n")[0].rstrip("\r")
    raise IngestError(
        f"{name}: line {line}: a quoted field starts here but its closing quote is never found "
        f"(unterminated quote at {line_text!r}).")


def _check_text(data: bytes, cut: int, offset: int, path: Path, name: str) -> None:
    """A streamed piece must be NUL-free UTF-8."""
    nul = data.find(b"\x00", 0, cut)
    if nul >= 0:
        line = file_line_numbers(path, [offset + nul])[0]
        raise IngestError(
            f"{name}: looks like binary data, not CSV text (NUL byte at offset {offset + nul}, line {line}). "
            "Export the data as CSV (UTF-8) or Parquet.")
    if not data.isascii() and not is_valid_utf8(memoryview(data)[:cut], 0):
        raise NeedsWholeFile("bytes that are not UTF-8 after the first MB")
