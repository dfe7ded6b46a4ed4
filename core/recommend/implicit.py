"""The implicit-feedback recommender: settings, fitted factors, training and the on-disk artifact.

``ImplicitConfig.method`` picks the model: ``"softmax"`` (default, ``core.recommend.softmax``:
merchant embeddings whose mean over a user's history predicts their next merchants) or ``"bpr"``
(``core.recommend.bpr``: the earlier matrix factorisation, kept to show the evidence).

The artifact is one folder ``models_dir/recommenders/<dataset_id>/``: ``model.pt`` (a state_dict,
loaded with ``weights_only=True``) and ``model.json`` (ids, settings, evaluation, the weights'
SHA-256). It is written to a temporary folder and renamed into place; a file that does not match
its recorded hash or shapes is refused. Format 1 artifacts (BPR only) still load.
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

from core.errors import TxlabError
from core.recommend.bpr import fit_bpr
from core.recommend.interactions import Interactions
from core.recommend.softmax import fit_softmax

FORMAT = 2
WEIGHTS, META = "model.pt", "model.json"
METHODS = ("softmax", "bpr")
_KINDS = {1: "implicit_bpr", 2: "implicit"}


class RecommenderFormatError(TxlabError):
    """A stored recommender is missing, altered or malformed."""


@dataclass
class ImplicitConfig:
    """Training settings; ``batch_size`` counts users per step for ``softmax`` and pairs for ``bpr``."""

    method: str = "softmax"
    dim: int = 64
    epochs: int = 30  # at most, for softmax (early stopping usually ends sooner); exactly, for bpr
    batch_size: int = 1024
    learning_rate: float = 0.01
    mask_share: float = 0.3  # softmax: share of each user's merchants hidden and predicted per step
    validation_share: float = 0.1  # softmax: users whose one merchant is held out for early stopping
    patience: int = 3  # softmax: epochs without a validation gain before stopping
    l2: float = 0.02  # bpr: per-example penalty on the factors a step touches
    seed: int = 0
    threads: int = 1  # measured: 2 threads were 3x slower on this shared 2-core machine

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"ImplicitConfig.method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        for name in ("dim", "epochs", "batch_size", "patience", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ImplicitConfig.{name} must be a positive integer, got {value!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"ImplicitConfig.learning_rate must be positive, got {self.learning_rate!r}.")
        for name in ("mask_share", "validation_share"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"ImplicitConfig.{name} must be between 0 and 1 (exclusive), got {getattr(self, name)!r}.")
        if not self.l2 >= 0:
            raise ValueError(f"ImplicitConfig.l2 must be zero or more, got {self.l2!r}.")


# The BPR model as it was before the softmax model replaced it (benchmarks compare the two).
BPR_CONFIG = ImplicitConfig(method="bpr", dim=32, epochs=15, batch_size=8192, learning_rate=0.01, l2=0.02)


@dataclass
class ImplicitModel:
    """Factors ``user_factors [n_users, dim]``, ``merchant_factors [n_merchants, dim]``, ``merchant_bias [n_merchants]``.

    For ``softmax`` a user's factors are the mean of their merchants' (``softmax.history_vectors``),
    so a user missing from ``users`` is scored from their history the same way.
    """

    users: pd.Index
    merchants: pd.Index
    user_factors: np.ndarray
    merchant_factors: np.ndarray
    merchant_bias: np.ndarray
    config: ImplicitConfig
    info: dict = field(default_factory=dict)  # dataset id, evaluation, chosen source, timings


def train_implicit(interactions: Interactions, config: ImplicitConfig | None = None,
                   on_progress: Callable[[int, int, float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> ImplicitModel:
    """Fit ``config.method`` to ``interactions``; ``on_progress(epoch, epochs, loss)`` after each epoch."""
    config = config or ImplicitConfig()
    if interactions.matrix.nnz == 0:
        raise ValueError("There are no user-merchant interactions to learn from.")
    torch.set_num_threads(config.threads)
    fit = fit_softmax if config.method == "softmax" else fit_bpr
    users, merchants, bias, info = fit(interactions, config, on_progress, should_stop)
    return ImplicitModel(interactions.users, interactions.merchants, users, merchants, bias, config, info)


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
        meta = {"format": FORMAT, "kind": _KINDS[FORMAT], "config": asdict(model.config), "info": model.info,
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
        if meta.get("format") not in _KINDS or meta.get("kind") != _KINDS[meta["format"]]:
            raise RecommenderFormatError("The stored recommender has an unknown format.")
        if _sha256(folder / WEIGHTS) != meta["weights_sha256"]:
            raise RecommenderFormatError("The recommender's weights do not match their recorded checksum: the file was altered.")
        weights = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        config = ImplicitConfig(**({"method": "bpr"} if meta["format"] == 1 else {}), **meta["config"])
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
