"""Model quality on simulated data: the deep model against its baselines, with and without behaviour.

Run: ``.venv/bin/python benchmarks/quality.py [--rows 1000000] [--seed 7]``

A dataset of ``--rows`` simulated transactions (90 days) is split by time exactly as the Train
page splits it (validation: the latest 14 days, after a 7-day label delay). The deep model and
both baselines (gradient boosting with early stopping on a time-ordered fold, logistic
regression) are trained with the default settings on the same features and split, twice: with
behaviour features and with them switched off (time features and raw fields only).

Printed per model: ROC AUC, average precision, precision in the top 100 per day and recall
at 1% false-positive rate, plus fit time. The last line is ``TARGETS deep_ap=... best_baseline_ap=...
deep_minus_best=... (>=0) OK``; exit status 1 when the deep model's AP (with behaviour features)
is below the best baseline's in the same run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.synth import SynthConfig, generate  # noqa: E402
from core.train import TrainConfig, train_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    frame = generate(SynthConfig(rows=args.rows, seed=args.seed)).rename(columns={"is_fraud": "label"})
    frame = frame.drop(columns=["transaction_id"])
    print(f"{len(frame):,} simulated rows, {frame['label'].mean():.2%} fraud, "
          f"{frame['timestamp'].min():%Y-%m-%d} to {frame['timestamp'].max():%Y-%m-%d}")

    results = {}
    for behaviour in (True, False):
        start = time.perf_counter()
        result = train_model(frame, TrainConfig(behaviour_features=behaviour), extra_categorical=["merchant_category"])
        results[behaviour] = result
        label = "with behaviour features" if behaviour else "without behaviour features"
        split = result.split
        print(f"\n{label}: {split['train_rows']:,} training rows to {split['train_end'][:10]}, "
              f"{split['valid_rows']:,} validation rows from {split['valid_start'][:10]} "
              f"({time.perf_counter() - start:.0f} s in all)")
        print(f"  {'model':<24} {'ROC AUC':>8} {'AP':>7} {'P@100/day':>10} {'R@1%FPR':>8} {'fit s':>7}")
        deep = result.metrics
        deep_s = result.history[-1]["elapsed_s"]
        print(_row(f"deep (epoch {deep['epoch']}/{len(result.history)})", deep, deep_s))
        for name, metrics in result.baselines.items():
            print(_row(name, metrics, metrics["fit_s"]))

    with_behaviour = results[True]
    deep_ap = with_behaviour.metrics["average_precision"]
    best_name, best = max(with_behaviour.baselines.items(), key=lambda kv: kv[1]["average_precision"])
    lift = deep_ap - results[False].metrics["average_precision"]
    print(f"\nbehaviour features lift the deep model's AP by {lift:+.3f}")
    ok = deep_ap >= best["average_precision"]
    print(f"TARGETS deep_ap={deep_ap:.3f} best_baseline_ap={best['average_precision']:.3f} ({best_name}) "
          f"deep_minus_best={deep_ap - best['average_precision']:+.3f} (>=0) {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def _row(name: str, m: dict, seconds: float) -> str:
    return (f"  {name:<24} {m['roc_auc']:8.3f} {m['average_precision']:7.3f} {m['precision_at_k']:10.3f} "
            f"{m['recall_at_1pct_fpr']:8.3f} {seconds:7.1f}")


if __name__ == "__main__":
    sys.exit(main())
