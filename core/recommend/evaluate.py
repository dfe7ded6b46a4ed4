"""Offline evaluation: hit rate and NDCG at K of held-out merchants, already-used merchants excluded.

Each held-out pair is ranked among every merchant the user has not used in the training
interactions; the rank is the number of merchants scored strictly higher (ties favour nobody).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from core.recommend.interactions import Holdout
from core.recommend.sources import POPULARITY, SOURCE_LABELS

CHUNK_USERS = 2048


@dataclass
class EvaluationRow:
    source: str
    hit_rate: float  # share of held-out merchants in the top K
    ndcg: float  # mean 1 / log2(rank + 2) of hits, 0 for misses
    pairs: int

    @property
    def label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)


@dataclass
class Evaluation:
    k: int
    rows: list[EvaluationRow] = field(default_factory=list)

    @property
    def chosen(self) -> str | None:
        """The embedding source with the best HR@K (NDCG breaks ties); popularity is only the baseline."""
        candidates = [r for r in self.rows if r.source != POPULARITY]
        return max(candidates, key=lambda r: (r.hit_rate, r.ndcg)).source if candidates else None

    def row(self, source: str) -> EvaluationRow | None:
        return next((r for r in self.rows if r.source == source), None)

    def to_dict(self) -> dict:
        return {"k": self.k, "rows": [asdict(r) for r in self.rows], "chosen": self.chosen}

    @classmethod
    def from_dict(cls, data: dict) -> "Evaluation":
        return cls(int(data["k"]), [EvaluationRow(str(r["source"]), float(r["hit_rate"]), float(r["ndcg"]), int(r["pairs"]))
                                    for r in data["rows"]])


def evaluate_sources(holdout: Holdout, sources: list, k: int = 10) -> Evaluation:
    """HR@k and NDCG@k of each source (``EmbeddingSource`` or ``PopularitySource``) on ``holdout``."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}.")
    train = holdout.train
    evaluation = Evaluation(k)
    for source in sources:
        aligned = source.aligned(train)
        ranks = np.empty(len(holdout.test_users), dtype=np.int64)
        for start in range(0, len(ranks), CHUNK_USERS):
            users = holdout.test_users[start:start + CHUNK_USERS]
            items = holdout.test_merchants[start:start + CHUNK_USERS]
            scores = aligned.user_scores(train, users)
            used = train.matrix[users]
            scores[np.repeat(np.arange(len(users)), np.diff(used.indptr)), used.indices] = -np.inf
            target = scores[np.arange(len(users)), items]
            higher = (scores > target[:, None]).sum(axis=1)
            ranks[start:start + len(users)] = np.where(np.isfinite(target), higher, train.n_merchants)
        hits = ranks < k
        gains = np.where(hits, 1.0 / np.log2(ranks + 2.0), 0.0)
        evaluation.rows.append(EvaluationRow(source.name, float(hits.mean()) if len(hits) else float("nan"),
                                             float(gains.mean()) if len(gains) else float("nan"), int(len(ranks))))
    return evaluation
