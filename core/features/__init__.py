"""Turning a mapped transaction frame into numeric model features: time and causal behaviour.

- ``build_features(frame, config, state=None)``: float32 features, one row per transaction.
- ``feature_columns(columns, config)``: the names it will return, before any data is read.
- ``FeatureConfig``: windows, label delay, behaviour on/off (JSON-safe via ``to_dict``).
- ``BehaviourState``: what scoring needs from the training data; stored as plain tables.

Features (``w`` in ``windows_days``; "earlier" = strictly earlier time):

- time: ``hour_sin/cos``, ``dow_sin/cos`` (Monday 0), ``is_weekend``, ``is_night`` (22:00-05:59),
  ``timestamp_missing``;
- per user: ``user_count_{w}d``, ``user_amount_mean_{w}d``, ``user_amount_std_{w}d`` over earlier
  transactions in ``(t - w, t)``; ``user_amount_rel`` = log1p(amount) - log1p(mean over the longest
  window); ``user_log_seconds_since_prev`` with ``user_first_tx``; ``user_new_merchant``,
  ``user_new_country``, ``user_new_device`` (value never used by the user before);
- per merchant: the same three window statistics, and ``merchant_labelled_{w}d`` /
  ``merchant_fraud_rate_{w}d`` over labels in ``[t - delay - w, t - delay)``, rate smoothed
  towards ``RISK_PRIOR_RATE``.

Modules: ``config`` (settings, errors), ``time_features`` (calendar), ``timeline`` (arrays on
one clock), ``windows`` (sorted look-back kernels), ``behaviour`` (user and merchant features),
``state`` (the training summary), ``pipeline`` (the public functions), ``online`` (one row at a time
against a state indexed once, for single-transaction scoring; same values as ``build_features``).
"""
from core.features.behaviour import RISK_PRIOR_RATE, RISK_PRIOR_WEIGHT
from core.features.config import FeatureConfig, FeatureConfigError, FeatureDataError
from core.features.pipeline import build_features, feature_columns
from core.features.state import BehaviourState
from core.features.time_features import TIME_FEATURES

__all__ = [
    "BehaviourState",
    "FeatureConfig",
    "FeatureConfigError",
    "FeatureDataError",
    "RISK_PRIOR_RATE",
    "RISK_PRIOR_WEIGHT",
    "TIME_FEATURES",
    "build_features",
    "feature_columns",
]
