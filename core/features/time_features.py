"""Reading the ``timestamp`` column, and the calendar features derived from it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features.config import FeatureDataError

TIMESTAMP = "timestamp"
TIME_FEATURES = ("hour_sin", "hour_cos", "dow_sin", "dow_cos", "is_weekend", "is_night", "timestamp_missing")
DAY_NS = 86_400 * 10**9
_NAT = np.iinfo(np.int64).min
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


@dataclass
class Stamps:
    """A timestamp column as int64 nanoseconds since the epoch.

    ``utc``: the instant, for ordering and windows; ``local``: the wall-clock time (same as ``utc``
    for naive timestamps), for hour and weekday. Both hold garbage where ``valid`` is False (NaT).
    """

    utc: np.ndarray
    local: np.ndarray
    valid: np.ndarray


def read_timestamps(series: pd.Series) -> Stamps:
    """``series`` (datetime64 of any unit, naive or with a time zone) as nanosecond arrays."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        raise FeatureDataError(
            f"Column '{series.name}' must hold dates and times to build time features, got dtype {series.dtype}."
        )
    local = series
    utc = series
    if getattr(series.dtype, "tz", None) is not None:
        local = series.dt.tz_localize(None)
        utc = series.dt.tz_convert("UTC").dt.tz_localize(None)
    utc_ns = _nanoseconds(utc)
    local_ns = utc_ns if local is utc else _nanoseconds(local)
    return Stamps(utc=utc_ns, local=local_ns, valid=utc_ns != _NAT)


def time_features(stamps: Stamps) -> dict[str, np.ndarray]:
    """Hour of day and day of week on circles, weekend and night (22:00-05:59) flags.

    Rows without a time get zeros everywhere (the centre of both circles) and ``timestamp_missing`` 1.
    """
    ns = np.where(stamps.valid, stamps.local, 0)
    day_seconds = (ns // 10**9) % 86_400
    hour = day_seconds / 3600.0
    weekday = (ns // DAY_NS + _EPOCH_WEEKDAY) % 7
    valid = stamps.valid
    hour_angle = 2 * np.pi * hour / 24.0
    dow_angle = 2 * np.pi * weekday / 7.0
    whole_hour = day_seconds // 3600
    return {
        "hour_sin": np.where(valid, np.sin(hour_angle), 0.0),
        "hour_cos": np.where(valid, np.cos(hour_angle), 0.0),
        "dow_sin": np.where(valid, np.sin(dow_angle), 0.0),
        "dow_cos": np.where(valid, np.cos(dow_angle), 0.0),
        "is_weekend": valid & (weekday >= 5),
        "is_night": valid & ((whole_hour >= 22) | (whole_hour < 6)),
        "timestamp_missing": ~valid,
    }


def _nanoseconds(series: pd.Series) -> np.ndarray:
    try:
        values = series.to_numpy(dtype="datetime64[ns]")
    except (OverflowError, ValueError) as error:  # dates outside 1677..2262
        raise FeatureDataError(f"Column '{series.name}' holds dates outside the years 1677-2262.") from error
    return values.view(np.int64)
