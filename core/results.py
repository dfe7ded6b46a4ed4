"""JSON round-trips for result dataclasses: results are cached and sent as JSON, never pickled."""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Self

import numpy as np
import pandas as pd


class JsonResult:
    """Mixin for result dataclasses: ``to_dict`` gives JSON-safe data, ``from_dict`` rebuilds."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def json_safe(value: Any) -> Any:
    """Plain Python for ``json.dumps(allow_nan=False)``: NaN/inf become None, timestamps ISO text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    return value
