"""Embedding sources: what scores a merchant for a user, and how alike two merchants are.

A source holds merchant vectors (and, when it learned them, user vectors in the same space),
aligned to an ``Interactions``' merchant and user order. A user without their own vector is
scored from the merchants they used: for the implicit model (``user_from_history``) exactly as
the model scores anyone, by the ``log1p(count)``-weighted mean of those merchants' vectors;
otherwise (the fraud model's user and merchant embeddings live in different spaces) by the
cosine between each merchant and the centred, count-weighted mean of the merchants they used.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.recommend.interactions import Interactions
from core.recommend.softmax import history_vectors

FRAUD_MODEL = "fraud_model"
IMPLICIT = "implicit"
POPULARITY = "popularity"
SOURCE_LABELS = {FRAUD_MODEL: "Fraud model embeddings", IMPLICIT: "Implicit-feedback model", POPULARITY: "Popularity"}


@dataclass
class EmbeddingSource:
    """``merchant_vectors [n_merchants, d]`` (and optional ``user_vectors [n_users, d]``, ``merchant_bias [n_merchants]``)
    in the row order of ``merchants`` / ``users``; ``known[m]`` is False for merchants the source has no vector for.
    ``user_from_history``: a user's vector is the weighted mean of their merchants' (the implicit softmax model)."""

    name: str
    merchants: pd.Index
    merchant_vectors: np.ndarray
    known: np.ndarray
    users: pd.Index | None = None
    user_vectors: np.ndarray | None = None
    merchant_bias: np.ndarray | None = None
    user_from_history: bool = False

    def aligned(self, interactions: Interactions) -> "EmbeddingSource":
        """The same source re-indexed to the merchants and users of ``interactions`` (unknown ones: zero, not known)."""
        m_pos = self.merchants.get_indexer(interactions.merchants)
        vectors = _take(self.merchant_vectors, m_pos)
        known = (m_pos >= 0) & _take(self.known.astype(bool)[:, None], m_pos)[:, 0].astype(bool)
        bias = None if self.merchant_bias is None else _take(self.merchant_bias[:, None], m_pos)[:, 0]
        users = user_vectors = None
        if self.user_vectors is not None and self.users is not None:
            u_pos = self.users.get_indexer(interactions.users)
            users, user_vectors = interactions.users, _take(self.user_vectors, u_pos)
            user_vectors[u_pos < 0] = np.nan  # no own vector: scored from history
        return EmbeddingSource(self.name, interactions.merchants, vectors, known, users, user_vectors, bias, self.user_from_history)

    def user_scores(self, interactions: Interactions, user_rows: np.ndarray) -> np.ndarray:
        """``[len(user_rows), n_merchants]`` scores (higher = better); unknown merchants get -inf.

        The source must be ``aligned`` to ``interactions``.
        """
        user_rows = np.asarray(user_rows, dtype=np.int64)
        scores = np.empty((len(user_rows), interactions.n_merchants), dtype=np.float32)
        own = np.zeros(len(user_rows), dtype=bool)
        if self.user_vectors is not None:
            own = ~np.isnan(self.user_vectors[user_rows, 0])
            if own.any():
                scores[own] = self.user_vectors[user_rows[own]] @ self.merchant_vectors.T
                if self.merchant_bias is not None:
                    scores[own] += self.merchant_bias[None, :]
        if (~own).any():
            scores[~own] = self._history_scores(interactions, user_rows[~own])
        scores[:, ~self.known] = -np.inf
        return scores

    def similar_scores(self, merchant_row: int) -> np.ndarray:
        """Cosine similarity of every merchant to one merchant (-inf for unknown ones)."""
        unit = _unit(self.merchant_vectors)
        scores = unit @ unit[merchant_row]
        scores[~self.known] = -np.inf
        return scores

    def _history_scores(self, interactions: Interactions, user_rows: np.ndarray) -> np.ndarray:
        if self.user_from_history:
            profile = history_vectors(interactions.matrix[user_rows], self.merchant_vectors, self.known)
            scores = profile @ self.merchant_vectors.T
            return scores + self.merchant_bias[None, :] if self.merchant_bias is not None else scores
        centre = self.merchant_vectors[self.known].mean(axis=0) if self.known.any() else 0.0
        unit = _unit(self.merchant_vectors - centre)
        unit[~self.known] = 0.0  # a used merchant without a vector says nothing about the user
        weights = interactions.matrix[user_rows].copy()
        weights.data = np.log1p(weights.data)
        profile = _unit(np.asarray(weights @ unit, dtype=np.float32))
        return profile @ unit.T


@dataclass
class PopularitySource:
    """Scores every merchant by how many users used it in the training interactions."""

    name: str = POPULARITY

    def aligned(self, interactions: Interactions) -> "PopularitySource":
        return self

    def user_scores(self, interactions: Interactions, user_rows: np.ndarray) -> np.ndarray:
        users_per_merchant = np.asarray((interactions.matrix > 0).sum(axis=0), dtype=np.float32).ravel()
        return np.broadcast_to(users_per_merchant, (len(user_rows), interactions.n_merchants)).copy()


def fraud_model_source(model) -> EmbeddingSource:
    """The fraud model's ``merchant_id`` embeddings (row i + 1 = vocabulary value i); needs a ``merchant_id`` field."""
    names = model.encoder.categorical_names
    if "merchant_id" not in names:
        raise ValueError("The fraud model has no merchant_id embedding: it was trained without a merchant_id field.")
    j = names.index("merchant_id")
    vectors = model.net.embeddings[j].weight.detach().cpu().numpy()[1:].astype(np.float32)
    merchants = pd.Index(model.encoder.vocabularies_[j].values, dtype="str")
    return EmbeddingSource(FRAUD_MODEL, merchants, vectors, np.ones(len(merchants), dtype=bool))


def implicit_source(model) -> EmbeddingSource:
    """An ``ImplicitModel``'s user and merchant factors (and merchant biases)."""
    return EmbeddingSource(IMPLICIT, model.merchants, model.merchant_factors, np.ones(len(model.merchants), dtype=bool),
                           model.users, model.user_factors, model.merchant_bias, model.config.method == "softmax")


def _take(array: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = np.zeros((len(positions), array.shape[1]), dtype=np.float32)
    found = positions >= 0
    out[found] = array[positions[found]]
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)
