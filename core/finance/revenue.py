"""The revenue column: which one (auto-detected, user-selectable) and its values, read safely.

Values go through ``core.parsing.parse_numeric`` (the parser ingestion uses): a cell that is
not blank and still not a number is *unreadable*; it is counted, a few are kept as examples,
and its value is NaN (no fee is counted for it), never 0 in silence.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.parsing import parse_numeric

_REVENUE_NAME = re.compile(r"(revenue|margin|fee|commission|profit|interchange)", re.IGNORECASE)
EXAMPLES = 5


@dataclass
class RevenueReport:
    """What reading the revenue column found."""

    column: str
    rows: int
    unparseable: int = 0
    examples: list[str] = field(default_factory=list)
    missing: int = 0  # blank or missing-value markers
    negative: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RevenueReport":
        return cls(**data)

    def message(self) -> str:
        """One sentence for the page; '' when every value was read."""
        parts = []
        if self.unparseable:
            shown = ", ".join(repr(e) for e in self.examples)
            parts.append(f"{self.unparseable:,} of {self.rows:,} values in '{self.column}' could not be read as numbers (e.g. {shown})")
        if self.missing:
            parts.append(f"{self.missing:,} are blank")
        if not parts:
            return ""
        return "; ".join(parts) + ": no fee is counted for those rows."


def detect_revenue_column(candidates: list[str]) -> str:
    """``amount`` unless a candidate's name says revenue, margin, fee, commission or profit."""
    for name in candidates:
        if name != "amount" and _REVENUE_NAME.search(str(name)):
            return name
    return "amount"


def parse_revenue(values: pd.Series, column: str | None = None) -> tuple[np.ndarray, RevenueReport]:
    """float64 revenue per row (NaN when blank or unreadable) and the report of what could not be read."""
    name = str(column if column is not None else values.name)
    parsed, bad = parse_numeric(values)
    out = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    bad_mask = bad.to_numpy(dtype=bool)
    missing = np.isnan(out) & ~bad_mask
    examples = list(dict.fromkeys(str(v) for v in values[bad_mask].head(200)))[:EXAMPLES]
    report = RevenueReport(column=name, rows=int(len(out)), unparseable=int(bad_mask.sum()), examples=examples,
                           missing=int(missing.sum()), negative=int((out < 0).sum()))
    return out, report
