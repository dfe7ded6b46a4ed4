"""Features of one transaction at a time, from a behaviour state indexed once.

``build_features`` on a one-row frame re-sorts the whole state on every call (~0.2 s).
``OnlineFeatures`` groups the state's history by user and by merchant once, so a row's features
are a few numpy operations on that user's and that merchant's rows only (tens of microseconds).

The values are those of ``build_features(one_row_frame, config, state)`` (float32; equal up to
the rounding of window sums, tested to 1e-5 in ``tests/test_predict.py``): the same integer clock
(``timeline._clock``), the same strict "earlier" look-backs, the same neutral values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features.behaviour import RISK_PRIOR_RATE, RISK_PRIOR_WEIGHT
from core.features.config import FeatureConfig, FeatureConfigError
from core.features.pipeline import _finite32, feature_columns
from core.features.state import BehaviourState
from core.features.time_features import DAY_NS, Stamps, time_features
from core.features.timeline import _clock

_SEP = "\x1f"  # joins (field, user, value) into one lookup key; a unit separator never appears in ids
_NOVELTY = {"merchant_id": "user_new_merchant", "country": "user_new_country", "device_type": "user_new_device"}


@dataclass
class OnlineRow:
    """One transaction in canonical form: ids as text (None = missing), amount (NaN = missing).

    ``utc_ns``/``local_ns``: the instant and the wall-clock time in ns since the epoch (None = missing).
    """

    user_id: str | None
    merchant_id: str | None
    country: str | None
    device_type: str | None
    amount: float
    utc_ns: int | None
    local_ns: int | None


class OnlineFeatures:
    """``build_features`` for one row at a time against a fixed state (built once per model)."""

    def __init__(self, config: FeatureConfig, state: BehaviourState | None, columns: list[str]) -> None:
        """``columns``: the canonical columns the model's training frame had (they decide the feature set)."""
        self.config = config
        self.columns = set(columns)
        self.names = feature_columns(list(columns), config)
        state = state if state is not None else BehaviourState.empty(config.history_days)
        if state.history_days < config.history_days and self.names and config.behaviour:
            raise FeatureConfigError(f"The behaviour state keeps {state.history_days} days of history, but the "
                                     f"features need {config.history_days}.")
        rows = state.rows
        ns = _ns(rows["timestamp"])
        amount = rows["amount"].to_numpy(np.float64)
        amount = np.where(np.isfinite(amount), amount, np.nan)
        label = rows["label"].to_numpy(np.float64)
        self._users = _Entities.build(rows["user_id"], ns, amount, label)
        self._merchants = _Entities.build(rows["merchant_id"], ns, amount, label)
        seen, last = state.first_seen, state.last_seen
        seen_ns, last_ns = _ns(seen["first_seen"]), _ns(last["last_seen"])
        self._first_seen = _lookup(seen["field"].astype("str") + _SEP + seen["user_id"].astype("str") + _SEP
                                   + seen["value"].astype("str"), seen_ns, "min")
        self._last_seen = _lookup(last["user_id"].astype("str"), last_ns, "max")
        every = [a for a in (ns, seen_ns, last_ns) if len(a)]
        self._low = min(int(a.min()) for a in every) if every else None
        self._high = max(int(a.max()) for a in every) if every else None
        # Distinct ids over the state's tables, as ``timeline._field_codes`` counts them (for the clock's key stride).
        self._user_ids = _distinct(rows["user_id"], seen["user_id"], last["user_id"])
        self._merchant_ids = _distinct(rows["merchant_id"], seen["value"][seen["field"] == "merchant_id"])

    def compute(self, row: OnlineRow) -> np.ndarray:
        """float32 features of ``row`` in ``self.names`` order."""
        if not self.names:
            return np.zeros(0, dtype=np.float32)
        valid = row.utc_ns is not None
        utc = row.utc_ns if valid else 0
        stamps = Stamps(utc=np.array([utc], np.int64), local=np.array([row.local_ns if valid else 0], np.int64),
                        valid=np.array([valid]))
        values = {k: float(v[0]) for k, v in time_features(stamps).items()}
        behaviour = self.config.behaviour and ("user_id" in self.columns or "merchant_id" in self.columns)
        if behaviour:
            values.update(self._behaviour(row, valid))
        out = np.array([values[name] for name in self.names], dtype=np.float64)
        return _finite32(out)

    def _behaviour(self, row: OnlineRow, valid: bool) -> dict[str, float]:
        config, out = self.config, {}
        windows = sorted(config.windows_days)
        user = row.user_id if "user_id" in self.columns else None
        merchant = row.merchant_id if "merchant_id" in self.columns else None
        if valid:
            clock = self._clock(row, user, merchant)
        if "user_id" in self.columns:
            history = self._users.history(user) if user is not None and valid else None
            if user is not None and valid:
                out.update(_windows("user", history, clock, row.amount, windows))
                out.update(self._recency(user, history, clock))
                out.update(self._novelty(row, user, clock))
            else:
                out.update(_neutral_user(windows))
        if "merchant_id" in self.columns:
            history = self._merchants.history(merchant) if merchant is not None and valid else None
            if merchant is not None and valid:
                out.update(_windows("merchant", history, clock, row.amount, windows))
                out.update(_risk(history, clock, config))
            else:
                out.update(_neutral_merchant(windows))
        return out

    def _clock(self, row: OnlineRow, user: str | None, merchant: str | None) -> "_Clock":
        parts = [np.array([row.utc_ns], np.int64)]
        if self._low is not None:
            parts.append(np.array([self._low, self._high], np.int64))
        n_users = _count_with(self._user_ids, user) if "user_id" in self.columns else 0
        n_merchants = _count_with(self._merchant_ids, merchant) if "merchant_id" in self.columns else 0
        origin, tick_ns, _ = _clock(parts, self.config.history_days, max(n_users, n_merchants, 1))
        horizon = self.config.history_days * DAY_NS // tick_ns
        return _Clock(origin, tick_ns, horizon, (row.utc_ns - origin) // tick_ns + horizon)

    def _recency(self, user: str, history: "_History | None", clock: "_Clock") -> dict[str, float]:
        t, previous = clock.tick, -1
        if history is not None:
            before = int(np.searchsorted(clock.ticks(history.ns), t, side="left"))
            if before > 0:
                previous = int(clock.ticks(history.ns[before - 1:before])[0])
        last = self._last_seen.get(user)
        if last is not None:
            last_tick = clock.tick_of(last)
            previous = max(previous, last_tick if last_tick < t else -1)
        first = previous < 0
        seconds = 0 if first else (t - previous) * (clock.tick_ns / 1e9)
        return {"user_log_seconds_since_prev": float(np.log1p(seconds)), "user_first_tx": float(first)}

    def _novelty(self, row: OnlineRow, user: str, clock: "_Clock") -> dict[str, float]:
        out = {}
        for field, name in _NOVELTY.items():
            if field not in self.columns:
                continue
            value = getattr(row, field)
            if value is None:
                out[name] = 0.0
                continue
            seen = self._first_seen.get(f"{field}{_SEP}{user}{_SEP}{value}")
            out[name] = float(seen is None or clock.tick_of(seen) >= clock.tick)
        return out


@dataclass
class _Clock:
    """The integer clock ``build_timeline`` would use for a frame holding just this row."""

    origin: int
    tick_ns: int
    horizon: int
    tick: int  # the row's own tick

    def ticks(self, ns: np.ndarray) -> np.ndarray:
        return (ns - self.origin) // self.tick_ns + self.horizon

    def tick_of(self, ns: int) -> int:
        return (ns - self.origin) // self.tick_ns + self.horizon


@dataclass
class _History:
    """One entity's state rows in time order, with prefix sums for window statistics."""

    ns: np.ndarray  # int64 times, ascending
    has: np.ndarray  # prefix counts of rows with an amount (length n + 1)
    total: np.ndarray  # prefix sums of amount - shift (length n + 1)
    squares: np.ndarray  # prefix sums of (amount - shift)^2
    shift: float  # the entity's first amount (0 when missing), as ``windows.AmountSums`` shifts
    label_ns: np.ndarray  # times of the labelled rows, ascending
    frauds: np.ndarray  # prefix counts of fraud among the labelled rows (length + 1)


@dataclass
class _Entities:
    """The state's rows sorted by (entity, time, table order); entity ``code``'s rows are
    ``[bounds[code], bounds[code + 1])`` (flat arrays: no per-entity objects kept in memory)."""

    codes: dict[str, int]
    bounds: np.ndarray
    ns: np.ndarray
    amount: np.ndarray
    label: np.ndarray

    @classmethod
    def build(cls, ids: pd.Series, ns: np.ndarray, amount: np.ndarray, label: np.ndarray) -> "_Entities":
        codes, uniques = pd.factorize(ids)
        rows = np.flatnonzero(codes >= 0)
        order = rows[np.lexsort((rows, ns[rows], codes[rows]))]
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1), side="left")
        lookup = {str(name): code for code, name in enumerate(uniques.tolist())}
        return cls(lookup, bounds, ns[order], amount[order], label[order])

    def history(self, entity: str) -> "_History | None":
        """The entity's rows with prefix sums, shifted by its first amount as ``windows.AmountSums`` does."""
        code = self.codes.get(entity)
        if code is None:
            return None
        part = slice(self.bounds[code], self.bounds[code + 1])
        values, labels, ns = self.amount[part], self.label[part], self.ns[part]
        has = ~np.isnan(values)
        first = float(values[0])
        shift = 0.0 if first != first else first
        shifted = np.where(has, values - shift, 0.0)
        known = ~np.isnan(labels)
        return _History(ns=ns, has=_prefix(has.astype(np.int64)), total=_prefix(shifted),
                        squares=_prefix(shifted * shifted), shift=shift, label_ns=ns[known],
                        frauds=_prefix((labels[known] > 0.5).astype(np.int64)))


