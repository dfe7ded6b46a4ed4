"""The previous implicit-feedback model, kept as evidence: matrix factorisation with the BPR loss.

Each step takes a batch of observed (user, merchant) pairs, draws one merchant per pair uniformly
at random as the negative, and pushes ``u.m_pos + b_pos`` above ``u.m_neg + b_neg``
(``-log sigmoid`` of the gap). Pairs are the distinct user-merchant pairs; counts only decide
which pairs exist. Every user has a free vector, so a user it never saw has none.
``benchmarks/recommend.py`` evaluates it next to the history-softmax model that replaced it.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from core.recommend.interactions import Interactions


class _BPR(nn.Module):
    def __init__(self, n_users: int, n_merchants: int, dim: int) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, dim)
        self.merchants = nn.Embedding(n_merchants, dim)
        self.bias = nn.Embedding(n_merchants, 1)
        nn.init.normal_(self.users.weight, std=0.1)
        nn.init.normal_(self.merchants.weight, std=0.1)
        nn.init.zeros_(self.bias.weight)

    def loss(self, u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, l2: float) -> torch.Tensor:
        eu, ep, en = self.users(u), self.merchants(pos), self.merchants(neg)
        gap = (eu * (ep - en)).sum(1) + self.bias(pos).squeeze(1) - self.bias(neg).squeeze(1)
        penalty = l2 * (eu.pow(2).sum() + ep.pow(2).sum() + en.pow(2).sum()) / len(u)
        return -nn.functional.logsigmoid(gap).mean() + penalty


def fit_bpr(interactions: Interactions, config, on_progress: Callable[[int, int, float], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """``(user_factors, merchant_factors, merchant_bias, info)`` fitted for ``config.epochs`` epochs
    (``config``: an ``ImplicitConfig``; ``batch_size`` counts pairs, ``l2`` is the per-example penalty)."""
    coo = interactions.matrix.tocoo()
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    net = _BPR(interactions.n_users, interactions.n_merchants, config.dim)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    users, merchants = torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))
    n = len(users)
    batch = min(config.batch_size, max(256, n // 32))  # small data still gets a few dozen steps per epoch
    started = time.perf_counter()
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(n, generator=generator)
        negatives = torch.randint(0, interactions.n_merchants, (n,), generator=generator)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            loss = net.loss(users[idx], merchants[idx], negatives[start:start + batch], config.l2)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
            if should_stop is not None and should_stop():
                break
        if on_progress is not None:
            on_progress(epoch, config.epochs, total / n)
        if should_stop is not None and should_stop():
            break
    with torch.no_grad():
        return (net.users.weight.numpy().copy(), net.merchants.weight.numpy().copy(), net.bias.weight.numpy()[:, 0].copy(),
                {"pairs": int(n), "epochs_run": epoch, "fit_s": round(time.perf_counter() - started, 3)})
