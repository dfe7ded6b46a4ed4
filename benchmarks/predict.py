"""Scoring speed: one row in-process, a 1M-row table, one explanation; against the bare forward pass.

Run: ``.venv/bin/python benchmarks/predict.py [--train-rows 200000] [--rows 1000000] [--singles 2000] [--runs 3]
[--threads 1]``

Steps (one process; data simulation and training are not timed):

* a model is trained once (2 epochs) on ``--train-rows`` simulated rows; fresh rows for the same
  users and merchants are simulated for the days after its training data ends;
* single row: ``RowScorer.score`` on ``--singles`` fresh rows given as dicts, behaviour features
  from the state included (targets: median <= 2 ms, p99 <= 10 ms); for comparison, the same rows
  through ``FraudModel.score`` on a one-row frame (what scoring one row cost before ``RowScorer``);
* batch: ``score_table`` on ``--rows`` raw rows: mapping, features built once, encoding and the
  network in chunks (target >= 200k rows/s, median of ``--runs``), its stages timed through the
  progress callback;
  the bare forward pass on the same rows' already-encoded tensors is the baseline;
* explanation: ``explain_row`` on 50 fresh rows, median (target <= 200 ms).

The last line is ``TARGETS single_row_median_ms=... (<=2) OK; single_row_p99_ms=... (<=10) OK;
batch_rows_per_s=... (>=200000) OK; explain_ms=... (<=200) OK``; exit status 1 when one is missed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from core.explain import explain_row  # noqa: E402
from core.features import build_features  # noqa: E402
from core.mapping import apply_mapping, suggest_mapping  # noqa: E402
from core.predict import RowScorer, mapped_for_scoring, score_table  # noqa: E402
from core.synth import SynthConfig, generate  # noqa: E402
from core.train import TrainConfig, train_model  # noqa: E402

TARGETS = {"single_row_median_ms": ("<=", 2.0), "single_row_p99_ms": ("<=", 10.0),
           "batch_rows_per_s": (">=", 200_000.0), "explain_ms": ("<=", 200.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="score_table runs; the median is compared")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (training's default is 1)")
    args = parser.parse_args()

    start = time.perf_counter()
    train_config = SynthConfig(rows=args.train_rows, seed=0)
    raw = generate(train_config)
    mapping = suggest_mapping(raw).to_mapping()
    frame, _ = apply_mapping(raw, mapping)
    result = train_model(frame, TrainConfig(epochs=2, baselines=False, threads=args.threads),
                         extra_numeric=mapping.extra_numeric, extra_categorical=mapping.extra_categorical)
    model, meta = result.model, {"mapping": mapping.to_dict()}
    fresh = generate(SynthConfig(rows=args.rows, seed=1, users=train_config.n_users, merchants=train_config.n_merchants,
                                 start=str((model.state.end + pd.Timedelta(days=1)).date())))
    torch.set_num_threads(args.threads)
    print(f"trained on {len(frame):,} rows and simulated {len(fresh):,} fresh rows in "
          f"{time.perf_counter() - start:.1f} s; torch threads {args.threads}")

    single_median, single_p99 = single_rows(model, meta, fresh, args.singles)
    rows_per_s = batch(model, meta, fresh, args.runs)
    explain_ms = explanations(model, meta, fresh)
    return report({"single_row_median_ms": single_median, "single_row_p99_ms": single_p99,
                   "batch_rows_per_s": rows_per_s, "explain_ms": explain_ms})


def single_rows(model, meta: dict, fresh: pd.DataFrame, n: int) -> tuple[float, float]:
    start = time.perf_counter()
    scorer = RowScorer(model, meta)
    print(f"RowScorer built in {(time.perf_counter() - start) * 1e3:.0f} ms")
    mapped = mapped_for_scoring(meta, fresh.sample(n, random_state=0))
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()}
               for row in mapped.drop(columns=["transaction_id"]).to_dict("records")]
    for values in records[:50]:
        scorer.score(values)
    times = []
    for values in records:
        t = time.perf_counter()
        scorer.score(values)
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    median, p99 = float(np.median(ms)), float(np.percentile(ms, 99))
    old = []
    for i in range(20):
        t = time.perf_counter()
        model.score(mapped.iloc[[i]])
        old.append(time.perf_counter() - t)
    old_ms = statistics.median(old) * 1e3
    print(f"single row (RowScorer)              median {median:.3f} ms, p99 {p99:.3f} ms, max {ms.max():.2f} ms "
          f"over {len(ms):,} rows")
    print(f"single row (FraudModel.score, 1-row frame) median {old_ms:.1f} ms ({old_ms / median:.0f}x slower)")
    return median, p99


def batch(model, meta: dict, fresh: pd.DataFrame, runs: int) -> float:
    raw = fresh.drop(columns=["is_fraud"])
    totals = []
    for run in range(runs):
        marks: list[tuple[float, float]] = []
        start = time.perf_counter()
        scores = score_table(model, meta, raw, on_progress=lambda f: marks.append((f, time.perf_counter())))
        total = time.perf_counter() - start
        totals.append(total)
        stage = {f: t - start for f, t in marks}
        print(f"score_table run {run + 1} on {len(raw):,} rows: {total:.2f} s = {len(raw) / total / 1e3:.0f}k rows/s "
              f"(mapping {stage[0.1]:.2f} s, features {stage[0.45] - stage[0.1]:.2f} s, "
              f"encoding + network {total - stage[0.45]:.2f} s); mean score {scores.mean():.4f}")
    total = statistics.median(totals)

    mapped = mapped_for_scoring(meta, raw)
    codes, numbers = model.encoder.transform(mapped, build_features(mapped, model.features, state=model.state))
    codes, numbers = torch.from_numpy(codes), torch.from_numpy(numbers)
    start = time.perf_counter()
    model.net.predict_proba(codes, numbers)
    bare = time.perf_counter() - start
    print(f"score_table median of {runs}: {len(raw) / total / 1e3:.0f}k rows/s; bare forward pass (encoded tensors): "
          f"{bare:.2f} s = {len(raw) / bare / 1e3:.0f}k rows/s; score_table takes {total / bare:.1f}x the bare pass")
    return len(raw) / total


def explanations(model, meta: dict, fresh: pd.DataFrame) -> float:
    scorer = RowScorer(model, meta)
    mapped = mapped_for_scoring(meta, fresh.sample(50, random_state=1)).drop(columns=["transaction_id"])
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in mapped.to_dict("records")]
    times, gaps = [], []
    for values in records:
        t = time.perf_counter()
        gaps.append(explain_row(scorer, values).completeness_gap)
        times.append(time.perf_counter() - t)
    ms = statistics.median(times) * 1e3
    print(f"explain_row: median {ms:.1f} ms, max {max(times) * 1e3:.1f} ms over {len(times)} rows; "
          f"completeness gap max {max(gaps):.4f}")
    return ms


def report(figures: dict[str, float]) -> int:
    parts, ok = [], True
    for name, value in figures.items():
        op, limit = TARGETS[name]
        passed = value <= limit if op == "<=" else value >= limit
        ok &= passed
        shown = f"{value:.0f}" if value >= 1000 else f"{value:.3g}"
        parts.append(f"{name}={shown} ({op}{limit:g}) {'OK' if passed else 'MISSED'}")
    print("TARGETS " + "; ".join(parts))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
