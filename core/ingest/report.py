"""What ``read_table`` is given (``IngestLimits``) and what it reports (``IngestReport``, ``ColumnReport``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings


@dataclass
class IngestLimits:
    """Refuse files that would exhaust the server: too wide, or expanding past a size."""

    max_columns: int = 500
    max_decompressed_bytes: int = 2 * 1024**3
    max_listed_lines: int = 20  # ragged line numbers listed in a report (the count is always exact)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        """Limits from ``core.settings.Settings`` (``max_columns``, ``max_decompressed_bytes``)."""
        return cls(max_columns=int(settings.max_columns),
                   max_decompressed_bytes=int(settings.max_decompressed_bytes))


@dataclass
class ColumnReport:
    """What ingestion found and did in one column.

    ``missing`` = cells that are missing in the frame (``blank`` + ``nan`` + ``unparseable``).
    ``blank``: empty or whitespace-only cells (a null in a typed Parquet column). ``nan``: missing
    markers written in the cell (NaN, NULL, N/A, ... see ``core.parsing.NA_TOKENS``) or a float NaN.
    ``inf``: infinite numbers (kept as +-inf). ``unparseable``: non-blank cells that could not be
    read as the column's kind (set to missing). ``examples``: a few raw cells from the file.
    """

    name: str
    original: str
    kind: str  # "number" | "id" | "datetime" | "text" | "boolean"
    dtype: str
    missing: int = 0
    blank: int = 0
    nan: int = 0
    inf: int = 0
    unparseable: int = 0
    examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """What was read and every coercion or drop, for the CLI (``txlab inspect``) and the Data page."""

    source_name: str
    format: str  # "csv" | "csv.gz" | "parquet"
    encoding: str | None = None
    bom: bool = False
    delimiter: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    rows: int = 0
    columns: list[ColumnReport] = field(default_factory=list)
    renamed_headers: list[tuple[str, str]] = field(default_factory=list)
    ragged_lines: list[int] = field(default_factory=list)  # physical line numbers, first few
    ragged_count: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-safe dict (tuples become lists)."""
        out = asdict(self)
        out["renamed_headers"] = [list(pair) for pair in self.renamed_headers]
        return out

    def summary_lines(self) -> list[str]:
        """Short human lines: the file, then drops and renames, then one line per column."""
        lines = [self._headline()]
        if self.ragged_count:
            shown = ", ".join(str(n) for n in self.ragged_lines)
            hidden = self.ragged_count - len(self.ragged_lines)
            more = f" and {hidden} more" if hidden > 0 else ""
            word = "line" if self.ragged_count == 1 else "lines"
            lines.append(f"Dropped {self.ragged_count} row(s) with the wrong number of fields: {word} {shown}{more}.")
        if self.renamed_headers:
            pairs = ", ".join(f"'{a}' -> '{b}'" for a, b in self.renamed_headers)
            lines.append(f"Renamed headers: {pairs}.")
        lines.extend(self.notes)
        lines.extend(_column_line(c) for c in self.columns)
        return lines

    def _headline(self) -> str:
        parts = [f"{self.source_name}: {self.format}, {self.rows:,} rows x {len(self.columns)} columns"]
        if self.encoding:
            parts.append(f"encoding {self.encoding}" + (" (BOM)" if self.bom else ""))
        if self.delimiter:
            parts.append(f"delimiter {show_char(self.delimiter)}")
        if self.decimal:
            parts.append(f"decimal {show_char(self.decimal)}")
        if self.thousands:
            parts.append(f"thousands {show_char(self.thousands)}")
        return "; ".join(parts)


def show_char(ch: str) -> str:
    """A delimiter or separator as a reader sees it: 'tab', 'space', or the character quoted."""
    return {"\t": "tab", " ": "space", "'": "apostrophe"}.get(ch, f"'{ch}'")


def format_size(n: int) -> str:
    """A byte count for a message: whole MB from 1 MB up, else bytes."""
    return f"{n / 1024**2:,.0f} MB" if n >= 1024**2 else f"{n:,} bytes"


def _column_line(c: ColumnReport) -> str:
    counts = [f"{v} {k}" for k, v in (("blank", c.blank), ("missing markers", c.nan), ("inf", c.inf),
                                       ("unparseable", c.unparseable)) if v]
    head = f"{c.name}: {c.kind} ({c.dtype})" + (f" [was '{c.original}']" if c.original != c.name else "")
    tail = ("; " + ", ".join(counts)) if counts else ""
    notes = (" — " + " ".join(c.notes)) if c.notes else ""
    return head + tail + notes
