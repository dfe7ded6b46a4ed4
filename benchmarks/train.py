"""Training speed and memory on 1M simulated rows: feature building, the epoch loop, a bare loop.

Run: ``.venv/bin/python benchmarks/train.py [--rows 1000000] [--epochs 3] [--runs 3] [--mixed-precision auto|on|off]``

Steps (one process; the data is simulated first and not timed):

* feature building: ``core.features.build_features`` on every row (target <= 30 s);
* the epoch loop: ``core.train.fit_network`` as training runs it, with validation metrics and
  progress events every epoch, on the default model (rows/s = training rows x epochs / wall
  time of the whole loop, validation included; target >= 400k rows/s);
* a bare loop: the same model, tensors, optimiser and batches with nothing else (no
  validation, no metrics, no events); the loop's rows/s must be >= 0.7x the bare loop's.
  Loop and bare runs alternate, ``--runs`` times each; medians are compared;
* torch threads: the bare loop with 1 and with 2 threads (the reason the default is 1);
* peak RSS of the process (target <= 3 GB).

The last line is ``TARGETS features_s=... (<=30) OK; train_rows_per_s=... (>=400000) OK;
loop_vs_bare=... (>=0.7) OK; peak_rss_gb=... (<=3) OK``; exit status 1 when one is missed.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from core.baselines import BaselineData  # noqa: E402
from core.encoding import InputEncoder  # noqa: E402
from core.features import FeatureConfig, build_features  # noqa: E402
from core.model import FraudNet, NetConfig  # noqa: E402
from core.split import split_rows  # noqa: E402
from core.synth import SynthConfig, generate  # noqa: E402
from core.train import TrainConfig, fit_network, native_bf16, parameter_groups  # noqa: E402

TARGETS = {"features_s": ("<=", 30.0), "train_rows_per_s": (">=", 400_000.0), "loop_vs_bare": (">=", 0.7),
           "peak_rss_gb": ("<=", 3.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mixed-precision", choices=("auto", "on", "off"), default="auto")
    args = parser.parse_args()
    mixed = {"auto": None, "on": True, "off": False}[args.mixed_precision]

    start = time.perf_counter()
    frame = mapped_frame(args.rows)
    print(f"simulated {len(frame):,} rows in {time.perf_counter() - start:.1f} s")

    config = TrainConfig(epochs=args.epochs, patience=args.epochs, baselines=False, mixed_precision=mixed)
    start = time.perf_counter()
    features = build_features(frame, FeatureConfig(label_delay_days=config.label_delay_days))
    features_s = time.perf_counter() - start
    print(f"feature building: {features_s:.2f} s for {features.shape[1]} features")

    start = time.perf_counter()
    split = split_rows(frame, config)
    encoder = InputEncoder(config.min_frequency).fit(frame.iloc[split.train], features.iloc[split.train],
                                                     extra_categorical=["merchant_category"])
    codes, numbers = encoder.transform(frame, features)
    labels = frame["label"].to_numpy(dtype=np.float32)
    train = BaselineData(codes[split.train], numbers[split.train], labels[split.train], split.train_days)
    valid = BaselineData(codes[split.valid], numbers[split.valid], labels[split.valid], split.valid_days)
    encode_s = time.perf_counter() - start
    net_config = NetConfig(cardinalities=encoder.cardinalities, n_numeric=len(encoder.numeric_names),
                           embedding_dim=config.embedding_dim, hidden_layers=list(config.hidden_layers),
                           dropout=config.dropout, id_dropout=config.id_dropout)
    params = sum(p.numel() for p in FraudNet(net_config).parameters())
    bf16 = mixed if mixed is not None else native_bf16()
    print(f"bfloat16 forward passes: {'on' if bf16 else 'off'} (native bfloat16 on this CPU: {native_bf16()})")
    print(f"split + encoding: {encode_s:.2f} s; {len(train.y):,} training rows, {len(valid.y):,} validation rows, "
          f"{params:,} parameters, batch {config.batch_size}")

    torch.set_num_threads(config.threads)
    loop, bare = [], []
    train_s = 0.0
    for run in range(args.runs):
        rate, seconds = timed_loop(net_config, train, valid, config)
        loop.append(rate)
        train_s += seconds
        bare.append(bare_loop(net_config, train, config, threads=config.threads))
        print(f"  run {run + 1}: loop {loop[-1] / 1e3:7.0f}k rows/s   bare {bare[-1] / 1e3:7.0f}k rows/s")
    two_threads = bare_loop(net_config, train, config, threads=2)
    torch.set_num_threads(config.threads)
    loop_rate, bare_rate = statistics.median(loop), statistics.median(bare)
    print(f"epoch loop (validation + events)    {loop_rate / 1e3:7.0f}k rows/s (median of {args.runs})")
    print(f"bare loop                           {bare_rate / 1e3:7.0f}k rows/s (median of {args.runs})")
    print(f"bare loop with 2 torch threads      {two_threads / 1e3:7.0f}k rows/s (1 thread: {bare_rate / 1e3:.0f}k)")
    per_run = train_s / args.runs
    print(f"time shares of one training run: features {features_s / (features_s + encode_s + per_run):.0%}, "
          f"encoding {encode_s / (features_s + encode_s + per_run):.0%}, "
          f"training {per_run / (features_s + encode_s + per_run):.0%} ({args.epochs} epochs)")
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"peak RSS {peak_gb:.2f} GB")

    figures = {"features_s": features_s, "train_rows_per_s": loop_rate, "loop_vs_bare": loop_rate / bare_rate,
               "peak_rss_gb": peak_gb}
    return report(figures)


def mapped_frame(rows: int):
    frame = generate(SynthConfig(rows=rows))
    return frame.rename(columns={"is_fraud": "label"}).drop(columns=["transaction_id"])


def timed_loop(net_config: NetConfig, train: BaselineData, valid: BaselineData, config: TrainConfig) -> tuple[float, float]:
    events = []
    start = time.perf_counter()
    _, history, _, _ = fit_network(net_config, train, valid, config, events.append, lambda: False,
                                   embedding_lr_scale=0.01)
    seconds = time.perf_counter() - start
    return len(train.y) * len(history) / seconds, seconds


def bare_loop(net_config: NetConfig, train: BaselineData, config: TrainConfig, threads: int) -> float:
    """The same steps as the loop's training part and nothing else."""
    torch.set_num_threads(threads)
    torch.manual_seed(config.seed)
    net = FraudNet(net_config)
    codes, numbers, y = torch.from_numpy(train.codes), torch.from_numpy(train.numbers), torch.from_numpy(train.y)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(10.0))
    optimiser = torch.optim.AdamW(parameter_groups(net, config, 0.01), lr=config.effective_learning_rate,
                                  weight_decay=config.weight_decay, fused=True)
    bf16 = config.mixed_precision if config.mixed_precision is not None else native_bf16()
    net.train()
    start = time.perf_counter()
    for _ in range(config.epochs):
        order = torch.randperm(len(y))
        shuffled = (codes[order], numbers[order], y[order])
        for i in range(0, len(y), config.batch_size):
            batch_codes, batch_numbers, batch_y = (t[i:i + config.batch_size] for t in shuffled)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = net(batch_codes, batch_numbers)
            loss = loss_fn(logits.float(), batch_y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return len(y) * config.epochs / (time.perf_counter() - start)


def report(figures: dict[str, float]) -> int:
    parts, missed = [], False
    for name, value in figures.items():
        op, target = TARGETS[name]
        ok = value <= target if op == "<=" else value >= target
        missed |= not ok
        shown = f"{value:.0f}" if value >= 1000 else f"{value:.2f}"
        parts.append(f"{name}={shown} ({op}{target:g}) {'OK' if ok else 'MISSED'}")
    print("TARGETS " + "; ".join(parts))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
