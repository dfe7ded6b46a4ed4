"""The transactions behaviour features look at: a state's history rows, then the frame's rows.

Everything is turned into parallel numpy arrays on one integer clock, and ids into integer codes
shared between the state and the frame, so the window kernels never touch pandas or strings.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features.config import FeatureConfig, FeatureDataError
from core.features.state import BehaviourState
from core.features.time_features import DAY_NS, Stamps

USER, MERCHANT = "user_id", "merchant_id"
NOVELTY_FIELDS = ("merchant_id", "country", "device_type")
ID_FIELDS = (USER,) + NOVELTY_FIELDS
# Clock resolutions tried, finest first: the finest whose entity-by-time keys fit in int64 wins.
_TICKS_NS = (10**3, 10**6, 10**9, 60 * 10**9, 3600 * 10**9)
_KEY_LIMIT = 2**62


@dataclass
class Timeline:
    """Context rows (the state's history) followed by the frame's rows, as parallel arrays.

    Times are ticks of ``tick_ns`` nanoseconds, counted so that ``tick - horizon`` (horizon: the
    config's history in ticks) is never negative; ``code * big + tick`` then orders rows by entity
    and time with each entity's keys (look-backs included) in a range of its own.
    """

    n_context: int
    ticks: np.ndarray  # int64; 0 where the time is missing
    valid: np.ndarray  # bool: the time is known
    amount: np.ndarray  # float64, NaN where missing or not finite
    label: np.ndarray  # float64: 1 fraud, 0 legitimate, NaN unknown
    codes: dict[str, np.ndarray]  # field -> int64 code per row, -1 where missing
    sizes: dict[str, int]  # field -> number of distinct codes
    first_seen: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # field -> (user, value, tick) from the state
    last_seen: np.ndarray  # user code -> tick of the user's last training transaction, -1 if none
    tick_ns: int
    big: int

    def days(self, days: int) -> int:
        """A number of days in ticks."""
        return days * DAY_NS // self.tick_ns

    @property
    def n_target(self) -> int:
        """Number of the frame's rows (the ones that get features)."""
        return len(self.ticks) - self.n_context


def build_timeline(frame: pd.DataFrame, stamps: Stamps, config: FeatureConfig,
                   state: BehaviourState | None) -> Timeline:
    """The frame's rows after the state's history; labels from the frame only when there is no state."""
    scoring = state is not None
    state = state if scoring else BehaviourState.empty(config.history_days)
    history, seen, last = state.rows, state.first_seen, state.last_seen
    seen_ns, last_ns, history_ns = _ns(seen["first_seen"]), _ns(last["last_seen"]), _ns(history["timestamp"])
    fields = [f for f in ID_FIELDS if f in frame.columns]
    seen_masks = {f: (seen["field"] == f).to_numpy(dtype=bool) for f in fields if f != USER}
    codes = {f: _field_codes(f, frame, history, seen, last, seen_masks.get(f)) for f in fields}
    sizes = {f: c.size for f, c in codes.items()}
    origin, tick_ns, big = _clock([history_ns, stamps.utc[stamps.valid], seen_ns, last_ns], config.history_days,
                                  max([sizes.get(USER, 0), sizes.get(MERCHANT, 0), 1]))
    horizon = config.history_days * DAY_NS // tick_ns

    def ticks(ns: np.ndarray) -> np.ndarray:
        return (ns - origin) // tick_ns + horizon

    first_seen, last_seen = {}, np.full(sizes.get(USER, 0), -1, dtype=np.int64)
    if USER in codes:
        for field, mask in seen_masks.items():
            first_seen[field] = (codes[USER].seen[mask], codes[field].seen, ticks(seen_ns[mask]))
        last_seen[codes[USER].last] = ticks(last_ns)
    frame_ticks = np.where(stamps.valid, ticks(np.where(stamps.valid, stamps.utc, origin)), 0)
    frame_label = _numbers(frame, "label") if "label" in frame.columns and not scoring else np.full(len(frame), np.nan)
    return Timeline(
        n_context=len(history),
        ticks=np.concatenate([ticks(history_ns), frame_ticks]),
        valid=np.concatenate([np.ones(len(history), dtype=bool), stamps.valid]),
        amount=_finite(np.concatenate([history["amount"].to_numpy(np.float64), _numbers(frame, "amount")])),
        label=np.concatenate([history["label"].to_numpy(np.float64), frame_label]),
        codes={f: c.rows for f, c in codes.items()}, sizes=sizes,
        first_seen=first_seen, last_seen=last_seen, tick_ns=tick_ns, big=big,
    )


@dataclass
class _Codes:
    """One field's integer codes, shared by the timeline's rows and the state's tables."""

    rows: np.ndarray  # history rows, then the frame's rows (-1 where missing)
    seen: np.ndarray  # first-seen table: its user_id (user field) or its values of this field
    last: np.ndarray  # last-seen table's user_id (user field only)
    size: int


def _field_codes(field: str, frame: pd.DataFrame, history: pd.DataFrame, seen: pd.DataFrame,
                 last: pd.DataFrame, seen_mask: np.ndarray | None) -> _Codes:
    """Encode ``field`` over the history, the frame and the state's tables together."""
    in_history = field in history.columns
    if field == USER:
        extra = [seen["user_id"], last["user_id"]]
    else:
        extra = [seen["value"][seen_mask]]
    encoded, size = _encode(([history[field]] if in_history else []) + [frame[field]] + extra)
    context = encoded.pop(0) if in_history else np.full(len(history), -1, dtype=np.int64)
    rows = np.concatenate([context, encoded[0]])
    last_codes = encoded[2] if field == USER else np.empty(0, dtype=np.int64)
    return _Codes(rows=rows, seen=encoded[1], last=last_codes, size=size)


def _encode(parts: list[pd.Series]) -> tuple[list[np.ndarray], int]:
    """Integer codes for the values of all ``parts`` together (-1 for missing), split back per part."""
    series = pd.concat([_as_str(p) for p in parts], ignore_index=True)
    codes, uniques = pd.factorize(series)
    bounds = np.cumsum([len(p) for p in parts])[:-1]
    return np.split(codes.astype(np.int64, copy=False), bounds), len(uniques)


def _as_str(series: pd.Series) -> pd.Series:
    """Ids compared as text, so a state stored as strings matches a frame read with numeric ids."""
    if series.dtype == "str":
        return series.reset_index(drop=True)
    return series.astype("str").reset_index(drop=True)


def _clock(ns_parts: list[np.ndarray], history_days: int, n_entities: int) -> tuple[int, int, int]:
    """Origin (ns), tick size (ns) and the per-entity key stride ``big`` for these times."""
    values = [p for p in ns_parts if len(p)]
    if not values:
        return 0, _TICKS_NS[0], 1
    origin = min(int(p.min()) for p in values)
    latest = max(int(p.max()) for p in values)
    for tick_ns in _TICKS_NS:
        big = (latest - origin) // tick_ns + history_days * DAY_NS // tick_ns + 2
        if big * n_entities < _KEY_LIMIT:
            return origin, tick_ns, big
    raise FeatureDataError("Column 'timestamp' spans too long a period for behaviour features.")


def _ns(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    try:
        return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise FeatureDataError(f"Column '{column}' must hold numbers, got dtype {frame[column].dtype}.") from error


def _finite(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, np.nan)
