"""Merchant recommendations on simulated data: HR@10 and NDCG@10 of each embedding source vs popularity.

Run: ``.venv/bin/python benchmarks/recommend.py [--rows 1000000] [--seed 0] [--data both|synth|planted]``

For each dataset (the data is simulated first and not timed):

* ``synth``: ``core.synth.generate`` as is. Its users draw favourite merchants from one popularity
  distribution, so popularity is the best possible recommender there; the table shows how close
  the learned sources come.
* ``planted``: the same rows with planted preferences (``core.recommend.planted``: users in 8 groups,
  80% of their transactions at merchants of their group). The target is measured here.

A fraud model is trained quickly (``TrainConfig(epochs=3, baselines=False)``, ``merchant_category`` as an
extra categorical); then ``core.recommend.build_recommender`` holds out each user's latest new
merchant, fits the BPR model on the rest, evaluates the fraud model's merchant embeddings, the BPR
model and popularity (already-used merchants excluded for all), and refits on everything.

The last line is ``TARGETS chosen_hr10=... popularity_hr10=... (chosen > popularity) OK`` (on the planted
data when it ran); exit status 1 when missed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.recommend import build_recommender  # noqa: E402
from core.recommend.planted import plant_preferences  # noqa: E402
from core.recommend.sources import SOURCE_LABELS  # noqa: E402
from core.synth import SynthConfig, generate  # noqa: E402
from core.train import train_model  # noqa: E402
from core.train_config import TrainConfig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", choices=["both", "synth", "planted"], default="both")
    args = parser.parse_args()

    base = generate(SynthConfig(rows=args.rows, seed=args.seed)).rename(columns={"is_fraud": "label"})
    base = base.drop(columns=["transaction_id"])
    kinds = ["synth", "planted"] if args.data == "both" else [args.data]
    target = None
    for kind in kinds:
        frame = base if kind == "synth" else plant_preferences(base, seed=args.seed)
        print(f"\n== {kind}: {len(frame):,} rows, {frame['user_id'].nunique():,} users, {frame['merchant_id'].nunique():,} merchants")
        clock = time.perf_counter()
        result = train_model(frame, TrainConfig(epochs=3, baselines=False), extra_categorical=["merchant_category"])
        print(f"fraud model: {time.perf_counter() - clock:.1f} s, validation AP {result.metrics.get('average_precision', float('nan')):.3f}")
        clock = time.perf_counter()
        build = build_recommender(frame, fraud_model=result.model)
        total = time.perf_counter() - clock
        timings = ", ".join(f"{k} {v:.2f}" for k, v in build.timings.items())
        print(f"recommender: {total:.1f} s in all ({timings}); {build.model.info['pairs']:,} user-merchant pairs; "
              f"{build.evaluation.rows[0].pairs:,} held-out pairs")
        print(f"{'source':<34}{'HR@10':>8}{'NDCG@10':>10}")
        for row in build.evaluation.rows:
            print(f"{SOURCE_LABELS.get(row.source, row.source):<34}{row.hit_rate:>8.4f}{row.ndcg:>10.4f}")
        chosen = build.evaluation.chosen
        print(f"chosen source: {chosen}")
        target = (build.evaluation.row(chosen).hit_rate, build.evaluation.row("popularity").hit_rate)
    chosen_hr, popularity_hr = target
    ok = chosen_hr > popularity_hr
    print(f"TARGETS chosen_hr10={chosen_hr:.4f} popularity_hr10={popularity_hr:.4f} (chosen > popularity) {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
