"""Byte offsets and lines in UTF-8 CSV text: line ends, sample cuts between records, line numbers."""
from __future__ import annotations

from pathlib import Path

READ_BYTES = 4 << 20  # a file is counted through in chunks of this size


def line_end(buf, pos: int) -> int:
    """Offset just past the newline that ends the line at ``pos`` (or the end of the buffer)."""
    nl = buf.find(b"\n", pos)
    return len(buf) if nl < 0 else nl + 1


def sample_end(buf, start: int, size: int) -> int:
    """A cut near ``start + size`` at a line end outside quotes (so no record is split)."""
    if len(buf) - start <= size:
        return len(buf)
    end = buf.rfind(b"\n", start, start + size) + 1
    if end <= start:
        return line_end(buf, start + size)
    while end > start and buf.count(b'"', start, end) % 2:
        end = buf.rfind(b"\n", start, end - 1) + 1
    return end if end > start else len(buf)


def line_numbers(buf, offsets: list[int]) -> list[int]:
    """1-based line numbers of sorted byte offsets."""
    lines, last, line = [], 0, 1
    for pos in offsets:
        line += buf.count(b"\n", last, pos)
        last = pos
        lines.append(line)
    return lines


def file_line_numbers(path: Path, offsets: list[int]) -> list[int]:
    """``line_numbers`` for a file on disk, streamed."""
    lines: list[int] = []
    line, base = 1, 0
    pending = iter(sorted(offsets))
    target = next(pending, None)
    with path.open("rb") as fh:
        while target is not None:
            chunk = fh.read(READ_BYTES)
            if not chunk:
                break
            while target is not None and target < base + len(chunk):
                lines.append(line + chunk.count(b"\n", 0, target - base))
                target = next(pending, None)
            line += chunk.count(b"\n")
            base += len(chunk)
    return lines
