"""From a mapped transaction frame to numeric model features."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.features.behaviour import merchant_feature_names, merchant_features, user_feature_names, user_features
from core.features.config import FeatureConfig, FeatureConfigError, FeatureDataError
from core.features.state import BehaviourState
from core.features.time_features import TIME_FEATURES, TIMESTAMP, read_timestamps, time_features
from core.features.timeline import MERCHANT, USER, build_timeline

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def feature_columns(frame_columns: list[str], config: FeatureConfig) -> list[str]:
    """The columns ``build_features`` returns for a frame with these columns, in order.

    Without a timestamp column there are none. (A training frame whose timestamps are all missing
    also gets none; see ``build_features``.)
    """
    columns = set(frame_columns)
    if TIMESTAMP not in columns:
        return []
    names = list(TIME_FEATURES)
    if config.behaviour:
        if USER in columns:
            names += user_feature_names(config, columns)
        if MERCHANT in columns:
            names += merchant_feature_names(config)
    return names


def build_features(frame: pd.DataFrame, config: FeatureConfig, state: BehaviourState | None = None) -> pd.DataFrame:
    """Numeric features for every row of ``frame``: same length and order, index 0..n-1, float32, finite.

    A row's features use only transactions strictly earlier than its own time. Without ``state``
    (training) those are the frame's earlier rows, and merchant risk reads the frame's ``label``.
    With ``state`` (scoring) the state's history counts as earlier transactions too, and the
    frame's ``label`` is never read: risk comes from the state's labels only. Rows with nothing
    to look back on get neutral values plus flags/counts that say so (see ``core.features.behaviour``).

    Columns are ``feature_columns(frame.columns, config)``, except that a frame with no valid
    timestamp and no ``state`` gets no columns at all (nothing to compute; the model then uses
    the raw fields). With a ``state`` the columns never depend on the values.
    """
    n = len(frame)
    names = feature_columns(list(frame.columns), config)
    if not names:
        return pd.DataFrame(index=pd.RangeIndex(n))
    stamps = read_timestamps(frame[TIMESTAMP])
    if state is None and not stamps.valid.any():
        return pd.DataFrame(index=pd.RangeIndex(n))
    values: dict[str, np.ndarray] = time_features(stamps)
    if config.behaviour and (USER in frame.columns or MERCHANT in frame.columns):
        _check_behaviour_inputs(frame, config, state)
        timeline = build_timeline(frame, stamps, config, state)
        if USER in frame.columns:
            values.update(user_features(timeline, config))
        if MERCHANT in frame.columns:
            values.update(merchant_features(timeline, config))
    # One [feature, row] block handed to pandas as its transpose: no per-column consolidation copy.
    block = np.empty((len(names), n), dtype=np.float32)
    for i, name in enumerate(names):
        block[i] = _finite32(values[name])
    return pd.DataFrame(block.T, columns=names, index=pd.RangeIndex(n), copy=False)


def _check_behaviour_inputs(frame: pd.DataFrame, config: FeatureConfig, state: BehaviourState | None) -> None:
    if "amount" not in frame.columns:
        raise FeatureDataError("Column 'amount' is required to build behaviour features.")
    if state is not None and state.history_days < config.history_days:
        raise FeatureConfigError(
            f"The behaviour state keeps {state.history_days} days of history, but windows_days="
            f"{list(config.windows_days)} with label_delay_days={config.label_delay_days} need "
            f"{config.history_days}; rebuild the state with this config."
        )


def _finite32(values: np.ndarray) -> np.ndarray:
    """float32 with NaN as 0 and infinities clipped (a guard: the features are built finite)."""
    with np.errstate(over="ignore"):
        out = np.asarray(values, dtype=np.float32)
    if np.isfinite(out).all():
        return out
    return np.nan_to_num(out, nan=0.0, posinf=_FLOAT32_MAX, neginf=-_FLOAT32_MAX)
