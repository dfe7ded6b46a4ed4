"""Fraud-detection metrics on scores: the ones every epoch, baseline and version report.

ROC AUC and average precision rank every transaction; the two operational ones ask what an
analyst team would see: precision in the top k alerts of each day, and the share of fraud
caught when 1% of legitimate transactions are flagged.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

METRIC_NAMES = ("roc_auc", "average_precision", "precision_at_k", "recall_at_1pct_fpr")


def score_metrics(y: np.ndarray, scores: np.ndarray, days: np.ndarray | None = None, k: int = 100) -> dict[str, float]:
    """ROC AUC, AP, precision@k per day and recall at 1% FPR; NaN where a metric is undefined.

    ``days`` (one day number per row) groups the top-k; without it the whole set counts as one day.
    """
    y = np.asarray(y).astype(np.int8)
    scores = np.asarray(scores, dtype=np.float64)
    both = 0 < y.sum() < len(y)
    return {
        "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan"),
        "average_precision": float(average_precision_score(y, scores)) if y.any() else float("nan"),
        "precision_at_k": precision_at_k_per_day(y, scores, days, k),
        "recall_at_1pct_fpr": recall_at_fpr(y, scores, 0.01) if both else float("nan"),
    }


def precision_at_k_per_day(y: np.ndarray, scores: np.ndarray, days: np.ndarray | None, k: int) -> float:
    """Mean over days of the fraud share among that day's k highest scores (fewer if the day is smaller)."""
    if len(y) == 0:
        return float("nan")
    days = np.zeros(len(y), dtype=np.int64) if days is None else np.asarray(days)
    frame = pd.DataFrame({"day": days, "score": scores, "y": y})
    top = frame.sort_values("score", ascending=False, kind="stable").groupby("day", sort=False).head(k)
    return float(top.groupby("day")["y"].mean().mean())


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, fpr: float) -> float:
    """The largest true-positive rate reachable with a false-positive rate of at most ``fpr``."""
    fprs, tprs, _ = roc_curve(y, scores)
    return float(tprs[fprs <= fpr].max())
