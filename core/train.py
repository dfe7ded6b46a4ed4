"""Training a fraud model on a mapped frame, reporting every epoch through ``on_event``.

The loop is built for speed on a CPU (figures in ``benchmarks/train.py``): inputs are encoded
once into tensors; each epoch gathers them once in a random order and slices batches as views
(a ``DataLoader`` over a ``TensorDataset`` was 6-8x slower); the optimiser is fused AdamW with
a learning rate that grows with the square root of the batch size; where the CPU computes
bfloat16 natively, forward passes run in it (weights, loss and validation stay float32;
measured 15-25% more rows/s). Imbalance is handled with a positive-class weight; the kept
network is then calibrated on the validation rows (Platt scaling folded into its last layer),
so its scores are probabilities that money calculations can use.

Validation is by time when there is a timestamp (train on the past, a gap of the label delay,
then the latest ``validation_days``), stratified otherwise; training stops early when
validation average precision has not improved for ``patience`` epochs, and the best epoch's
weights are kept.
"""
from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from core.baselines import BaselineData, train_baselines
from core.encoding import InputEncoder
from core.errors import TxlabError
from core.features import BehaviourState, FeatureConfig, build_features
from core.fraud_model import FraudModel
from core.metrics import score_metrics
from core.model import FraudNet, NetConfig
from core.split import Split, split_rows
from core.train_config import TRAIN_FIELDS, TrainConfig, TrainConfigError

__all__ = ["TRAIN_FIELDS", "TrainConfig", "TrainConfigError", "TrainResult", "TrainingError", "train_model"]

Event = dict
MAX_POS_WEIGHT = 50.0


class TrainingError(TxlabError):
    """Training cannot go on (bad data for training, a diverging loss); the message says what to change."""


@dataclass
class TrainResult:
    status: str  # "finished" | "cancelled"
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)  # the kept (best) epoch's validation metrics
    baselines: dict[str, dict] = field(default_factory=dict)
    model: FraudModel | None = None
    split: dict = field(default_factory=dict)


