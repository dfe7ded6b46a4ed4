"""The CSV dialect: a ``sep=`` line or the most consistent delimiter, the header record, unique names."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import pyarrow.csv as pcsv

from core.errors import IngestError
from core.ingest.encoding import Text
from core.ingest.lines import line_end, sample_end

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024  # the first rows the delimiter is sniffed from
_MAX_HEADER_BYTES = 512 * 1024  # a quoted header name may wrap lines this far


@dataclass
class Dialect:
    """How the CSV is written: the delimiter, where the body starts, the header cells as written."""

    delimiter: str
    body_start: int  # byte offset of the first data record
    fields: list[str]  # header cells as written
    notes: list[str] = field(default_factory=list)


def sniff_dialect(text: Text, name: str) -> Dialect:
    """Delimiter (``sep=`` line, else the most consistent candidate) and the header record."""
    start = _skip_blank_lines(text.buf, text.start)
    if start >= len(text.buf):
        raise IngestError(f"{name}: contains only blank lines.")
    notes: list[str] = []
    first_end = line_end(text.buf, start)
    first = bytes(text.buf[start:first_end]).decode("utf-8", "replace").strip()
    forced = None
    if re.fullmatch(r"sep=.", first):
        forced = first[4]
        notes.append(f"Used the delimiter from the file's first line '{first}'.")
        start = _skip_blank_lines(text.buf, first_end)
        if start >= len(text.buf):
            raise IngestError(f"{name}: has no header line after '{first}'.")
    sample = _sample_text(text.buf, start, _SNIFF_BYTES)
    delimiter = forced or _best_delimiter(sample)
    body_start = _record_end(text.buf, start, name)
    header_text = bytes(text.buf[start:body_start]).decode("utf-8", "replace")
    try:
        fields = next(csv.reader(io.StringIO(header_text, newline=""), delimiter=delimiter), [])
    except csv.Error as exc:
        line = text.buf.count(b"\n", 0, start) + 1
        raise IngestError(f"{name}: line {line}: the header cannot be read ({exc}).") from None
    fields = [f.strip().lstrip("\ufeff").strip() for f in fields]
    return Dialect(delimiter, body_start, fields, notes)


def dedupe_headers(fields: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Blank headers become ``column_<n>``; repeats become ``name_2``, ``name_3``...; report each."""
    names: list[str] = []
    renamed: list[tuple[str, str]] = []
    written = {f for f in fields if f}
    for i, original in enumerate(fields):
        new = original or f"column_{i + 1}"
        if new in names or (not original and new in written):
            base, k = new, 2
            while f"{base}_{k}" in names or f"{base}_{k}" in written:
                k += 1
            new = f"{base}_{k}"
        names.append(new)
        if new != original:
            renamed.append((original, new))
    return names, renamed


def parse_options(delimiter: str, quoted: bool, handler) -> pcsv.ParseOptions:
    """Arrow's parse options: ``quoted`` allows line ends inside quoted values; ``handler`` sees ragged rows."""
    return pcsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                             newlines_in_values=quoted, ignore_empty_lines=True, invalid_row_handler=handler)


def _best_delimiter(sample: str) -> str:
    """The candidate whose field count is most consistent across rows (header included)."""
    best, best_score = ",", (0.0, 0)
    for delim in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(io.StringIO(sample, newline=""), delimiter=delim) if row][:200]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = (round(consistent, 2), counts[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def _skip_blank_lines(buf, pos: int) -> int:
    """Offset of the first line at or after ``pos`` holding more than whitespace."""
    while pos < len(buf):
        end = line_end(buf, pos)
        if bytes(buf[pos:end]).strip():
            return pos
        pos = end
    return pos


def _record_end(buf, pos: int, name: str) -> int:
    """End of the record at ``pos``: newlines inside quotes do not end it (the header may wrap)."""
    end = line_end(buf, pos)
    while buf.count(b'"', pos, end) % 2 and end < len(buf):
        if end - pos > _MAX_HEADER_BYTES:
            break
        end = line_end(buf, end)
    if buf.count(b'"', pos, end) % 2:
        line = buf.count(b"\n", 0, pos) + 1
        raise IngestError(f"{name}: line {line}: the header has a quoted name whose closing quote is never found "
                          "(unterminated quote).")
    return end


def _sample_text(buf, start: int, size: int) -> str:
    end = sample_end(buf, start, size)
    return bytes(buf[start:end]).decode("utf-8", "replace")
