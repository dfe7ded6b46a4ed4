"""Reference models trained on the deep model's own features and split: is the network worth it?

- Gradient boosting (scikit-learn's ``HistGradientBoostingClassifier``): the usual tabular
  champion. Its early stopping watches a time-ordered fold (the latest fifth of the training
  rows), not a random one: on time-ordered data a random fold leaks the future and lets the
  trees overfit.
- Logistic regression on standardised numbers and one-hot small categories: on simulated data
  of this kind it has beaten both trees and an untuned network.

Both see the same inputs as the network except high-cardinality ids (users, merchants), which
they cannot use as such: their behaviour reaches them through the behaviour features.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from core.metrics import score_metrics

BASELINES = ("hist_gradient_boosting", "logistic_regression")
TREE_MAX_CATEGORIES = 250  # HistGradientBoosting's native categorical support stops at 255 bins
ONE_HOT_MAX_CATEGORIES = 64


@dataclass
class BaselineData:
    """Encoded inputs of one split (rows of ``train`` in time order when the data has time)."""

    codes: np.ndarray
    numbers: np.ndarray
    y: np.ndarray
    days: np.ndarray | None = None


def train_baselines(train: BaselineData, valid: BaselineData, cardinalities: list[int], *, seed: int = 0,
                    top_k: int = 100, on_result: Callable[[str, dict], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> dict[str, dict]:
    """Fit each baseline, score the validation rows, and report its metrics (plus ``fit_s``)."""
    results: dict[str, dict] = {}
    for name, fit in (("hist_gradient_boosting", _fit_trees), ("logistic_regression", _fit_logistic)):
        if should_stop is not None and should_stop():
            break
        start = time.perf_counter()
        scores = fit(train, valid, cardinalities, seed)
        metrics = score_metrics(valid.y, scores, valid.days, top_k)
        metrics["fit_s"] = round(time.perf_counter() - start, 3)
        results[name] = metrics
        if on_result is not None:
            on_result(name, metrics)
    return results


def _fit_trees(train: BaselineData, valid: BaselineData, cardinalities: list[int], seed: int) -> np.ndarray:
    small = [j for j, card in enumerate(cardinalities) if card <= TREE_MAX_CATEGORIES]

    def inputs(data: BaselineData) -> np.ndarray:
        return np.hstack([data.numbers, data.codes[:, small].astype(np.float32)])

    x, y = inputs(train), train.y
    cut = int(len(y) * 0.8)
    if y[:cut].sum() == 0 or y[cut:].sum() == 0:
        cut = len(y)  # too few frauds for a separate fold: no early stopping
    categorical = np.zeros(x.shape[1], dtype=bool)
    categorical[train.numbers.shape[1]:] = True
    model = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=50, l2_regularization=1.0,
        categorical_features=categorical, early_stopping=cut < len(y), n_iter_no_change=10, random_state=seed)
    if cut < len(y):
        model.fit(x[:cut], y[:cut], X_val=x[cut:], y_val=y[cut:])
    else:
        model.fit(x, y)
    return model.predict_proba(inputs(valid))[:, 1]


def _fit_logistic(train: BaselineData, valid: BaselineData, cardinalities: list[int], seed: int) -> np.ndarray:
    small = [j for j, card in enumerate(cardinalities) if card <= ONE_HOT_MAX_CATEGORIES]

    def inputs(data: BaselineData) -> np.ndarray:
        hots = [np.eye(cardinalities[j], dtype=np.float32)[data.codes[:, j]] for j in small]
        return np.hstack([data.numbers, *hots])

    model = LogisticRegression(C=1.0, max_iter=300, random_state=seed)
    model.fit(inputs(train), train.y)
    return model.predict_proba(inputs(valid))[:, 1]
