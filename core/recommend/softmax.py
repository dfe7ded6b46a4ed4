"""The implicit-feedback model: merchant embeddings whose mean over a user's history predicts the
merchants the user goes to next, trained with a full softmax over every merchant.

A user's vector is the mean of the vectors of the merchants they used, weighted by
``log1p(transactions)``; a merchant scores ``user . merchant + bias``. One table of merchant
vectors serves users, recommendations and similar merchants, and a user the model never saw
gets a vector from their history without retraining (item2vec / YouTube-style).

Each training step takes a batch of users and hides a share (``mask_share``) of each one's
distinct merchants (at least one, never all); the rest form the user's vector, and the loss is
the softmax cross-entropy of the hidden merchants among every merchant not in the visible part.
That is the evaluation's task (which new merchant, given the ones used); a full softmax is cheap
with merchant counts in the thousands, and it learns popularity in the biases (started at log
popularity) without sampled negatives. Why not BPR: on ``core.synth`` data, where users shop
near home and by taste, BPR's free user vectors underfit (``benchmarks/recommend.py`` shows both).

Early stopping: a random ``validation_share`` of users with three or more merchants lose one
merchant from the training counts; after each epoch the HR@10 of those merchants (ranked
among the merchants each user had not used, as in ``core.recommend.evaluate``) is measured,
and the best epoch's weights are kept; ``patience`` epochs without a gain end training. With no
such user (tiny data) it trains for ``epochs`` and keeps the last.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from core.recommend.interactions import Interactions

K = 10
MAX_VALIDATION_USERS = 5000
# A step's logits (users x merchants) stay below this many floats, however many merchants there are.
MAX_LOGITS_PER_STEP = 1 << 23
SCORE_CHUNK = 2048


def history_vectors(matrix: sp.csr_matrix, merchant_factors: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Per row of ``matrix`` (transaction counts per merchant), the ``log1p(count)``-weighted mean of the
    merchants' vectors (``known`` merchants only when given); zero for a row with none."""
    weights = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    weights.data = np.log1p(weights.data)
    if known is not None:
        weights = weights @ sp.diags(known.astype(np.float32))
    total = np.asarray(weights.sum(axis=1), dtype=np.float32).ravel()
    summed = np.asarray(weights @ merchant_factors, dtype=np.float32)
    return summed / np.where(total > 0, total, 1.0)[:, None]


class _HistoryModel(nn.Module):
    def __init__(self, n_merchants: int, dim: int, log_popularity: np.ndarray) -> None:
        super().__init__()
        self.merchants = nn.EmbeddingBag(n_merchants, dim, mode="sum")
        nn.init.normal_(self.merchants.weight, std=0.1)
        self.bias = nn.Parameter(torch.from_numpy(log_popularity.astype(np.float32)))

    def loss(self, visible: "_Visible", hidden_rows: torch.Tensor, hidden_cols: torch.Tensor) -> torch.Tensor:
        summed = self.merchants(visible.cols, visible.offsets, per_sample_weights=visible.weights)
        users = summed / visible.totals[:, None]
        logits = users @ self.merchants.weight.T + self.bias
        logits = logits.index_put((visible.rows, visible.cols), torch.tensor(float("-inf")))
        return -torch.log_softmax(logits, dim=1)[hidden_rows, hidden_cols].mean()


