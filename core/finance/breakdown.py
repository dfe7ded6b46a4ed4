"""Where the money is made and lost at one threshold: by segment (top N) and over time.

Both take the per-row money of ``Ledger.row_money(threshold)`` and sum it per group with
``np.bincount`` (a slider move on a million rows must stay fast): pass segment columns as
pandas categoricals so their codes are not recomputed at every call.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

TOP = 20
OTHER = "Other"
MISSING = "(missing)"
GRAINS = ("day", "week")
_SUMS = ("revenue", "fraud_loss", "cost", "pnl")
_MONDAY_OFFSET = 3  # 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays


@dataclass
class Breakdown:
    """Money per group, groups in display order (segments: most money at stake first; time: oldest first)."""

    by: str
    labels: list[str]
    transactions: list[int]
    fraud: list[int]
    revenue: list[float]
    fraud_loss: list[float]
    cost: list[float]
    pnl: list[float]
    folded: int = 0  # segments folded into "Other"

    def to_dict(self) -> dict:
        return asdict(self)


def breakdown(values: pd.Series | np.ndarray, money: dict[str, np.ndarray], by: str, top: int = TOP) -> Breakdown:
    """Sum the money of each segment value; the ``top`` with the most at stake (revenue + fraud loss) are
    kept, the rest summed into one "Other" row. Missing segment values form their own "(missing)" group."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = [str(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING)
    sums = _sums(codes, len(labels), money)
    stake = sums["revenue"] + sums["fraud_loss"]
    order = np.lexsort((-sums["transactions"], -stake))  # most at stake first, then most transactions
    present = order[sums["transactions"][order] > 0]
    kept, rest = present[:top], present[top:]
    rows = {k: [*v[kept].tolist(), *([v[rest].sum().item()] if len(rest) else [])] for k, v in sums.items()}
    names = [labels[i] for i in kept] + ([OTHER] if len(rest) else [])
    return _result(by, names, rows, len(rest))


def over_time(timestamps: pd.Series | np.ndarray, money: dict[str, np.ndarray], grain: str = "day") -> Breakdown:
    """Sum the money per calendar day or week (weeks start on Monday); rows without a time are left out."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be 'day' or 'week', got {grain!r}.")
    days = np.asarray(timestamps, dtype="datetime64[ns]").astype("datetime64[D]")
    dated = ~np.isnat(days)
    number = days[dated].astype(np.int64)
    if grain == "week":
        number = number - (number + _MONDAY_OFFSET) % 7
    if not len(number):
        return _result(grain, [], {k: [] for k in ("transactions", "fraud", *_SUMS)}, 0)
    first = number.min()
    codes = number - first
    span = int(codes.max()) + 1
    sums = _sums(codes, span, {k: v[dated] for k, v in money.items()})
    present = np.flatnonzero(sums["transactions"] > 0)
    names = [str(np.datetime64(int(first + i), "D")) for i in present]
    return _result(grain, names, {k: v[present].tolist() for k, v in sums.items()}, 0)


def _sums(codes: np.ndarray, groups: int, money: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {"transactions": np.bincount(codes, minlength=groups),
           "fraud": np.bincount(codes, weights=money["fraud"].astype(np.float64), minlength=groups).round().astype(np.int64)}
    for key in _SUMS:
        out[key] = np.bincount(codes, weights=money[key], minlength=groups)
    return out


def _result(by: str, names: list[str], rows: dict[str, list], folded: int) -> Breakdown:
    return Breakdown(by=by, labels=names, transactions=[int(v) for v in rows["transactions"]], fraud=[int(v) for v in rows["fraud"]],
                     revenue=[float(v) for v in rows["revenue"]], fraud_loss=[float(v) for v in rows["fraud_loss"]],
                     cost=[float(v) for v in rows["cost"]], pnl=[float(v) for v in rows["pnl"]], folded=folded)
