"""Training and validation rows: by time when the data has a timestamp, stratified otherwise.

By time: validation is the latest ``validation_days``; training ends ``label_delay_days`` before
it, because at validation time the labels of those days were not known yet. Rows in between
(and rows with no time) feed the behaviour features only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from core.errors import TxlabError
from core.train_config import TrainConfig

MIN_ROWS = 200
MIN_FRAUD = 5
VALID_SHARE = 0.2  # without a timestamp


class SplitError(TxlabError):
    """The data cannot be split into usable training and validation rows with these settings."""


@dataclass
class Split:
    train: np.ndarray  # row positions, in time order when by time
    valid: np.ndarray
    by_time: bool
    train_days: np.ndarray | None = None  # day number of each row (for precision@k per day)
    valid_days: np.ndarray | None = None
    train_end: pd.Timestamp | None = None
    valid_start: pd.Timestamp | None = None

    def describe(self) -> dict:
        out = {"by_time": self.by_time, "train_rows": int(len(self.train)), "valid_rows": int(len(self.valid))}
        if self.by_time:
            out["train_end"] = self.train_end.isoformat()
            out["valid_start"] = self.valid_start.isoformat()
        return out


def split_rows(frame: pd.DataFrame, config: TrainConfig) -> Split:
    """The split for ``frame`` (positions into it); raises ``SplitError`` naming the setting to change."""
    labels = frame["label"].to_numpy()
    times = frame["timestamp"] if "timestamp" in frame else None
    if times is None or times.isna().all():
        split = _stratified(labels, config.seed)
    else:
        split = _by_time(times, config)
    _check(split, labels, config)
    return split


def _by_time(times: pd.Series, config: TrainConfig) -> Split:
    t = times.to_numpy(dtype="datetime64[us]")
    known = ~np.isnat(t)
    end = t[known].max()
    valid_start = end - np.timedelta64(config.validation_days, "D")
    train_end = valid_start - np.timedelta64(config.label_delay_days, "D")
    valid = np.flatnonzero(known & (t > valid_start))
    train = np.flatnonzero(known & (t <= train_end))
    train = train[np.argsort(t[train], kind="stable")]
    valid = valid[np.argsort(t[valid], kind="stable")]
    day = (t.astype("datetime64[D]").astype(np.int64))
    return Split(train, valid, True, day[train], day[valid], pd.Timestamp(train_end), pd.Timestamp(valid_start))


def _stratified(labels: np.ndarray, seed: int) -> Split:
    positions = np.arange(len(labels))
    train, valid = train_test_split(positions, test_size=VALID_SHARE, stratify=labels, random_state=seed)
    return Split(np.sort(train), np.sort(valid), False)


def _check(split: Split, labels: np.ndarray, config: TrainConfig) -> None:
    hint = (f" Shorten the validation window (now {config.validation_days} days) or the label delay "
            f"(now {config.label_delay_days} days)." if split.by_time else "")
    for name, rows in (("training", split.train), ("validation", split.valid)):
        frauds = int(labels[rows].sum())
        if len(rows) < MIN_ROWS or frauds < MIN_FRAUD or frauds == len(rows):
            raise SplitError(f"The {name} rows are too few to learn from: {len(rows)} rows with {frauds} fraud "
                             f"(need at least {MIN_ROWS} rows, {MIN_FRAUD} fraud and some legitimate).{hint}")
