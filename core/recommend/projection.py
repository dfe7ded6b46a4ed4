"""A 2-D map of merchant embeddings: PCA of a sample of merchants, with their facts for hover and colour."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_POINTS = 2000


@dataclass
class MerchantMap:
    """``points``: merchant_id, x, y, category, country, fraud_rate, transactions (at most ``MAX_POINTS`` rows)."""

    points: pd.DataFrame
    explained: tuple[float, float]  # share of variance along each axis
    total: int  # merchants with an embedding before sampling


def merchant_map(source, info: pd.DataFrame, max_points: int = MAX_POINTS, seed: int = 0) -> MerchantMap:
    """Project a source's known merchant vectors onto their first two principal components.

    A sample keeps the busiest merchants first (half the points) and draws the rest at random,
    so the giants every user sees are always on the map.
    """
    known = np.flatnonzero(source.known)
    if len(known) > max_points:
        busiest = info["transactions"].reindex(source.merchants[known]).fillna(0).to_numpy()
        top = known[np.argsort(-busiest, kind="stable")[: max_points // 2]]
        rest = np.setdiff1d(known, top)
        picked = np.random.default_rng(seed).choice(rest, size=max_points - len(top), replace=False)
        known_sample = np.sort(np.concatenate([top, picked]))
    else:
        known_sample = known
    vectors = source.merchant_vectors[known_sample].astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    if len(centred) >= 2 and centred.shape[1] >= 1:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        axes = vt[:2]
        coords = centred @ axes.T
        variance = s ** 2
        explained = tuple(float(v / variance.sum()) if variance.sum() > 0 else 0.0 for v in variance[:2])
    else:
        coords, explained = np.zeros((len(centred), 2)), (0.0, 0.0)
    if coords.shape[1] < 2:
        coords = np.column_stack([coords, np.zeros(len(coords))])
        explained = (explained[0] if explained else 0.0, 0.0)
    ids = source.merchants[known_sample]
    facts = info.reindex(ids)
    points = pd.DataFrame({"merchant_id": ids.astype(str), "x": coords[:, 0], "y": coords[:, 1],
                           "category": facts["category"].to_numpy(), "country": facts["country"].to_numpy(),
                           "fraud_rate": facts["fraud_rate"].to_numpy(), "transactions": facts["transactions"].to_numpy()})
    return MerchantMap(points, (float(explained[0]), float(explained[1])), int(len(known)))
