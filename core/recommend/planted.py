"""Planted merchant preferences on a mapped frame, for tests and benchmarks of the recommenders.

``core.synth`` draws every user's favourite merchants from one popularity distribution, so
there nothing beats recommending the most popular merchants. Here users fall into ``groups``
and a ``share`` of each user's transactions move to a merchant of the user's own group (the
nearest merchant id in that group, so popularity stays about the same); categories follow the
merchant. A recommender that learns who-goes-where can then beat popularity.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def plant_preferences(frame: pd.DataFrame, groups: int = 8, share: float = 0.8, seed: int = 0,
                      category_column: str | None = "merchant_category") -> pd.DataFrame:
    """A copy of ``frame`` (``user_id``, ``merchant_id``) where users prefer their group's merchants."""
    if groups < 1 or not 0.0 <= share <= 1.0:
        raise ValueError(f"groups must be >= 1 and share in [0, 1], got groups={groups!r}, share={share!r}.")
    rng = np.random.default_rng(seed)
    out = frame.copy()
    merchant_codes, merchants = pd.factorize(out["merchant_id"], sort=True)
    user_codes, users = pd.factorize(out["user_id"], sort=True)
    user_group = rng.integers(0, groups, size=len(users))
    target_group = user_group[user_codes]
    moved = rng.random(len(out)) < share
    new = merchant_codes - merchant_codes % groups + target_group
    new = np.where(new >= len(merchants), new - groups, new)
    new = np.where(moved & (new >= 0), new, merchant_codes)
    out["merchant_id"] = np.asarray(merchants)[new]
    if category_column and category_column in out:
        category_of = pd.Series(out[category_column].to_numpy(), index=merchant_codes).groupby(level=0).first()
        out[category_column] = category_of.reindex(new).to_numpy()
    return out
