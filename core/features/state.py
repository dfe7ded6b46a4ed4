"""What scoring needs from the training data to compute the same behaviour features later."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.features.config import FeatureConfig, FeatureConfigError
from core.features.time_features import DAY_NS, TIMESTAMP, read_timestamps

# Table name -> its columns and their kinds; the tables are stored as Parquet by the model registry.
TABLES: dict[str, dict[str, str]] = {
    "rows": {"timestamp": "time", "user_id": "str", "merchant_id": "str", "amount": "float", "label": "float"},
    "first_seen": {"user_id": "str", "field": "str", "value": "str", "first_seen": "time"},
    "last_seen": {"user_id": "str", "last_seen": "time"},
    "meta": {"history_days": "int", "end": "time"},
}
_NOVELTY_FIELDS = ("merchant_id", "country", "device_type")


@dataclass(eq=False)
class BehaviourState:
    """A compact summary of the training transactions, enough for exact behaviour features later.

    - ``rows``: the training rows of the last ``history_days`` days before ``end`` (time, user,
      merchant, amount, label; NaN label when the training frame had none): every window and
      label-delayed risk look-back of a transaction after ``end`` lands in it.
    - ``first_seen``: per (user, field, value), the first time the user used that merchant,
      country or device type (fields the training frame had), for the "new for this user" flags.
    - ``last_seen``: per user, the time of their last transaction, for "time since previous".

    Times are naive datetimes (UTC for data with a time zone). Features of transactions after
    ``end`` come out exactly as if the training frame had been scored along with them; for earlier
    ones the windows may miss training rows older than the kept history. A state built with
    ``behaviour=False`` keeps nothing (``history_days`` 0), so it cannot serve behaviour features.
    """

    rows: pd.DataFrame = field(repr=False)
    first_seen: pd.DataFrame = field(repr=False)
    last_seen: pd.DataFrame = field(repr=False)
    history_days: int
    end_time: pd.Timestamp | None = None

    @classmethod
    def empty(cls, history_days: int) -> "BehaviourState":
        """A state with no history (a training frame without timestamps)."""
        return cls(*(_empty(name) for name in ("rows", "first_seen", "last_seen")), history_days=history_days)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, config: FeatureConfig) -> "BehaviourState":
        """Summarise a mapped training frame (the one the model was trained on)."""
        if TIMESTAMP not in frame.columns:
            return cls.empty(config.history_days)
        stamps = read_timestamps(frame[TIMESTAMP])
        if not stamps.valid.any():
            return cls.empty(config.history_days)
        ns = stamps.utc
        end_ns = int(ns[stamps.valid].max())
        state = cls.empty(config.history_days if config.behaviour else 0)
        state.end_time = pd.Timestamp(end_ns)
        if not config.behaviour:
            return state
        times = pd.Series(ns.view("datetime64[ns]"))
        ids = {f: _ids(frame, f) for f in ("user_id",) + _NOVELTY_FIELDS}
        has_id = ids["user_id"].notna() | ids["merchant_id"].notna()
        keep = stamps.valid & (ns >= end_ns - config.history_days * DAY_NS) & has_id.to_numpy()
        state.rows = _typed("rows", pd.DataFrame({
            "timestamp": times[keep], "user_id": ids["user_id"][keep], "merchant_id": ids["merchant_id"][keep],
            "amount": _column(frame, "amount")[keep], "label": _column(frame, "label")[keep],
        }))
        if "user_id" in frame.columns:
            state.first_seen = _first_seen(frame, ids, ns, stamps.valid)
            state.last_seen = _last_seen(ids, ns, stamps.valid)
        return state

    @property
    def end(self) -> pd.Timestamp | None:
        """Latest timestamp in the training data (None when it had none)."""
        return self.end_time

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """The state as plain tables (str, float64, int64, datetime64 columns), ready for Parquet."""
        end = pd.NaT if self.end_time is None else self.end_time
        meta = pd.DataFrame({"history_days": [self.history_days], "end": [end]})
        tables = {"rows": self.rows, "first_seen": self.first_seen, "last_seen": self.last_seen, "meta": meta}
        return {name: _typed(name, table.reset_index(drop=True)) for name, table in tables.items()}

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> "BehaviourState":
        """The state back from ``to_tables``; refuses missing tables or columns, naming them."""
        for name, columns in TABLES.items():
            if name not in tables:
                raise FeatureConfigError(f"Behaviour state table '{name}' is missing.")
            missing = [c for c in columns if c not in tables[name].columns]
            if missing:
                raise FeatureConfigError(f"Behaviour state table '{name}' lacks column(s): {', '.join(missing)}.")
        typed = {name: _typed(name, tables[name][list(TABLES[name])].reset_index(drop=True)) for name in TABLES}
        meta = typed["meta"]
        if len(meta) != 1 or meta["history_days"].iloc[0] < 0:
            raise FeatureConfigError("Behaviour state table 'meta' must hold one row with history_days >= 0.")
        end = meta["end"].iloc[0]
        for name, column in (("rows", "timestamp"), ("first_seen", "first_seen"), ("last_seen", "last_seen")):
            if typed[name][column].isna().any():
                raise FeatureConfigError(f"Behaviour state table '{name}' has missing values in column '{column}'.")
        return cls(typed["rows"], typed["first_seen"], typed["last_seen"],
                   history_days=int(meta["history_days"].iloc[0]), end_time=None if pd.isna(end) else end)


def _first_seen(frame: pd.DataFrame, ids: dict[str, pd.Series], ns: np.ndarray, valid: np.ndarray) -> pd.DataFrame:
    """Earliest time of each (user, value) pair, per novelty field the frame has."""
    users, user_names = pd.factorize(ids["user_id"])
    parts = []
    for name in _NOVELTY_FIELDS:
        if name in frame.columns:
            values, value_names = pd.factorize(ids[name])
            ok = valid & (users >= 0) & (values >= 0)
            n_values = max(len(value_names), 1)
            pairs, first = _extreme(users[ok].astype(np.int64) * n_values + values[ok], ns[ok], "min")
            parts.append(pd.DataFrame({
                "user_id": user_names.take(pairs // n_values), "field": name,
                "value": value_names.take(pairs % n_values), "first_seen": first.view("datetime64[ns]"),
            }))
    return _typed("first_seen", pd.concat(parts, ignore_index=True) if parts else _empty("first_seen"))


def _last_seen(ids: dict[str, pd.Series], ns: np.ndarray, valid: np.ndarray) -> pd.DataFrame:
    """Latest time of each user."""
    users, user_names = pd.factorize(ids["user_id"])
    ok = valid & (users >= 0)
    keys, last = _extreme(users[ok].astype(np.int64), ns[ok], "max")
    table = pd.DataFrame({"user_id": user_names.take(keys), "last_seen": last.view("datetime64[ns]")})
    return _typed("last_seen", table)


def _extreme(keys: np.ndarray, ns: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` and the min or max of ``ns`` for each."""
    codes, uniques = pd.factorize(keys)
    start = np.iinfo(np.int64).max if how == "min" else np.iinfo(np.int64).min
    out = np.full(len(uniques), start, dtype=np.int64)
    (np.minimum if how == "min" else np.maximum).at(out, codes, ns)
    return np.asarray(uniques, dtype=np.int64), out


def _ids(frame: pd.DataFrame, field: str) -> pd.Series:
    """An id column as text (all missing when the frame lacks it), index 0..n-1."""
    if field not in frame.columns:
        return pd.Series(np.full(len(frame), None, dtype=object), dtype="str")
    return frame[field].astype("str").reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(np.full(len(frame), np.nan))
    return pd.Series(frame[name].to_numpy(dtype=np.float64, na_value=np.nan))


def _empty(name: str) -> pd.DataFrame:
    return _typed(name, pd.DataFrame({column: [] for column in TABLES[name]}))


def _typed(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each column cast to its declared kind; a column that cannot be cast is named."""
    out = {}
    for column, kind in TABLES[name].items():
        values = table[column]
        try:
            if kind == "str":
                out[column] = values.astype("str")
            elif kind == "time":
                out[column] = pd.to_datetime(values).astype("datetime64[ns]")
            elif kind == "float":
                out[column] = values.astype(np.float64)
            else:
                out[column] = values.astype(np.int64)
        except (TypeError, ValueError) as error:
            raise FeatureConfigError(
                f"Behaviour state table '{name}' column '{column}' must hold {kind} values, got {values.dtype}."
            ) from error
    return pd.DataFrame(out).reset_index(drop=True)