def _lookup(keys: pd.Series, ns: np.ndarray, how: str) -> dict[str, int]:
    """``key -> time`` (the earliest or latest when a key repeats)."""
    table = pd.Series(ns, index=pd.Index(keys.to_numpy(), dtype=object))
    if not table.index.is_unique:
        table = table.groupby(level=0).agg(how)
    return {str(k): int(v) for k, v in zip(table.index.tolist(), table.to_numpy().tolist())}


def _windows(prefix: str, history: _History | None, clock: _Clock, amount: float,
             windows: list[int]) -> dict[str, float]:
    """Count, amount mean and std per window over strictly earlier rows; the user's relative amount."""
    out: dict[str, float] = {}
    n = mean = 0.0
    ticks = clock.ticks(history.ns) if history is not None else None
    stop = int(np.searchsorted(ticks, clock.tick, side="left")) if ticks is not None else 0
    for w in windows:
        if ticks is None:
            count, n, mean, std = 0.0, 0, 0.0, 0.0
        else:
            start = int(np.searchsorted(ticks, clock.tick - w * DAY_NS // clock.tick_ns, side="right"))
            count, n, mean, std = _stats(history, start, stop)
        out[f"{prefix}_count_{w}d"] = count
        out[f"{prefix}_amount_mean_{w}d"] = mean
        out[f"{prefix}_amount_std_{w}d"] = std
    if prefix == "user":
        ok = n > 0 and not np.isnan(amount)
        out["user_amount_rel"] = float(np.log1p(max(amount, 0.0)) - np.log1p(max(mean, 0.0))) if ok else 0.0
    return out


def _stats(history: _History, start: int, stop: int) -> tuple[float, int, float, float]:
    """``(rows, rows with an amount, mean, population std)`` of rows ``[start, stop)``."""
    n = int(history.has[stop] - history.has[start])
    safe = max(n, 1)
    mean = (history.total[stop] - history.total[start]) / safe
    variance = (history.squares[stop] - history.squares[start]) / safe - mean * mean
    std = float(np.sqrt(max(variance, 0.0))) if n > 1 else 0.0
    mean = float(mean + history.shift) if n > 0 else 0.0
    return float(stop - start), n, mean, std


def _risk(history: _History | None, clock: _Clock, config: FeatureConfig) -> dict[str, float]:
    """Label-delayed labelled count and smoothed fraud rate per window."""
    out = {}
    lag = config.label_delay_days * DAY_NS // clock.tick_ns
    ticks = clock.ticks(history.label_ns) if history is not None else None
    for w in config.windows_days:
        labelled = frauds = 0.0
        if ticks is not None and len(ticks):
            stop = int(np.searchsorted(ticks, clock.tick - lag, side="left"))
            start = int(np.searchsorted(ticks, clock.tick - lag - w * DAY_NS // clock.tick_ns, side="left"))
            labelled, frauds = float(stop - start), float(history.frauds[stop] - history.frauds[start])
        out[f"merchant_labelled_{w}d"] = labelled
        rate = (frauds + RISK_PRIOR_WEIGHT * RISK_PRIOR_RATE) / (labelled + RISK_PRIOR_WEIGHT)
        out[f"merchant_fraud_rate_{w}d"] = rate
    return out


def _neutral_user(windows: list[int]) -> dict[str, float]:
    out = {f"user_{s}_{w}d": 0.0 for w in windows for s in ("count", "amount_mean", "amount_std")}
    out.update({"user_amount_rel": 0.0, "user_log_seconds_since_prev": 0.0, "user_first_tx": 1.0})
    out.update({name: 0.0 for name in _NOVELTY.values()})
    return out


def _neutral_merchant(windows: list[int]) -> dict[str, float]:
    out = {f"merchant_{s}_{w}d": 0.0 for w in windows for s in ("count", "amount_mean", "amount_std")}
    out.update({f"merchant_labelled_{w}d": 0.0 for w in windows})
    out.update({f"merchant_fraud_rate_{w}d": RISK_PRIOR_RATE for w in windows})
    return out


def _distinct(*parts: pd.Series) -> set[str]:
    out: set[str] = set()
    for part in parts:
        out.update(str(v) for v in part.dropna().unique().tolist())
    return out


def _count_with(ids: set[str], entity: str | None) -> int:
    """Distinct ids once ``entity`` (None: missing) is added."""
    return len(ids) + (entity is not None and entity not in ids)


def _prefix(values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(values) + 1, dtype=np.float64 if values.dtype.kind == "f" else np.int64)
    np.cumsum(values, out=out[1:])
    return out


def _ns(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="datetime64[ns]").view(np.int64)
