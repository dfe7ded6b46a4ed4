"""Causal behaviour features per user and per merchant: windows, novelty, recency, merchant risk.

Neutral values, used when there is nothing to look back on (no earlier transaction, a missing id,
a missing time): counts 0, amount means/stds 0, relative amount 0, ``user_first_tx`` 1 with
``user_log_seconds_since_prev`` 0, "new" flags 0 (nothing is known to be new), merchant fraud rate
at the prior ``RISK_PRIOR_RATE``. A row with a missing user (merchant) id, time or amount adds
nothing to any look-back; missing ids are "no history", never one shared "unknown" entity.
"""
from __future__ import annotations

import numpy as np

from core.features.config import FeatureConfig
from core.features.timeline import MERCHANT, NOVELTY_FIELDS, USER, Timeline
from core.features.windows import (
    AmountSums, EntityOrder, WindowStats, first_use, labelled_windows, previous_tick, scatter,
)

# Merchant fraud rate = (frauds + RISK_PRIOR_WEIGHT * RISK_PRIOR_RATE) / (labelled + RISK_PRIOR_WEIGHT):
# a merchant with few labelled transactions stays near the prior instead of jumping to 0 or 1.
RISK_PRIOR_RATE = 0.01
RISK_PRIOR_WEIGHT = 5.0
_NOVELTY_NAMES = {"merchant_id": "user_new_merchant", "country": "user_new_country", "device_type": "user_new_device"}


def user_feature_names(config: FeatureConfig, columns: set[str]) -> list[str]:
    """Per-user feature names, in output order, for a frame with these columns."""
    names = [f"user_{stat}_{w}d" for w in config.windows_days for stat in ("count", "amount_mean", "amount_std")]
    names += ["user_amount_rel", "user_log_seconds_since_prev", "user_first_tx"]
    return names + [_NOVELTY_NAMES[f] for f in NOVELTY_FIELDS if f in columns]


def merchant_feature_names(config: FeatureConfig) -> list[str]:
    """Per-merchant feature names, in output order."""
    names = [f"merchant_{stat}_{w}d" for w in config.windows_days for stat in ("count", "amount_mean", "amount_std")]
    return names + [f"merchant_{stat}_{w}d" for w in config.windows_days for stat in ("labelled", "fraud_rate")]


def user_features(timeline: Timeline, config: FeatureConfig) -> dict[str, np.ndarray]:
    """Windows, amount relative to the longest window's mean, time since previous, novelty flags."""
    order = EntityOrder.build(timeline.codes[USER], timeline.ticks, timeline.valid, timeline.big, timeline.n_context)
    out, stats = _window_features("user", order, timeline, config)
    amount = order.at_query(timeline.amount)
    ok = (stats.n_amount > 0) & ~np.isnan(amount)
    ratio = np.log1p(np.maximum(np.where(ok, amount, 0.0), 0.0)) - np.log1p(np.maximum(stats.mean, 0.0))
    out["user_amount_rel"] = _put(order, timeline, np.where(ok, ratio, 0.0), 0.0)
    out.update(_recency(order, timeline))
    for field in NOVELTY_FIELDS:
        if field in timeline.codes:
            out[_NOVELTY_NAMES[field]] = _novelty(timeline, field)
    return out


def merchant_features(timeline: Timeline, config: FeatureConfig) -> dict[str, np.ndarray]:
    """Windows, plus the label-delayed count of labelled transactions and smoothed fraud rate."""
    order = EntityOrder.build(timeline.codes[MERCHANT], timeline.ticks, timeline.valid, timeline.big,
                              timeline.n_context)
    out, _ = _window_features("merchant", order, timeline, config)
    lag = timeline.days(config.label_delay_days)
    windows = labelled_windows(order, timeline.label, lag, [timeline.days(w) for w in config.windows_days])
    for w, (labelled, frauds) in zip(config.windows_days, windows):
        rate = (frauds + RISK_PRIOR_WEIGHT * RISK_PRIOR_RATE) / (labelled + RISK_PRIOR_WEIGHT)
        out[f"merchant_labelled_{w}d"] = _put(order, timeline, labelled, 0.0)
        out[f"merchant_fraud_rate_{w}d"] = _put(order, timeline, rate, RISK_PRIOR_RATE)
    return out


def _window_features(prefix: str, order: EntityOrder, timeline: Timeline,
                     config: FeatureConfig) -> tuple[dict[str, np.ndarray], WindowStats]:
    """Count, amount mean and std per window; also the longest window's statistics."""
    sums = AmountSums(order, timeline.amount)
    out, longest = {}, None
    for w in sorted(config.windows_days):
        stats = sums.stats(order.since(timeline.days(w)), order.earlier)
        longest = stats
        out[f"{prefix}_count_{w}d"] = _put(order, timeline, stats.count, 0.0)
        out[f"{prefix}_amount_mean_{w}d"] = _put(order, timeline, stats.mean, 0.0)
        out[f"{prefix}_amount_std_{w}d"] = _put(order, timeline, stats.std, 0.0)
    return out, longest


def _recency(order: EntityOrder, timeline: Timeline) -> dict[str, np.ndarray]:
    """Log seconds since the user's previous transaction (the state's last-seen time counts too)."""
    ticks = order.at_query(timeline.ticks)
    previous = previous_tick(order, timeline.big)
    if len(timeline.last_seen):
        last = timeline.last_seen[order.codes[order.query]]
        previous = np.maximum(previous, np.where(last < ticks, last, -1))
    first = previous < 0
    seconds = np.where(first, 0, ticks - previous) * (timeline.tick_ns / 1e9)
    return {
        "user_log_seconds_since_prev": _put(order, timeline, np.log1p(seconds), 0.0),
        "user_first_tx": _put(order, timeline, first.astype(np.float64), 1.0),
    }


def _novelty(timeline: Timeline, field: str) -> np.ndarray:
    """1 where the row's value of ``field`` was never used by its user at an earlier time."""
    user, value = timeline.codes[USER], timeline.codes[field]
    # The state's history rows are left out: its first-seen table already holds their pairs.
    rows = timeline.n_context + np.flatnonzero(
        ((user >= 0) & (value >= 0) & timeline.valid)[timeline.n_context:])
    seen_user, seen_value, seen_tick = timeline.first_seen.get(field, (np.empty(0, np.int64),) * 3)
    n_values = max(timeline.sizes[field], 1)
    pairs = np.concatenate([user[rows] * n_values + value[rows], seen_user * n_values + seen_value])
    ticks = timeline.ticks[rows]
    first = first_use(pairs, np.concatenate([ticks, seen_tick]))[: len(rows)]
    out = np.zeros(timeline.n_target, dtype=np.float32)
    out[rows - timeline.n_context] = first >= ticks
    return out


def _put(order: EntityOrder, timeline: Timeline, values: np.ndarray, fill: float) -> np.ndarray:
    return scatter(order, values, timeline.n_context, timeline.n_target, fill)
