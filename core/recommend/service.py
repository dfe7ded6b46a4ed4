"""The recommender loop as one call: hold out, fit, evaluate every source, refit on everything.

Used by the Recommend page's background job and by ``benchmarks/recommend.py``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from core.recommend.evaluate import Evaluation, evaluate_sources
from core.recommend.implicit import ImplicitConfig, ImplicitModel, train_implicit
from core.recommend.interactions import Interactions, holdout_latest
from core.recommend.sources import PopularitySource, fraud_model_source, implicit_source

K = 10


@dataclass
class RecommenderBuild:
    model: ImplicitModel  # fitted on every interaction; its ``info`` carries the evaluation
    evaluation: Evaluation
    timings: dict


def build_recommender(frame: pd.DataFrame, *, fraud_model=None, config: ImplicitConfig | None = None, k: int = K,
                      dataset_id: str | None = None, on_progress: Callable[[str], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> RecommenderBuild:
    """Evaluate the implicit model (and the fraud model's embeddings when given) against popularity, then refit.

    ``on_progress`` receives one readable line per stage and epoch.
    """
    say = on_progress or (lambda text: None)
    config = config or ImplicitConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    say("Holding out each user's latest new merchant")
    holdout = holdout_latest(frame)
    timings["split_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    held_model = train_implicit(holdout.train, config, lambda e, n, loss: say(f"Evaluation fit: epoch {e}/{n}, loss {loss:.4f}"),
                                should_stop)
    timings["eval_fit_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    say("Scoring held-out merchants")
    sources = [implicit_source(held_model)]
    if fraud_model is not None and "merchant_id" in fraud_model.encoder.categorical_names:
        sources.insert(0, fraud_model_source(fraud_model))
    evaluation = evaluate_sources(holdout, [*sources, PopularitySource()], k=k)
    timings["evaluate_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    full = Interactions.from_frame(frame)
    model = train_implicit(full, config, lambda e, n, loss: say(f"Final fit: epoch {e}/{n}, loss {loss:.4f}"), should_stop)
    timings["final_fit_s"] = time.perf_counter() - clock
    model.info.update({"dataset_id": dataset_id, "evaluation": evaluation.to_dict(), "rows": int(len(frame)),
                       "held_out_pairs": int(len(holdout.test_users)), "timings": {k_: round(v, 3) for k_, v in timings.items()}})
    return RecommenderBuild(model, evaluation, timings)
