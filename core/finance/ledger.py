"""The vectorised P&L ledger: sort the scores once, cumulative sums answer any threshold.

``Ledger(scores, labels, amount, revenue, assumptions, day)`` prepares, in one sort, prefix sums
of everything a decision changes; ``at(t)`` and ``curve(thresholds)`` are then a binary search
each, and ``best()`` scans every distinct cut exactly. The rules are in ``core.finance``.
Shapes: every array argument has one value per labelled transaction, ``(n,)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from core.finance.assumptions import Assumptions

CURVE_POINTS = 200


@dataclass
class Outcome:
    """Money and counts of one threshold (decline ``score >= threshold`` where reviewed)."""

    threshold: float
    alerts: int  # score >= threshold, before capacity
    reviewed: int  # alerts an analyst reviewed (= declined)
    unreviewed: int  # alerts beyond capacity, approved unreviewed
    tp: int  # fraud declined
    fp: int  # legitimate declined
    fn: int  # fraud approved
    tn: int  # legitimate approved
    revenue: float  # fees kept on approved legitimate transactions
    fraud_loss: float  # lost on approved fraud, net of recovery, plus chargeback fees
    review_cost: float
    decline_cost: float  # false-decline cost of declined legitimate transactions
    pnl: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Outcome":
        return cls(**data)


@dataclass
class ThresholdCurve:
    """P&L (and alerts, fraud caught) at each threshold; ``best`` is the exact optimum over all cuts."""

    thresholds: list[float]
    pnl: list[float]
    alerts: list[int]
    tp: list[int]
    best: Outcome
    approve_all: Outcome

    def to_dict(self) -> dict:
        data = asdict(self)
        data["best"], data["approve_all"] = self.best.to_dict(), self.approve_all.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ThresholdCurve":
        return cls(**{**data, "best": Outcome.from_dict(data["best"]), "approve_all": Outcome.from_dict(data["approve_all"])})


@dataclass
class AlertsPerDay:
    """Alerts per calendar day at one threshold against the analysts' capacity."""

    days: list[str]  # ISO dates
    alerts: list[int]
    reviewed: list[int]
    capacity: int | None
    days_over: int  # days with more alerts than capacity
    unreviewed: int  # alerts approved unreviewed in all
    undated: int  # alerts without a timestamp (not in ``days``)


