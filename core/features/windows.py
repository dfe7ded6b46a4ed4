"""Vectorised look-back kernels over rows sorted by (entity, time).

Each row's key is ``code * big + tick``; sorting by key groups an entity's rows in time order, and a
look-back of ``width`` ticks from a row is a ``searchsorted`` on the keys that cannot leave the
row's entity (``Timeline`` guarantees ``tick - width >= 0`` and ``tick < big``). "Earlier" always
means a strictly smaller time: rows with the same time as a row (itself included) are never in its
look-backs. Sums come from cumulative sums, so the cost is a sort plus a few binary searches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class EntityOrder:
    """Rows that have an entity and a time, sorted by (entity, time).

    Every sorted row can be looked back on; only the ``query`` ones (the frame's rows, not the
    state's history) get features. Per-query arrays below are aligned with ``query``.
    """

    rows: np.ndarray  # timeline position of each sorted row
    keys: np.ndarray  # code * big + tick, ascending
    codes: np.ndarray  # entity code of each sorted row
    query: slice | np.ndarray  # sorted positions of the rows that get features
    earlier: np.ndarray  # per query: sorted position of the first row with its key (its look-backs end there)
    targets: np.ndarray  # per query: its row in the frame (timeline position - n_context)
    query_keys: np.ndarray  # per query: its key

    @classmethod
    def build(cls, codes: np.ndarray, ticks: np.ndarray, valid: np.ndarray, big: int, n_context: int) -> "EntityOrder":
        rows = np.flatnonzero((codes >= 0) & valid)
        keys = codes[rows] * big + ticks[rows]
        order = np.argsort(keys, kind="stable")
        rows, keys = rows[order], keys[order]
        query = slice(None) if n_context == 0 else np.flatnonzero(rows >= n_context)
        query_keys = keys[query]
        return cls(rows=rows, keys=keys, codes=codes[rows], query=query,
                   earlier=np.searchsorted(keys, query_keys, side="left"), targets=rows[query] - n_context,
                   query_keys=query_keys)

    def since(self, width: int) -> np.ndarray:
        """Per query: sorted position of its entity's first row later than ``tick - width``."""
        return np.searchsorted(self.keys, self.query_keys - width, side="right")

    def at_query(self, values: np.ndarray) -> np.ndarray:
        """A timeline-aligned array's values at the query rows, in query order."""
        return values[self.rows[self.query]]


@dataclass
class WindowStats:
    """Per query row, over a look-back: rows, rows with an amount, mean and std of the amounts."""

    count: np.ndarray
    n_amount: np.ndarray
    mean: np.ndarray
    std: np.ndarray


class AmountSums:
    """Prefix sums of amounts over an ``EntityOrder`` (missing amounts count as rows, not as values).

    Amounts are shifted by their entity's first amount, and each entity's prefix sums restart
    near zero (a slot before each entity cancels the previous entity's total), so a window's
    sums lose no precision to the size of the whole table: a run of equal amounts has std 0.
    The std is the population std.
    """

    def __init__(self, order: EntityOrder, amount: np.ndarray) -> None:
        values = amount[order.rows]
        has = ~np.isnan(values)
        is_start = np.r_[True, order.codes[1:] != order.codes[:-1]] if len(values) else np.empty(0, dtype=bool)
        starts = np.flatnonzero(is_start)
        first = np.nan_to_num(values[starts])
        self.shift = np.repeat(first, np.diff(np.r_[starts, len(values)]))
        shifted = np.where(has, values - self.shift, 0.0)
        # Sorted row i sits at slot i + offset[i] of the padded arrays, after its entity's reset slot.
        self.offset = np.cumsum(is_start)
        self.query = order.query
        self.n = _prefix(has.astype(np.int64))
        self.total = _restarting_prefix(shifted, starts, self.offset)
        self.squares = _restarting_prefix(shifted * shifted, starts, self.offset)
        self._query_offset = self.offset[self.query]
        self._query_shift = self.shift[self.query]
        self._ends: tuple[np.ndarray, tuple[np.ndarray, ...]] | None = None

    def stats(self, start: np.ndarray, stop: np.ndarray) -> WindowStats:
        """Statistics of sorted rows ``[start, stop)``, one pair per query and inside its entity."""
        offset = self._query_offset
        n_stop, total_stop, squares_stop = self._at(stop)
        n = n_stop - self.n[start]
        safe = np.maximum(n, 1)
        at_start = start + offset
        mean = (total_stop - self.total[at_start]) / safe
        variance = (squares_stop - self.squares[at_start]) / safe - mean * mean
        std = np.where(n > 1, np.sqrt(np.maximum(variance, 0.0)), 0.0)
        mean = np.where(n > 0, mean + self._query_shift, 0.0)
        return WindowStats(count=(stop - start).astype(np.float64), n_amount=n.astype(np.float64), mean=mean, std=std)

    def _at(self, stop: np.ndarray) -> tuple[np.ndarray, ...]:
        """Prefix values at ``stop``; every window of a query ends at the same row, so they are kept for the next
        call (same values as computing them again, a third fewer gathers)."""
        if self._ends is None or self._ends[0] is not stop:
            at_stop = stop + self._query_offset
            self._ends = (stop, (self.n[stop], self.total[at_stop], self.squares[at_stop]))
        return self._ends[1]


def labelled_windows(order: EntityOrder, label: np.ndarray, lag: int,
                     widths: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per width, per query: labelled rows of its entity in ``[tick - lag - width, tick - lag)`` and their frauds."""
    labels = label[order.rows]
    known = ~np.isnan(labels)
    keys = order.keys[known]
    frauds = _prefix((labels[known] > 0.5).astype(np.int64))
    lagged = order.query_keys - lag
    stop = np.searchsorted(keys, lagged, side="left")
    frauds_stop = frauds[stop]
    out = []
    for width in widths:
        start = np.searchsorted(keys, lagged - width, side="left")
        out.append(((stop - start).astype(np.float64), (frauds_stop - frauds[start]).astype(np.float64)))
    return out


def previous_tick(order: EntityOrder, big: int) -> np.ndarray:
    """Per query: tick of its entity's latest strictly earlier row, -1 when there is none."""
    codes = order.codes[order.query]
    before = order.earlier - 1
    has = before >= 0
    before = np.maximum(before, 0)
    same = has & (order.codes[before] == codes) if len(before) else has
    return np.where(same, order.keys[before] - codes * big, -1)


def first_use(pair: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Per element: the earliest tick of its ``pair`` value among all elements."""
    codes, uniques = _factorize(pair)
    first = np.full(len(uniques), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes, ticks)
    return first[codes]


def scatter(order: EntityOrder, values: np.ndarray, n_context: int, n_target: int, fill: float) -> np.ndarray:
    """Per-query ``values`` put back at the frame's rows (float32); rows not in ``order`` get ``fill``."""
    out = np.full(n_target, fill, dtype=np.float32)
    out[order.targets] = values
    return out


def _restarting_prefix(values: np.ndarray, starts: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Prefix sums over ``values`` with a slot before each entity holding minus the previous entity's total."""
    padded = np.zeros(len(values) + len(starts), dtype=np.float64)
    padded[np.arange(len(values)) + offset] = values
    if len(starts) > 1:
        padded[starts[1:] + np.arange(1, len(starts))] = -np.add.reduceat(values, starts)[:-1]
    return _prefix(padded)


def _prefix(values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(values) + 1, dtype=values.dtype)
    np.cumsum(values, out=out[1:])
    return out


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values)  # hashing: several times faster than np.unique's sort
    return codes, uniques
