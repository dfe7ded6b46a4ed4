"""Profit and loss of fraud decisions: what a model's threshold is worth in money.

The P&L model (exact; every number the Profit & loss page shows follows it)
-------------------------------------------------------------------------
Each labelled transaction ``i`` has a fraud score ``s_i``, a label (1 fraud, 0 legitimate), an
``amount_i`` and a ``revenue_i`` (the revenue column: ``amount`` by default, or a revenue,
margin or fee column). A threshold ``t`` *alerts* every transaction with ``s_i >= t``.

Analyst capacity ``C`` (alerts reviewed per day, ``None`` = unlimited): on each calendar day of
the timestamp, the alerts are worked in order of score (highest first; equal scores in row
order) and only the first ``C`` of the day are reviewed. Because the order within a day does not
depend on ``t``, a transaction is reviewed exactly when ``s_i >= t`` *and* its rank among all of
its day's transactions by score is below ``C``. Alerts beyond capacity are **approved
unreviewed**: they cost nothing to review and count as approved below. Without a timestamp
(or for rows whose timestamp is missing) capacity cannot be applied and every alert is reviewed.

A reviewed alert is **declined** (the review is assumed to confirm the model). Then, with the
business assumptions of ``Assumptions``:

==========================  ======================================================
approved legitimate         ``+ fee_rate * revenue_i``
approved fraud              ``- (amount_i * (1 - recovery_rate) + chargeback_fee)``
declined fraud              ``- review_cost``
declined legitimate         ``- review_cost - false_decline_cost``
==========================  ======================================================

The P&L of a threshold is the sum over transactions. "Approve everything" is the threshold
above every score. The amount rule is the same ledger with the amount as the score (flag
``amount >= cut``). A revenue value that cannot be read is reported (count and examples) and
its fee is left out of the revenue (counted as no fee); an unknown amount is reported and that
row's fraud loss is the chargeback fee alone. Rows without a label are not in the ledger.

Modules: ``assumptions`` (the dataclass, its checks and help), ``revenue`` (choosing and parsing
the revenue column), ``ledger`` (the vectorised curve, best threshold, outcomes, alerts per day),
``breakdown`` (money by segment and over time), ``inputs`` (building the ledger's frame from a
model version and a dataset, with scores cached on disk).
"""
from core.finance.assumptions import ASSUMPTION_FIELDS, AssumptionError, Assumptions
from core.finance.breakdown import Breakdown, breakdown, over_time
from core.finance.ledger import AlertsPerDay, Ledger, Outcome, ThresholdCurve, alerts_per_day, reviewable_mask
from core.finance.revenue import RevenueReport, detect_revenue_column, parse_revenue

__all__ = [
    "ASSUMPTION_FIELDS",
    "AlertsPerDay",
    "AssumptionError",
    "Assumptions",
    "Breakdown",
    "Ledger",
    "Outcome",
    "RevenueReport",
    "ThresholdCurve",
    "alerts_per_day",
    "breakdown",
    "detect_revenue_column",
    "over_time",
    "parse_revenue",
    "reviewable_mask",
]
