"""An implicit-feedback recommender: matrix factorisation trained with the BPR loss, and its artifact.

Each step takes a batch of observed (user, merchant) pairs, draws one merchant per pair uniformly
at random as the negative, and pushes ``u.m_pos + b_pos`` above ``u.m_neg + b_neg``
(``-log sigmoid`` of the gap). Pairs are the distinct user-merchant pairs; counts only decide
which pairs exist. Batches are index slices of one shuffled permutation per epoch.

The artifact is one folder ``models_dir/recommenders/<dataset_id>/``: ``model.pt`` (a state_dict,
loaded with ``weights_only=True``) and ``model.json`` (ids, settings, evaluation, the weights'
SHA-256). It is written to a temporary folder and renamed into place; a file that does not match
its recorded hash or shapes is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from core.errors import TxlabError
from core.recommend.interactions import Interactions

FORMAT = 1
WEIGHTS, META = "model.pt", "model.json"
_TENSORS = ("user_factors", "merchant_factors", "merchant_bias")


class RecommenderFormatError(TxlabError):
    """A stored recommender is missing, altered or malformed."""


@dataclass
class ImplicitConfig:
    dim: int = 32
    epochs: int = 15
    batch_size: int = 8192
    learning_rate: float = 0.01
    l2: float = 0.02  # per-example penalty on the factors a step touches: strong, or user factors memorise noise
    seed: int = 0
    threads: int = 1  # measured: 2 threads were 3x slower on this shared 2-core machine

    def __post_init__(self) -> None:
        for name in ("dim", "epochs", "batch_size", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ImplicitConfig.{name} must be a positive integer, got {value!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"ImplicitConfig.learning_rate must be positive, got {self.learning_rate!r}.")
        if not self.l2 >= 0:
            raise ValueError(f"ImplicitConfig.l2 must be zero or more, got {self.l2!r}.")


@dataclass
class ImplicitModel:
    """Factors ``user_factors [n_users, dim]``, ``merchant_factors [n_merchants, dim]``, ``merchant_bias [n_merchants]``."""

    users: pd.Index
    merchants: pd.Index
    user_factors: np.ndarray
    merchant_factors: np.ndarray
    merchant_bias: np.ndarray
    config: ImplicitConfig
    info: dict = field(default_factory=dict)  # dataset id, evaluation, chosen source, timings


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


def train_implicit(interactions: Interactions, config: ImplicitConfig | None = None,
                   on_progress: Callable[[int, int, float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> ImplicitModel:
    """Fit BPR factors to the distinct pairs of ``interactions``; ``on_progress(epoch, epochs, loss)`` after each epoch."""
    config = config or ImplicitConfig()
    coo = interactions.matrix.tocoo()
    if coo.nnz == 0:
        raise ValueError("There are no user-merchant interactions to learn from.")
    torch.set_num_threads(config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    net = _BPR(interactions.n_users, interactions.n_merchants, config.dim)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    users, merchants = torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))
    n = len(users)
    batch = min(config.batch_size, max(256, n // 32))  # small data still gets a few dozen steps per epoch
    started = time.perf_counter()
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
        model = ImplicitModel(interactions.users, interactions.merchants, net.users.weight.numpy().copy(),
                              net.merchants.weight.numpy().copy(), net.bias.weight.numpy()[:, 0].copy(), config,
                              {"pairs": int(n), "fit_s": round(time.perf_counter() - started, 3)})
    return model


def recommender_folder(models_dir: str | os.PathLike, dataset_id: str) -> Path:
    """Where the implicit model of one dataset lives; the id must be a plain name."""
    if not dataset_id or any(c in str(dataset_id) for c in "/\\") or str(dataset_id).startswith("."):
        raise RecommenderFormatError(f"Not a valid dataset id for a recommender folder: {dataset_id!r}.")
    return Path(models_dir) / "recommenders" / str(dataset_id)


def save_implicit(model: ImplicitModel, folder: str | os.PathLike) -> Path:
    """Write ``model`` to ``folder`` atomically (temporary folder, then rename); returns the folder."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        weights = {"user_factors": torch.from_numpy(np.ascontiguousarray(model.user_factors, dtype=np.float32)),
                   "merchant_factors": torch.from_numpy(np.ascontiguousarray(model.merchant_factors, dtype=np.float32)),
                   "merchant_bias": torch.from_numpy(np.ascontiguousarray(model.merchant_bias, dtype=np.float32))}
        torch.save(weights, tmp / WEIGHTS)
        meta = {"format": FORMAT, "kind": "implicit_bpr", "config": asdict(model.config), "info": model.info,
                "users": [str(u) for u in model.users], "merchants": [str(m) for m in model.merchants],
                "weights_sha256": _sha256(tmp / WEIGHTS), "saved": time.time()}
        (tmp / META).write_text(json.dumps(meta, allow_nan=False), encoding="utf-8")
        old = None
        if folder.exists():
            old = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(folder, old)
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_implicit(folder: str | os.PathLike) -> ImplicitModel:
    """Read a saved model; refuses one whose weights changed since saving or whose shapes disagree."""
    folder = Path(folder)
    if not (folder / META).is_file() or not (folder / WEIGHTS).is_file():
        raise RecommenderFormatError(f"No implicit recommender saved in {folder.name}: train one first.")
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("kind") != "implicit_bpr":
            raise RecommenderFormatError("The stored recommender has an unknown format.")
        if _sha256(folder / WEIGHTS) != meta["weights_sha256"]:
            raise RecommenderFormatError("The recommender's weights do not match their recorded checksum: the file was altered.")
        weights = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        config = ImplicitConfig(**meta["config"])
        users, merchants = pd.Index(meta["users"], dtype="str"), pd.Index(meta["merchants"], dtype="str")
    except RecommenderFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed content is one refusal
        raise RecommenderFormatError(f"The stored recommender is malformed ({type(exc).__name__}: {exc}).") from None
    expected = {"user_factors": (len(users), config.dim), "merchant_factors": (len(merchants), config.dim),
                "merchant_bias": (len(merchants),)}
    if not isinstance(weights, dict) or {k: tuple(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)} != expected:
        raise RecommenderFormatError("The recommender's weights do not match its recorded users, merchants and size.")
    return ImplicitModel(users, merchants, weights["user_factors"].numpy(), weights["merchant_factors"].numpy(),
                         weights["merchant_bias"].numpy(), config, dict(meta.get("info") or {}))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
