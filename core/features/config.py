"""Settings of the feature pipeline and the errors it raises."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from core.errors import TxlabError

# Ten years: far beyond any useful window, and keeps integer clocks well inside int64.
MAX_DAYS = 3650


class FeatureConfigError(TxlabError):
    """A feature setting or a stored behaviour state is invalid; the message names the field and value."""


class FeatureDataError(TxlabError):
    """A frame cannot be turned into features (no amount, a timestamp that is not a datetime, ...)."""


@dataclass
class FeatureConfig:
    """What ``build_features`` computes; validated on creation.

    ``windows_days``: look-back windows (whole days) of the behaviour counts and amount statistics.
    ``label_delay_days``: labels of the last N days before a transaction are treated as unknown
    (fraud is reported late), so merchant risk only reads labels older than that.
    ``behaviour``: False keeps the time features only.
    """

    windows_days: tuple[int, ...] = (1, 7, 30)
    label_delay_days: int = 7
    behaviour: bool = True

    def __post_init__(self) -> None:
        self.windows_days = _check_windows(self.windows_days)
        self.label_delay_days = _check_days("label_delay_days", self.label_delay_days, low=0)
        if not isinstance(self.behaviour, (bool, np.bool_)):
            raise FeatureConfigError(f"behaviour must be true or false, got {self.behaviour!r}.")
        self.behaviour = bool(self.behaviour)

    @property
    def history_days(self) -> int:
        """How far back behaviour features look: the longest window plus the label delay."""
        return max(self.windows_days) + self.label_delay_days

    def to_dict(self) -> dict:
        """JSON-safe settings; ``from_dict`` reads them back."""
        return {
            "windows_days": list(self.windows_days),
            "label_delay_days": self.label_delay_days,
            "behaviour": self.behaviour,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "FeatureConfig":
        """Settings from ``to_dict`` output; missing keys take their defaults, unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise FeatureConfigError(f"Feature settings must be a mapping, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FeatureConfigError(f"Unknown feature setting(s): {', '.join(map(str, unknown))}.")
        return cls(**dict(data))


def _check_windows(value: object) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)):
        raise FeatureConfigError(f"windows_days must be a list of whole days, got {value!r}.")
    windows = tuple(_check_days("windows_days", day, low=1) for day in value)
    if not windows:
        raise FeatureConfigError("windows_days must hold at least one window, got an empty list.")
    if len(set(windows)) != len(windows):
        raise FeatureConfigError(f"windows_days must not repeat a window, got {list(windows)!r}.")
    return windows


def _check_days(name: str, value: object, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise FeatureConfigError(f"{name} must be a whole number of days, got {value!r}.")
    if not low <= value <= MAX_DAYS:
        raise FeatureConfigError(f"{name} must be between {low} and {MAX_DAYS} days, got {value!r}.")
    return int(value)
