"""Rows with the wrong number of fields: found again in the piece's bytes and reported by line number."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import IngestError
from core.ingest.encoding import Text
from core.ingest.lines import file_line_numbers, line_numbers
from core.ingest.pieces import Piece
from core.ingest.report import IngestLimits, IngestReport

_MAX_STORED_BAD_ROWS = 10_000


@dataclass
class Ragged:
    """Rows Arrow dropped for having the wrong number of fields."""

    count: int = 0
    expected: int = 0
    actual: int = 0  # fields in the first one
    offsets: list[int] = field(default_factory=list)  # byte offsets of (up to 10,000) of them


def collect_ragged(ragged: Ragged, bad: list[tuple[int, int, str]], piece: Piece) -> None:
    """Count a piece's dropped rows and find (up to 10,000 in all) of them again in its bytes."""
    if not ragged.count:
        ragged.expected, ragged.actual = bad[0][0], bad[0][1]
    ragged.count += len(bad)
    room = _MAX_STORED_BAD_ROWS - len(ragged.offsets)
    if room > 0:
        found = _locate_rows(piece.data, [t for _, _, t in bad[:room]], piece.lo, piece.hi)
        ragged.offsets.extend(piece.offset + (pos - piece.lo) for pos in found)


def report_ragged(report: IngestReport, text: Text, ragged: Ragged, n_rows: int,
                  limits: IngestLimits, name: str) -> None:
    """Physical line numbers of dropped rows; refuse a file where no row fits the header."""
    if n_rows == 0 and not ragged.count:
        raise IngestError(f"{name}: has a header line but no data rows.")
    if not ragged.count:
        return
    offsets = sorted(ragged.offsets)
    lines = file_line_numbers(text.path, offsets) if text.path else line_numbers(text.buf, offsets)
    if n_rows == 0:
        where = f"line {lines[0]}" if lines else "the first data row"
        raise IngestError(
            f"{name}: no data row has the {ragged.expected} fields of the header ({where} has {ragged.actual}). "
            "Check the delimiter and the header line.")
    report.ragged_count = ragged.count
    report.ragged_lines = lines[: limits.max_listed_lines]


def _locate_rows(buf, texts: list[str], lo: int, hi: int) -> list[int]:
    """Offsets in ``buf[lo:hi]`` of whole lines equal to each text (texts may repeat)."""
    used: set[int] = set()
    cursor = lo
    for text in texts:
        raw = text.encode("utf-8")
        pos = _find_line(buf, raw, cursor, lo, hi, used)
        if pos < 0:
            pos = _find_line(buf, raw, lo, lo, hi, used)
        if pos >= 0:
            used.add(pos)
            cursor = pos + len(raw)
    return sorted(used)


def _find_line(buf, raw: bytes, start: int, lo: int, hi: int, used: set[int]) -> int:
    pos = buf.find(raw, start, hi)
    while pos >= 0:
        end = pos + len(raw)
        at_start = pos == lo or buf[pos - 1] == 10
        at_end = end == hi or buf[end] in (10, 13)
        if at_start and at_end and pos not in used:
            return pos
        pos = buf.find(raw, pos + 1, hi)
    return -1