def train_model(frame: pd.DataFrame, config: TrainConfig, *, extra_numeric: list[str] = (),
                extra_categorical: list[str] = (), on_event: Callable[[Event], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train on a mapped frame (canonical columns; ``label`` and ``amount`` required)."""
    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    _check_frame(frame)
    torch.set_num_threads(config.threads)
    frame = frame.reset_index(drop=True)

    split = split_rows(frame, config)  # first: a split that cannot work fails before any slow step
    emit({"type": "stage", "stage": "Building features"})
    feature_config = FeatureConfig(label_delay_days=config.label_delay_days, behaviour=config.behaviour_features)
    features = build_features(frame, feature_config)
    labels = frame["label"].to_numpy(dtype=np.float32)
    encoder = InputEncoder(config.min_frequency).fit(
        frame.iloc[split.train], features.iloc[split.train], list(extra_numeric), list(extra_categorical))
    codes, numbers = encoder.transform(frame, features)
    del features
    train = BaselineData(codes[split.train], numbers[split.train], labels[split.train], split.train_days)
    valid = BaselineData(codes[split.valid], numbers[split.valid], labels[split.valid], split.valid_days)
    del codes, numbers

    result = TrainResult(status="finished", split=split.describe())
    if config.baselines:
        emit({"type": "stage", "stage": "Training baselines"})
        result.baselines = train_baselines(
            train, valid, encoder.cardinalities, seed=config.seed, top_k=config.top_k, should_stop=stop,
            on_result=lambda name, metrics: emit({"type": "baseline", "name": name, "metrics": metrics}))
    if stop():
        result.status = "cancelled"
        return result

    emit({"type": "stage", "stage": "Training"})
    net_config = NetConfig(cardinalities=encoder.cardinalities, n_numeric=len(encoder.numeric_names),
                           embedding_dim=config.embedding_dim, hidden_layers=list(config.hidden_layers),
                           dropout=config.dropout, id_dropout=config.id_dropout)
    scale = config.embedding_lr_scale if config.embedding_lr_scale is not None else (0.01 if split.by_time else 1.0)
    net, result.history, result.metrics, finished = fit_network(net_config, train, valid, config, emit, stop,
                                                                embedding_lr_scale=scale)
    if not finished:
        result.status = "cancelled"
        return result
    emit({"type": "stage", "stage": "Saving"})
    state = BehaviourState.from_frame(frame, feature_config)
    result.model = FraudModel(net, encoder, feature_config, state)
    return result


def fit_network(net_config: NetConfig, train: BaselineData, valid: BaselineData, config: TrainConfig,
                emit: Callable[[Event], None], stop: Callable[[], bool],
                embedding_lr_scale: float = 1.0) -> tuple[FraudNet, list[dict], dict, bool]:
    """The epoch loop: returns the best epoch's network, the history, its metrics, and whether it ran to the end."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    net = FraudNet(net_config)
    codes, numbers = torch.from_numpy(train.codes), torch.from_numpy(train.numbers)
    y = torch.from_numpy(train.y)
    valid_codes, valid_numbers = torch.from_numpy(valid.codes), torch.from_numpy(valid.numbers)
    positives = float(train.y.sum())
    pos_weight = min(MAX_POS_WEIGHT, max(1.0, (len(train.y) - positives) / max(positives, 1.0)) ** 0.5)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    optimiser = torch.optim.AdamW(parameter_groups(net, config, embedding_lr_scale), lr=config.effective_learning_rate,
                                  weight_decay=config.weight_decay, fused=True)
    bf16 = config.mixed_precision if config.mixed_precision is not None else native_bf16()
    history: list[dict] = []
    best_ap, best_state, best_metrics, waited = -1.0, None, {}, 0
    n, batch = len(y), config.batch_size
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        net.train()
        order = torch.randperm(n, generator=generator)
        shuffled = (codes[order], numbers[order], y[order])  # one gather per epoch; batches are then views
        total, steps = 0.0, 0
        for step, i in enumerate(range(0, n, batch)):
            batch_codes, batch_numbers, batch_y = (t[i:i + batch] for t in shuffled)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = net(batch_codes, batch_numbers)
            loss = loss_fn(logits.float(), batch_y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch_y)
            steps += len(batch_y)
            if step % 64 == 63 and stop():
                return net, history, best_metrics, False
        train_s = time.perf_counter() - epoch_start
        train_loss = total / max(steps, 1)
        if not math.isfinite(train_loss):
            raise TrainingError(f"The training loss became {train_loss} in epoch {epoch}: lower the learning rate "
                                f"(now {config.learning_rate:g}) or the batch size.")
        row = {"epoch": epoch, "epochs": config.epochs, "train_loss": train_loss,
               **_validate(net, valid_codes, valid_numbers, valid, pos_weight, config.top_k),
               "rows_per_s": n / train_s if train_s > 0 else float("nan"),
               "elapsed_s": time.perf_counter() - started}
        row["best"] = bool(row["average_precision"] > best_ap)  # the split guarantees fraud in validation
        if row["best"]:
            best_ap, best_metrics, waited = row["average_precision"], _metrics_of(row), 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            waited += 1
        history.append(row)
        emit({"type": "epoch", **row})
        if stop():
            return net, history, best_metrics, False
        if waited >= config.patience:
            break
    net.load_state_dict(best_state)
    _calibrate(net, valid_codes, valid_numbers, valid.y, pos_weight)
    net.eval()
    return net, history, best_metrics, True


@functools.cache
def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); emulated, it is slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def parameter_groups(net: FraudNet, config: TrainConfig, scale: float) -> list[dict]:
    """Embeddings learn at ``scale`` times the head's rate.

    Ids are the easiest thing to memorise: on simulated data whose fraud comes in episodes
    (a takeover, a compromised merchant), id embeddings at the full rate cut validation AP on a
    later time window from 0.89 to 0.50 within three epochs (0.30 to 0.09 without behaviour
    features): what they memorise about the past is wrong about the future. With a time split the
    default is therefore 0.01 (plus id dropout; measured AP 0.88). A random split (no timestamp)
    validates on the same period, where an id's past does carry over, so ids learn at the full rate.
    """
    return [{"params": list(net.embeddings.parameters()), "lr": config.effective_learning_rate * scale},
            {"params": list(net.head.parameters())}]


def _validate(net: FraudNet, codes: torch.Tensor, numbers: torch.Tensor, valid: BaselineData,
              pos_weight: float, top_k: int) -> dict:
    """Validation loss (of calibrated probabilities, unweighted) and the score metrics."""
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(codes[i:i + 16384], numbers[i:i + 16384]) for i in range(0, len(codes), 16384)])
        logits = logits - math.log(pos_weight)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(valid.y)).item()
        scores = torch.sigmoid(logits).numpy()
    return {"val_loss": loss, **score_metrics(valid.y, scores, valid.days, top_k)}


def _calibrate(net: FraudNet, codes: torch.Tensor, numbers: torch.Tensor, y: np.ndarray, pos_weight: float) -> None:
    """Make outputs probabilities again: Platt scaling fitted on the validation rows, folded into the last layer.

    The positive-class weight shifts the log-odds by about log(pos_weight), and dropout and weight
    decay skew them further (measured: mean scores about half the fraud rate with the shift alone).
    A monotone map leaves every ranking metric as it was.
    """
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(codes[i:i + 16384], numbers[i:i + 16384]) for i in range(0, len(codes), 16384)])
    platt = LogisticRegression(C=1e6).fit(logits.numpy().reshape(-1, 1).astype(np.float64), y)
    slope, shift = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    if not (math.isfinite(slope) and slope > 0 and math.isfinite(shift)):
        slope, shift = 1.0, -math.log(pos_weight)
    last = net.head[-1]
    with torch.no_grad():
        last.weight.mul_(slope)
        last.bias.mul_(slope).add_(shift)


def _metrics_of(row: dict) -> dict:
    keys = ("epoch", "train_loss", "val_loss", "roc_auc", "average_precision", "precision_at_k", "recall_at_1pct_fpr")
    return {k: row[k] for k in keys}


def _check_frame(frame: pd.DataFrame) -> None:
    for column in ("amount", "label"):
        if column not in frame:
            raise TrainingError(f"The mapped data has no '{column}' column: map one on the Mapping page.")
    labels = frame["label"]
    if labels.isna().any() or not labels.isin([0, 1]).all():
        raise TrainingError("The label column must hold only 0 and 1.")
    frauds = int(labels.sum())
    if frauds < 10 or frauds > len(frame) - 10:
        raise TrainingError(f"Training needs at least 10 fraud and 10 legitimate rows (this data has {frauds} "
                            f"fraud of {len(frame)}).")


__all__ += ["Split", "fit_network"]
