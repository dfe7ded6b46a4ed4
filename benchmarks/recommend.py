"""Merchant recommendations on simulated data: HR@10 and NDCG@10 of each embedding source vs popularity.

Run: ``.venv/bin/python benchmarks/recommend.py [--rows 1000000] [--seeds 0,1,2] [--planted-seed 0] [--no-fraud-model]``

For each seed, on ``core.synth.generate`` output as it is (users shop near home and by taste;
the data is simulated first and not timed):

* a fraud model is trained quickly (``TrainConfig(epochs=3, baselines=False)``, ``merchant_category``
  as an extra categorical) unless ``--no-fraud-model``;
* ``core.recommend.build_recommender`` holds out each user's latest new merchant, fits the
  implicit-feedback model (history softmax) on the rest, evaluates it, the fraud model's merchant
  embeddings and popularity (already-used merchants excluded for all), and refits on everything;
* as evidence, the earlier BPR model (``implicit.BPR_CONFIG``) is fitted on the same split and
  evaluated the same way.

Then a secondary check on planted preferences (``core.recommend.planted``: users in 8 groups, 80%
of their transactions at merchants of their group) for ``--planted-seed``, implicit model vs popularity.

The primary verdict is on plain generated data: ``TARGETS chosen_hr10_median=... popularity_hr10_median=...
(chosen > popularity on every seed) OK``; the planted check prints ``TARGETS planted ...``.
Exit status 1 when either is missed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.recommend import build_recommender, evaluate_sources, holdout_latest, implicit_source, train_implicit  # noqa: E402
from core.recommend.implicit import BPR_CONFIG  # noqa: E402
from core.recommend.planted import plant_preferences  # noqa: E402
from core.recommend.sources import POPULARITY, SOURCE_LABELS  # noqa: E402
from core.synth import SynthConfig, generate  # noqa: E402
from core.train import train_model  # noqa: E402
from core.train_config import TrainConfig  # noqa: E402

BPR = "bpr"
LABELS = {**SOURCE_LABELS, BPR: "Earlier implicit model (BPR)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated simulator seeds for the primary verdict")
    parser.add_argument("--planted-seed", type=int, default=0)
    parser.add_argument("--no-fraud-model", action="store_true", help="skip the fraud model's embeddings (faster)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if not seeds:
        parser.error(f"--seeds needs at least one seed, got {args.seeds!r}.")

    results = []
    for seed in seeds:
        frame = _simulated(args.rows, seed)
        print(f"\n== plain generated data, seed {seed}: {_describe(frame)}")
        results.append(_compare(frame, fraud_model=not args.no_fraud_model, with_bpr=True))

    chosen_hr = [chosen.hit_rate for chosen, _ in results]
    popularity_hr = [popularity.hit_rate for _, popularity in results]
    print("\nsummary over seeds " + ", ".join(map(str, seeds)) + ":")
    for seed, (chosen, popularity) in zip(seeds, results):
        print(f"  seed {seed}: chosen {chosen.source} HR@10 {chosen.hit_rate:.4f} NDCG@10 {chosen.ndcg:.4f}; "
              f"popularity HR@10 {popularity.hit_rate:.4f} NDCG@10 {popularity.ndcg:.4f}")

    planted = plant_preferences(_simulated(args.rows, args.planted_seed), seed=args.planted_seed)
    print(f"\n== planted preferences, seed {args.planted_seed}: {_describe(planted)}")
    planted_chosen, planted_popularity = _compare(planted, fraud_model=False, with_bpr=False)

    ok = all(c > p for c, p in zip(chosen_hr, popularity_hr))
    print(f"\nTARGETS planted chosen_hr10={planted_chosen.hit_rate:.4f} popularity_hr10={planted_popularity.hit_rate:.4f} "
          f"(chosen > popularity) {'OK' if planted_chosen.hit_rate > planted_popularity.hit_rate else 'MISSED'}")
    print(f"TARGETS chosen_hr10_median={statistics.median(chosen_hr):.4f} "
          f"popularity_hr10_median={statistics.median(popularity_hr):.4f} (chosen > popularity on every seed, plain generated data) {'OK' if ok else 'MISSED'}")
    return 0 if ok and planted_chosen.hit_rate > planted_popularity.hit_rate else 1


def _simulated(rows: int, seed: int) -> pd.DataFrame:
    frame = generate(SynthConfig(rows=rows, seed=seed)).rename(columns={"is_fraud": "label"})
    return frame.drop(columns=["transaction_id"])


def _describe(frame: pd.DataFrame) -> str:
    return f"{len(frame):,} rows, {frame['user_id'].nunique():,} users, {frame['merchant_id'].nunique():,} merchants"


def _compare(frame: pd.DataFrame, fraud_model: bool, with_bpr: bool):
    """Print every source's HR@10 / NDCG@10 on ``frame``; return the (chosen, popularity) rows."""
    model = None
    if fraud_model:
        clock = time.perf_counter()
        result = train_model(frame, TrainConfig(epochs=3, baselines=False), extra_categorical=["merchant_category"])
        model = result.model
        ap = result.metrics.get("average_precision", float("nan"))
        print(f"fraud model: {time.perf_counter() - clock:.1f} s, validation AP {ap:.3f}")
    clock = time.perf_counter()
    build = build_recommender(frame, fraud_model=model)
    total = time.perf_counter() - clock
    info = build.model.info
    timings = ", ".join(f"{k} {v:.2f}" for k, v in build.timings.items())
    print(f"recommender: {total:.1f} s in all ({timings}); {info['pairs']:,} user-merchant pairs; "
          f"{build.evaluation.rows[0].pairs:,} held-out pairs; final fit stopped after epoch {info['epochs_run']} "
          f"(best {info['best_epoch']}, validation HR@10 {info['validation_hr10']})")
    rows = list(build.evaluation.rows)
    if with_bpr:
        clock = time.perf_counter()
        holdout = holdout_latest(frame)
        bpr = implicit_source(train_implicit(holdout.train, BPR_CONFIG))
        bpr.name = BPR
        rows.insert(-1, evaluate_sources(holdout, [bpr]).rows[0])
        print(f"earlier BPR model: {time.perf_counter() - clock:.1f} s (split, fit, evaluate)")
    print(f"{'source':<34}{'HR@10':>8}{'NDCG@10':>10}")
    for row in rows:
        print(f"{LABELS.get(row.source, row.source):<34}{row.hit_rate:>8.4f}{row.ndcg:>10.4f}")
    chosen = build.evaluation.chosen
    print(f"chosen source: {chosen}")
    return build.evaluation.row(chosen), build.evaluation.row(POPULARITY)


if __name__ == "__main__":
    sys.exit(main())
