"""Top-K merchants for a user (never one they used) and merchants similar to a merchant, with filters."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import NotFoundError
from core.recommend.interactions import Interactions

RESULT_COLUMNS = ["merchant_id", "score", "category", "country", "fraud_rate", "transactions"]


class RecommendError(NotFoundError):
    """A user or merchant that the data does not hold."""


@dataclass
class Filters:
    """Which merchants may be recommended; ``None`` means no restriction."""

    max_fraud_rate: float | None = None  # share, 0..1
    category: str | None = None
    country: str | None = None

    def allowed(self, info: pd.DataFrame, merchants: pd.Index) -> np.ndarray:
        """Boolean mask over ``merchants`` (facts from ``merchant_table``)."""
        facts = info.reindex(merchants)
        mask = np.ones(len(merchants), dtype=bool)
        if self.max_fraud_rate is not None:
            mask &= facts["fraud_rate"].fillna(0.0).to_numpy() <= float(self.max_fraud_rate)
        if self.category:
            mask &= (facts["category"].astype("str") == str(self.category)).to_numpy()
        if self.country:
            mask &= (facts["country"].astype("str") == str(self.country)).to_numpy()
        return mask


def recommend_for_user(source, interactions: Interactions, info: pd.DataFrame, user_id: str, k: int = 10,
                       filters: Filters | None = None) -> pd.DataFrame:
    """The ``k`` best-scored merchants ``user_id`` has not used yet that pass ``filters`` (columns ``RESULT_COLUMNS``)."""
    row = interactions.user_index(user_id)
    if row < 0:
        raise RecommendError(f"User '{user_id}' has no transactions in this dataset.")
    aligned = source.aligned(interactions)
    scores = aligned.user_scores(interactions, np.array([row]))[0].astype(np.float64)
    scores[interactions.used(row)] = -np.inf
    return _top(scores, interactions.merchants, info, k, filters)


def similar_merchants(source, interactions: Interactions, info: pd.DataFrame, merchant_id: str, k: int = 10,
                      filters: Filters | None = None) -> pd.DataFrame:
    """The ``k`` merchants closest (cosine of embeddings) to ``merchant_id``, itself excluded."""
    row = interactions.merchant_index(merchant_id)
    if row < 0:
        raise RecommendError(f"Merchant '{merchant_id}' has no transactions in this dataset.")
    aligned = source.aligned(interactions)
    if not aligned.known[row]:
        raise RecommendError(f"Merchant '{merchant_id}' has no embedding in this source (too few transactions when it was trained).")
    scores = aligned.similar_scores(row).astype(np.float64)
    scores[row] = -np.inf
    return _top(scores, interactions.merchants, info, k, filters)


def _top(scores: np.ndarray, merchants: pd.Index, info: pd.DataFrame, k: int, filters: Filters | None) -> pd.DataFrame:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}.")
    if filters is not None:
        scores[~filters.allowed(info, merchants)] = -np.inf
    candidates = np.flatnonzero(np.isfinite(scores))
    best = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
    facts = info.reindex(merchants[best])
    return pd.DataFrame({"merchant_id": merchants[best].astype(str), "score": scores[best],
                         "category": facts["category"].to_numpy(), "country": facts["country"].to_numpy(),
                         "fraud_rate": facts["fraud_rate"].to_numpy(), "transactions": facts["transactions"].to_numpy()},
                        columns=RESULT_COLUMNS)