class _Visible:
    """The visible part of a batch as EmbeddingBag input: merchant columns, per-row offsets and weights."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_rows: int) -> None:
        self.rows = torch.from_numpy(rows)
        self.cols = torch.from_numpy(cols)
        self.weights = torch.from_numpy(weights)
        self.offsets = torch.from_numpy(np.searchsorted(rows, np.arange(n_rows)).astype(np.int64))
        self.totals = torch.from_numpy(np.bincount(rows, weights=weights, minlength=n_rows).astype(np.float32))


def fit_softmax(interactions: Interactions, config, on_progress: Callable[[int, int, float], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """``(user_factors, merchant_factors, merchant_bias, info)``; ``config`` is an ``ImplicitConfig``
    (``batch_size`` counts users). ``user_factors`` are the history vectors of every user of ``interactions``."""
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    matrix = sp.csr_matrix(interactions.matrix, dtype=np.float32)
    matrix.sort_indices()
    train, valid_users, valid_merchants = _validation_split(matrix, config.validation_share, rng)
    users_per_merchant = np.bincount(train.indices, minlength=interactions.n_merchants)
    log_popularity = np.log1p(users_per_merchant) - np.log1p(users_per_merchant).mean()
    net = _HistoryModel(interactions.n_merchants, config.dim, log_popularity)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    trainable = np.flatnonzero(np.diff(train.indptr) >= 2)  # someone to hide a merchant from, something left to see
    # Small data still gets a dozen steps per epoch; many merchants get fewer users per step.
    batch = max(1, min(config.batch_size, max(64, len(trainable) // 16),
                       MAX_LOGITS_PER_STEP // max(1, interactions.n_merchants)))
    best = (-1.0, _weights(net), 0)
    history: list[dict] = []
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        total, steps = 0.0, 0
        order = rng.permutation(trainable)
        for start in range(0, len(order), batch):
            visible, hidden_rows, hidden_cols = _mask_batch(train, order[start:start + batch], config.mask_share, rng)
            loss = net.loss(visible, hidden_rows, hidden_cols)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total, steps = total + loss.item(), steps + 1
            if should_stop is not None and should_stop():
                break
        hr = _hit_rate(train, valid_users, valid_merchants, *_weights(net))
        history.append({"epoch": epoch, "loss": round(total / max(steps, 1), 5), "validation_hr10": round(hr, 5)})
        if on_progress is not None:
            on_progress(epoch, config.epochs, total / max(steps, 1))
        if hr > best[0] or len(valid_users) == 0:  # without validation users, the last epoch is kept
            best = (hr, _weights(net), epoch)
        if (should_stop is not None and should_stop()) or epoch - best[2] >= config.patience:
            break
    hr, (factors, bias), best_epoch = best
    info = {"pairs": int(matrix.nnz), "epochs_run": epoch, "best_epoch": best_epoch, "validation_users": int(len(valid_users)),
            "validation_hr10": round(hr, 5) if len(valid_users) else None, "history": history,
            "fit_s": round(time.perf_counter() - started, 3)}
    return history_vectors(matrix, factors), factors, bias, info


def _validation_split(matrix: sp.csr_matrix, share: float,
                      rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Training counts without one random merchant of a random ``share`` of users with 3+ merchants (capped), and those pairs."""
    distinct = np.diff(matrix.indptr)
    candidates = np.flatnonzero(distinct >= 3)
    n_valid = min(len(candidates), MAX_VALIDATION_USERS, round(share * len(candidates)))
    if n_valid < 1:
        return matrix, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    users = np.sort(rng.choice(candidates, size=n_valid, replace=False))
    position = matrix.indptr[users] + (rng.random(n_valid) * distinct[users]).astype(np.int64)
    keep = np.ones(matrix.nnz, dtype=bool)
    keep[position] = False
    rows = np.repeat(np.arange(matrix.shape[0]), distinct)
    train = sp.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape)
    train.sort_indices()
    return train, users, matrix.indices[position].astype(np.int64)


def _mask_batch(train: sp.csr_matrix, users: np.ndarray, share: float,
                rng: np.random.Generator) -> tuple[_Visible, torch.Tensor, torch.Tensor]:
    """Hide ``share`` of each user's distinct merchants (at least one, never all)."""
    sub = train[users]
    counts = np.diff(sub.indptr)
    row = np.repeat(np.arange(len(users)), counts)
    order = np.lexsort((rng.random(sub.nnz), row))
    rank = np.empty(sub.nnz, dtype=np.int64)
    rank[order] = np.arange(sub.nnz) - np.repeat(sub.indptr[:-1], counts)
    hidden = rank < np.clip(np.round(share * counts), 1, counts - 1)[row]
    shown = ~hidden
    visible = _Visible(row[shown], sub.indices[shown].astype(np.int64), np.log1p(sub.data[shown]).astype(np.float32), len(users))
    return visible, torch.from_numpy(row[hidden]), torch.from_numpy(sub.indices[hidden].astype(np.int64))


def _weights(net: _HistoryModel) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        return net.merchants.weight.numpy().copy(), net.bias.numpy().copy()


def _hit_rate(train: sp.csr_matrix, users: np.ndarray, merchants: np.ndarray, factors: np.ndarray, bias: np.ndarray) -> float:
    """Share of held-out (user, merchant) pairs ranked in the top ``K`` among the user's unused merchants."""
    if len(users) == 0:
        return 0.0
    hits = 0
    for start in range(0, len(users), SCORE_CHUNK):
        rows = train[users[start:start + SCORE_CHUNK]]
        scores = history_vectors(rows, factors) @ factors.T + bias
        scores[np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr)), rows.indices] = -np.inf
        target = scores[np.arange(rows.shape[0]), merchants[start:start + SCORE_CHUNK]]
        hits += int(((scores > target[:, None]).sum(axis=1) < K).sum())
    return hits / len(users)