class Ledger:
    """P&L of every threshold for one set of scores (a model's, or the amount for the amount rule)."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray, amount: np.ndarray, revenue: np.ndarray,
                 assumptions: Assumptions, day: np.ndarray | None = None) -> None:
        scores = np.asarray(scores, dtype=np.float64)
        n = len(scores)
        for name, values in (("labels", labels), ("amount", amount), ("revenue", revenue), ("day", day)):
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} values but there are {n} scores.")
        self.assumptions = a = assumptions
        self.scores = np.where(np.isnan(scores), -np.inf, scores)  # an unknown score never alerts
        self.fraud = np.asarray(labels).astype(bool)
        self.day = day
        self.reviewable = reviewable_mask(self.scores, day, a.analyst_capacity)
        # What each row contributes when approved: a fee (legit) or a loss (fraud); unknown values count 0.
        self.fee = np.where(~self.fraud, a.fee_rate * np.nan_to_num(np.asarray(revenue, dtype=np.float64), nan=0.0), 0.0)
        amount = np.nan_to_num(np.asarray(amount, dtype=np.float64), nan=0.0)
        self.loss = np.where(self.fraud, amount * (1.0 - a.recovery_rate) + a.chargeback_fee, 0.0)
        effective = np.where(self.reviewable, self.scores, -np.inf)
        order = np.argsort(-effective, kind="stable")
        self._neg_eff = -effective[order]  # ascending
        self._neg_all = np.sort(-self.scores)
        self._fraud_c = _cumsum0(self.fraud[order].astype(np.int64))
        self._fee_c = _cumsum0(self.fee[order])
        self._loss_c = _cumsum0(self.loss[order])
        self.n_fraud, self.n = int(self.fraud.sum()), n
        self._reviewable_n = int(np.isfinite(effective).sum())

    def at(self, threshold: float) -> Outcome:
        """The outcome of declining ``score >= threshold`` (where reviewed)."""
        return self._outcomes(np.array([float(threshold)]))[0]

    def approve_all(self) -> Outcome:
        return self.at(self._above_all())

    def curve(self, thresholds: np.ndarray | None = None) -> ThresholdCurve:
        """The P&L at each threshold (default: ``threshold_grid``), plus the exact best and approve-all."""
        t = threshold_grid(self.scores) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        k = self._count(t)
        fraud, legit = self._fraud_c[k], k - self._fraud_c[k]
        alerts = np.searchsorted(self._neg_all, -t, side="right")
        return ThresholdCurve(t.tolist(), self._pnl(k, fraud, legit).tolist(), alerts.tolist(), fraud.tolist(),
                              self.best(), self.approve_all())

    def best(self) -> Outcome:
        """The most profitable threshold over every distinct cut (ties: the fewest alerts)."""
        m = self._reviewable_n
        ks = np.arange(m + 1)
        # a cut between positions k-1 and k is only reachable when the scores there differ
        ok = np.ones(m + 1, dtype=bool)
        ok[1:m] = self._neg_eff[: m - 1] < self._neg_eff[1:m]
        fraud = self._fraud_c[: m + 1]
        pnl = np.where(ok, self._pnl(ks, fraud, ks - fraud), -np.inf)
        k = int(np.argmax(pnl))
        threshold = self._above_all() if k == 0 else float(-self._neg_eff[k - 1])
        return self.at(threshold)

    def declined(self, threshold: float) -> np.ndarray:
        """Per row: declined (alerted and reviewed) at ``threshold``."""
        return self.reviewable & (self.scores >= threshold)

    def row_money(self, threshold: float) -> dict[str, np.ndarray]:
        """Per row at ``threshold``: revenue kept, fraud loss, costs and P&L (for breakdowns)."""
        declined = self.declined(threshold)
        a = self.assumptions
        revenue = np.where(declined, 0.0, self.fee)
        loss = np.where(declined, 0.0, self.loss)
        cost = np.where(declined, a.review_cost + np.where(self.fraud, 0.0, a.false_decline_cost), 0.0)
        return {"revenue": revenue, "fraud_loss": loss, "cost": cost, "pnl": revenue - loss - cost,
                "declined": declined, "fraud": self.fraud}

    def _count(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._neg_eff, -t, side="right")

    def _pnl(self, k: np.ndarray, fraud: np.ndarray, legit: np.ndarray) -> np.ndarray:
        a = self.assumptions
        revenue = self._fee_c[-1] - self._fee_c[k]
        loss = self._loss_c[-1] - self._loss_c[k]
        return revenue - loss - k * a.review_cost - legit * a.false_decline_cost

    def _outcomes(self, t: np.ndarray) -> list[Outcome]:
        a = self.assumptions
        k = self._count(t)
        alerts = np.searchsorted(self._neg_all, -t, side="right")
        out = []
        for ti, ki, ai in zip(t, k, alerts):
            tp = int(self._fraud_c[ki])
            fp = int(ki) - tp
            revenue = float(self._fee_c[-1] - self._fee_c[ki])
            loss = float(self._loss_c[-1] - self._loss_c[ki])
            review, decline = float(ki * a.review_cost), float(fp * a.false_decline_cost)
            out.append(Outcome(float(ti), int(ai), int(ki), int(ai - ki), tp, fp, self.n_fraud - tp, self.n - self.n_fraud - fp,
                               revenue, loss, review, decline, revenue - loss - review - decline))
        return out

    def _above_all(self) -> float:
        top = float(self.scores.max()) if self.n and np.isfinite(self.scores).any() else 1.0
        return float(np.nextafter(max(top, 0.0), np.inf))


def threshold_grid(scores: np.ndarray, points: int = CURVE_POINTS) -> np.ndarray:
    """About ``points`` thresholds in [0, 1] where the scores are: half evenly spaced, half at score quantiles."""
    even = np.linspace(0.0, 1.0, points // 2 + 1)
    finite = scores[np.isfinite(scores)]
    quantiles = np.quantile(finite, np.linspace(0.0, 1.0, points // 2)) if len(finite) else np.array([])
    grid = np.unique(np.concatenate([even, quantiles]))
    return grid


def reviewable_mask(scores: np.ndarray, day: np.ndarray | None, capacity: int | None) -> np.ndarray:
    """True where an alert would be reviewed: among its day's ``capacity`` highest scores.

    Ranks are by score, highest first, equal scores in row order. Rows without a day (NaT), and
    every row when ``day`` or ``capacity`` is None, are always reviewable.
    """
    n = len(scores)
    if day is None or capacity is None:
        return np.ones(n, dtype=bool)
    day = np.asarray(day).astype("datetime64[D]")
    dated = ~np.isnat(day)
    codes = day.astype(np.int64)
    order = np.lexsort((np.arange(n), -np.asarray(scores, dtype=np.float64), codes))
    sorted_codes = codes[order]
    start = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first
    return ~dated | (rank < capacity)


def alerts_per_day(scores: np.ndarray, day: np.ndarray, threshold: float, capacity: int | None) -> AlertsPerDay:
    """Alerts (``score >= threshold``) per calendar day, and how many of them capacity lets analysts review."""
    day = np.asarray(day).astype("datetime64[D]")
    dated = ~np.isnat(day)
    alerted = np.asarray(scores) >= threshold
    all_days = np.unique(day[dated])
    counts = np.zeros(len(all_days), dtype=np.int64)
    if len(all_days):
        idx = np.searchsorted(all_days, day[dated & alerted])
        counts = np.bincount(idx, minlength=len(all_days))
    reviewed = counts if capacity is None else np.minimum(counts, capacity)
    return AlertsPerDay(days=[str(d) for d in all_days], alerts=counts.tolist(), reviewed=reviewed.tolist(), capacity=capacity,
                        days_over=int((counts > reviewed).sum()), unreviewed=int((counts - reviewed).sum()),
                        undated=int((alerted & ~dated).sum()))


def _cumsum0(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(values)])
