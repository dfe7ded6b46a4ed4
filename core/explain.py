"""Why one transaction got its score: integrated gradients over the network's inputs.

Attributions are in logit (log-odds) space: they add up to ``logit(score) - logit(baseline score)``
(``completeness_gap`` says how closely). The path runs from a baseline to the row's inputs:

- baseline: every categorical field at its unknown-bucket embedding (code 0: "a value the model
  has never seen"), every numeric input at 0 (after the quantile map 0 is the training median;
  for flags and constants, the training mean);
- inputs: the embedding vectors and the numeric inputs; an embedding's dimensions are summed
  into their field, numeric inputs into their source field or feature group (``feature_group``).

The integral is a midpoint Riemann sum; the number of steps doubles (up to ``MAX_STEPS``) until
the sum is within 0.5% of the score difference, so completeness holds whatever ``steps`` says.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from core.predict import RowScorer

MAX_STEPS = 4096
TOLERANCE = 0.005
_TIME = {"hour_sin", "hour_cos", "dow_sin", "dow_cos", "is_weekend", "is_night", "timestamp_missing"}
_SINGLE = {
    "user_amount_rel": "amount vs the user's usual",
    "user_log_seconds_since_prev": "time since the user's previous transaction",
    "user_first_tx": "time since the user's previous transaction",
    "user_new_merchant": "merchant new for this user",
    "user_new_country": "country new for this user",
    "user_new_device": "device new for this user",
}


@dataclass
class Explanation:
    probability: float
    baseline_probability: float
    baseline: str  # one line saying what the baseline is
    attributions: dict[str, float]  # field or feature group -> logit contribution, largest |value| first
    completeness_gap: float  # |sum(attributions) - (logit - baseline logit)| / max(|logit - baseline logit|, 1e-6)


def feature_group(name: str) -> str:
    """The group a numeric input is reported under (a field's own name for raw fields).

    Time features -> "time of day and week"; ``user_{count,amount_mean,amount_std}_{w}d`` ->
    "user history (w days)"; the merchant's -> "merchant activity (w days)"; merchant labelled
    counts and fraud rates -> "merchant fraud rate (w days)"; recency and novelty as in ``_SINGLE``.
    """
    if name in _TIME:
        return "time of day and week"
    if name in _SINGLE:
        return _SINGLE[name]
    match = re.fullmatch(r"(user|merchant)_(count|amount_mean|amount_std|labelled|fraud_rate)_(\d+)d", name)
    if match:
        who, stat, days = match.groups()
        if stat in ("labelled", "fraud_rate"):
            return f"merchant fraud rate ({days} days)"
        return f"{'user history' if who == 'user' else 'merchant activity'} ({days} days)"
    return name


def explain_row(scorer: RowScorer, values: dict[str, object], steps: int = 64) -> Explanation:
    """Integrated-gradients attributions of one transaction's score (``values`` as for ``RowScorer.score``)."""
    net = scorer.model.net
    inputs = scorer.inputs(values)
    codes = torch.from_numpy(inputs.codes)
    with torch.no_grad():
        vectors = [emb.weight[codes[j]] for j, emb in enumerate(net.embeddings)]
        origins = [emb.weight[0] for emb in net.embeddings]
    x = torch.cat([*vectors, torch.from_numpy(inputs.numbers)]).float()
    base = torch.cat([*origins, torch.zeros(len(inputs.numbers))]).float()
    with torch.no_grad():
        logits = net.head(torch.stack([base, x])).squeeze(1)
    difference = float(logits[1] - logits[0])
    n = max(int(steps), 1)
    while True:
        per_input = _integrated(net.head, base, x, n)
        gap = abs(float(per_input.sum()) - difference) / max(abs(difference), 1e-6)
        if gap <= TOLERANCE or n >= MAX_STEPS:
            break
        n *= 2
    names = _input_groups(scorer)
    totals: dict[str, float] = {}
    for name, value in zip(names, per_input.tolist()):
        totals[name] = totals.get(name, 0.0) + value
    ordered = dict(sorted(totals.items(), key=lambda item: -abs(item[1])))
    baseline_p = _sigmoid(float(logits[0]))
    line = (f"Compared with a transaction the model knows nothing about (every category unknown, every number at "
            f"its training median), scored {baseline_p:.1%}; contributions are in log-odds.")
    return Explanation(_sigmoid(float(logits[1])), baseline_p, line, ordered, gap)


def _integrated(head: torch.nn.Module, base: torch.Tensor, x: torch.Tensor, steps: int) -> torch.Tensor:
    """``(x - base) * mean gradient`` along the straight path, at the midpoints of ``steps`` segments."""
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    with torch.enable_grad():
        path = (base + alphas[:, None] * (x - base)).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(head(path).sum(), path)
    return ((x - base) * grad.mean(dim=0)).detach()


def _input_groups(scorer: RowScorer) -> list[str]:
    """The group of every input of the head: one per embedding dimension, then one per numeric input."""
    net, encoder = scorer.model.net, scorer.model.encoder
    names = []
    for name, emb in zip(encoder.categorical_names, net.embeddings):
        names += [name] * emb.embedding_dim
    return names + [feature_group(name) for name in encoder.numeric_names]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
