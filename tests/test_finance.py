"""core.finance on hand-computed cases: six transactions whose P&L is worked out line by line below.

The case (fee 10%, chargeback 10, half of fraud recovered, review 2, false decline 5):

    row  score  label  amount  if approved        if declined
    0    0.9    fraud  100     -(50 + 10) = -60   -2
    1    0.8    legit   50     +5                 -2 - 5 = -7
    2    0.6    fraud  200     -(100 + 10) = -110 -2
    3    0.4    legit   80     +8                 -7
    4    0.2    fraud   40     -(20 + 10) = -30   -2
    5    0.1    legit   30     +3                 -7

Approve everything: 5 + 8 + 3 - 60 - 110 - 30 = -184.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from core.finance import (
    AssumptionError,
    Assumptions,
    Ledger,
    alerts_per_day,
    breakdown,
    detect_revenue_column,
    over_time,
    parse_revenue,
    reviewable_mask,
)
from core.finance.inputs import money_data, prune_scores, revenue_options
from core.schema import ColumnMapping
from core.workspace import Workspace

SCORES = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.1])
LABELS = np.array([1, 0, 1, 0, 1, 0])
AMOUNT = np.array([100.0, 50.0, 200.0, 80.0, 40.0, 30.0])
DAYS = np.array(["2024-01-01"] * 3 + ["2024-01-09"] * 2 + ["NaT"], dtype="datetime64[D]")
ASSUME = Assumptions(fee_rate=0.1, chargeback_fee=10, recovery_rate=0.5, review_cost=2, false_decline_cost=5, analyst_capacity=None)


def ledger(assumptions: Assumptions = ASSUME, scores=SCORES, day=None) -> Ledger:
    return Ledger(scores, LABELS, AMOUNT, AMOUNT, assumptions, day)


@pytest.mark.parametrize("threshold, pnl, tp, fp", [
    (0.95, -184.0, 0, 0),  # approve everything
    (0.85, 16 - 140 - 2, 1, 0),  # decline row 0
    (0.7, 11 - 140 - 4 - 5, 1, 1),
    (0.5, 11 - 30 - 6 - 5, 2, 1),  # rows 0-2 declined: -30
    (0.3, 3 - 30 - 8 - 10, 2, 2),
    (0.2, 3 - 0 - 10 - 10, 3, 2),  # ties decline: score >= threshold
    (0.0, 0 - 0 - 12 - 15, 3, 3),
])
def test_outcome_at_a_threshold_matches_the_hand_count(threshold, pnl, tp, fp):
    o = ledger().at(threshold)
    assert o.pnl == pytest.approx(pnl)
    assert (o.tp, o.fp, o.fn, o.tn) == (tp, fp, 3 - tp, 3 - fp)
    assert o.revenue - o.fraud_loss - o.review_cost - o.decline_cost == pytest.approx(o.pnl)


def test_threshold_0_5_splits_money_into_its_parts():
    o = ledger().at(0.5)
    assert (o.revenue, o.fraud_loss, o.review_cost, o.decline_cost) == pytest.approx((11, 30, 6, 5))
    assert (o.alerts, o.reviewed, o.unreviewed) == (3, 3, 0)


def test_best_threshold_is_the_exact_optimum_and_approve_all_is_above_every_score():
    led = ledger()
    best = led.best()
    assert best.threshold == 0.2 and best.pnl == pytest.approx(-17)
    everything = led.approve_all()
    assert everything.pnl == pytest.approx(-184) and everything.alerts == 0 and everything.threshold > 0.9


def test_amount_rule_is_the_same_ledger_with_the_amount_as_score():
    rule = Ledger(AMOUNT, LABELS, AMOUNT, AMOUNT, ASSUME)
    assert rule.at(100).pnl == pytest.approx(16 - 30 - 4)  # rows 0 and 2 flagged: -18
    assert rule.at(150).pnl == pytest.approx(16 - 90 - 2)  # only row 2: -76
    best = rule.best()
    assert best.threshold == 40 and best.pnl == pytest.approx(-17)


def test_capacity_reviews_the_top_scores_of_each_day_and_approves_the_rest_unreviewed():
    capped = Assumptions(**{**ASSUME.to_dict(), "analyst_capacity": 1})
    assert reviewable_mask(SCORES, DAYS, 1).tolist() == [True, False, False, True, False, True]  # no day: always reviewed
    led = ledger(capped, day=DAYS)
    o = led.at(0.5)  # alerts rows 0-2 on day 1: only row 0 is reviewed
    assert (o.alerts, o.reviewed, o.unreviewed) == (3, 1, 2)
    assert o.pnl == pytest.approx(16 - 140 - 2)
    o = led.at(0.15)  # rows 0 and 3 reviewed; 1, 2 and 4 approved unreviewed
    assert (o.reviewed, o.unreviewed, o.tp, o.fp) == (2, 3, 1, 1)
    assert o.pnl == pytest.approx(8 - 140 - 4 - 5)
    assert led.best().pnl == pytest.approx(-126) and led.best().threshold == 0.9


def test_capacity_ties_go_in_row_order():
    scores = np.array([0.5, 0.5, 0.5])
    day = np.array(["2024-01-01"] * 3, dtype="datetime64[D]")
    assert reviewable_mask(scores, day, 2).tolist() == [True, True, False]


def test_alerts_per_day_against_capacity():
    per_day = alerts_per_day(SCORES, DAYS, 0.15, capacity=1)
    assert per_day.days == ["2024-01-01", "2024-01-09"]
    assert per_day.alerts == [3, 2] and per_day.reviewed == [1, 1]
    assert (per_day.days_over, per_day.unreviewed, per_day.undated) == (2, 3, 0)
    unlimited = alerts_per_day(SCORES, DAYS, 0.05, capacity=None)
    assert unlimited.reviewed == [3, 2] and unlimited.days_over == 0 and unlimited.undated == 1


def _brute_pnl(scores, labels, amount, revenue, a, day, t):
    """One transaction at a time, each day's alerts worked in score order up to capacity."""
    declined = np.zeros(len(scores), dtype=bool)
    alerted = [i for i in range(len(scores)) if scores[i] >= t]
    if a.analyst_capacity is None:
        declined[alerted] = True
    else:
        for d in set(day[alerted].tolist()):
            todays = sorted([i for i in alerted if day[i] == d], key=lambda i: (-scores[i], i))
            declined[todays[: a.analyst_capacity]] = True
    total = 0.0
    for i in range(len(scores)):
        if declined[i]:
            total -= a.review_cost + (0 if labels[i] else a.false_decline_cost)
        elif labels[i]:
            total -= amount[i] * (1 - a.recovery_rate) + a.chargeback_fee
        else:
            total += a.fee_rate * revenue[i]
    return total


@pytest.mark.parametrize("capacity", [None, 7])
def test_curve_and_best_match_a_brute_force_loop(capacity):
    rng = np.random.default_rng(4)
    n = 300
    scores = np.round(rng.random(n), 2)  # many ties
    labels = (rng.random(n) < 0.2).astype(int)
    amount = rng.gamma(2, 50, n)
    revenue = amount * 0.5
    day = np.datetime64("2024-03-01") + rng.integers(0, 5, n).astype("timedelta64[D]")
    a = Assumptions(fee_rate=0.03, chargeback_fee=12, recovery_rate=0.2, review_cost=1.5, false_decline_cost=4, analyst_capacity=capacity)
    led = Ledger(scores, labels, amount, revenue, a, day)
    thresholds = np.linspace(0, 1, 41)
    curve = led.curve(thresholds)
    expected = [_brute_pnl(scores, labels, amount, revenue, a, day, t) for t in thresholds]
    assert curve.pnl == pytest.approx(expected)
    candidates = [*np.unique(scores), 2.0]
    brute_best = max(_brute_pnl(scores, labels, amount, revenue, a, day, t) for t in candidates)
    assert led.best().pnl == pytest.approx(brute_best)
    assert _brute_pnl(scores, labels, amount, revenue, a, day, led.best().threshold) == pytest.approx(brute_best)


def test_default_curve_has_about_200_thresholds_in_order():
    curve = ledger().curve()
    assert 150 <= len(curve.thresholds) <= 210 and curve.thresholds == sorted(curve.thresholds)
    assert curve.best.pnl == pytest.approx(-17) and curve.approve_all.pnl == pytest.approx(-184)


def test_breakdown_by_segment_keeps_the_top_and_folds_the_rest():
    money = ledger().row_money(0.5)  # per row P&L: -2, -7, -2, +8, -30, +3
    assert money["pnl"].tolist() == pytest.approx([-2, -7, -2, 8, -30, 3])
    countries = np.array(["A", "B", "A", "B", "C", None], dtype=object)
    b = breakdown(countries, money, "country", top=2)
    assert b.labels == ["C", "B", "Other"] and b.folded == 2  # by money at stake: C 30, B 8, (missing) 3, A 0
    assert b.transactions == [1, 2, 3] and b.fraud == [1, 0, 2]
    assert b.pnl == pytest.approx([-30, 1, -1]) and b.revenue == pytest.approx([0, 8, 3]) and b.cost == pytest.approx([0, 7, 4])
    full = breakdown(countries, money, "country")
    assert full.labels == ["C", "B", "(missing)", "A"] and full.folded == 0


def test_over_time_by_day_and_week_leaves_out_undated_rows():
    money = ledger().row_money(0.5)
    stamps = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 23:00", "2024-01-02 00:00", "2024-01-09 00:00", "2024-01-09 08:00", None])
    days = over_time(stamps, money, "day")
    assert days.labels == ["2024-01-01", "2024-01-02", "2024-01-09"] and days.pnl == pytest.approx([-9, -2, -22])
    weeks = over_time(stamps, money, "week")
    assert weeks.labels == ["2024-01-01", "2024-01-08"] and weeks.pnl == pytest.approx([-11, -22])
    assert sum(weeks.transactions) == 5
    with pytest.raises(ValueError, match="grain"):
        over_time(stamps, money, "month")


def test_revenue_parsing_reports_unreadable_values_and_never_reads_them_as_zero():
    values = pd.Series(["$1,000.50", "12", "n/a", "abc", "", "7 EUR", "xyz", "abc"], name="fee")
    parsed, report = parse_revenue(values)
    assert parsed[:2].tolist() == [1000.5, 12.0] and parsed[5] == 7.0
    assert np.isnan(parsed[[2, 3, 4, 6, 7]]).all()
    assert (report.unparseable, report.missing, report.examples) == (3, 2, ["abc", "xyz"])
    assert "3 of 8 values in 'fee' could not be read" in report.message() and "'abc'" in report.message()
    clean, ok = parse_revenue(pd.Series([1.0, 2.5]), "amount")
    assert ok.message() == "" and clean.tolist() == [1.0, 2.5]


def test_unreadable_revenue_earns_no_fee():
    revenue = np.array([100.0, np.nan, 200.0, 80.0, 40.0, np.nan])
    led = Ledger(SCORES, LABELS, AMOUNT, revenue, ASSUME)
    assert led.approve_all().revenue == pytest.approx(8)  # only row 3's fee


def test_revenue_column_detection():
    assert detect_revenue_column(["amount", "merchant_category"]) == "amount"
    assert detect_revenue_column(["amount", "channel", "Merchant_Fee"]) == "Merchant_Fee"
    assert detect_revenue_column(["amount", "gross_margin"]) == "gross_margin"


def test_assumptions_are_checked_naming_the_field():
    with pytest.raises(AssumptionError, match="Fee / margin rate must be between 0 and 1") as error:
        Assumptions(fee_rate=1.5)
    assert error.value.field == "fee_rate"
    with pytest.raises(AssumptionError, match="Review cost per alert must be a number") as error:
        Assumptions.from_dict({"review_cost": "cheap"})
    assert error.value.field == "review_cost"
    with pytest.raises(AssumptionError, match="whole number"):
        Assumptions(analyst_capacity=2.5)
    with pytest.raises(AssumptionError, match="Chargeback fee must be at least 0"):
        Assumptions(chargeback_fee=-1)
    assert Assumptions.from_dict({"analyst_capacity": "", "fee_rate": "0.05"}) == Assumptions(fee_rate=0.05, analyst_capacity=None)
    assert Assumptions.from_dict({}) == Assumptions()
    with pytest.raises(AssumptionError, match="False decline cost is required"):
        Assumptions.from_dict({"false_decline_cost": None})


def test_money_data_reads_stored_cells_when_rows_align_and_mapped_values_when_rows_were_dropped(tmp_path):
    workspace = Workspace(tmp_path)
    frame = pd.DataFrame({"amt": ["10", "20", "30", "40"], "fraud": ["0", "1", "0", "0"], "fee": ["1.5", "oops", "", "2"],
                          "note": ["a", "b", "c", "d"]})
    meta = workspace.add_dataset(frame, name="aligned", source="upload")
    workspace.save_mapping(meta.id, ColumnMapping(fields={"amount": "amt", "label": "fraud"}), pd.DataFrame(
        {"amount": [10.0, 20.0, 30.0, 40.0], "label": np.array([0, 1, 0, 0], dtype=np.int8)}), {})
    options, detected = revenue_options(workspace, meta.id)
    assert options == ["amount", "fee", "note"] and detected == "fee"  # unmapped stored columns are offered
    data = money_data(workspace, meta.id, np.array([0.1, 0.9, 0.2, 0.3]), "fee")
    assert (data.revenue.unparseable, data.revenue.examples, data.revenue.missing) == (1, ["oops"], 1)
    assert data.frame["revenue"].tolist()[0] == 1.5 and not data.has_timestamp and data.day() is None

    dropped = workspace.add_dataset(frame, name="dropped", source="upload")
    workspace.save_mapping(dropped.id, ColumnMapping(fields={"amount": "amt", "label": "fraud"}, extra_numeric=["fee"]), pd.DataFrame(
        {"amount": [10.0, 30.0], "label": np.array([0, 0], dtype=np.int8), "fee": [1.5, np.nan]}), {})
    assert revenue_options(workspace, dropped.id)[0] == ["amount", "fee"]  # rows differ: only mapped columns
    data = money_data(workspace, dropped.id, np.array([0.1, 0.2]), "fee")
    assert data.revenue.missing == 1 and data.frame["amount"].tolist() == [10.0, 30.0]
    with pytest.raises(ValueError, match="cannot be used as revenue"):
        money_data(workspace, dropped.id, np.array([0.1, 0.2]), "note")
    with pytest.raises(ValueError, match="score it again"):
        money_data(workspace, dropped.id, np.array([0.1, 0.2, 0.3]), "amount")


def test_score_cache_keeps_the_most_recently_used_files_within_its_budget(tmp_path):
    for age, name in enumerate(["newest", "middle", "oldest"]):
        path = tmp_path / f"{name}.npy"
        np.save(path, np.zeros(100))  # 928 bytes each
        stamp = 1_700_000_000 - age * 60
        os.utime(path, (stamp, stamp))
    (tmp_path / ".being-written.tmp.npy").write_bytes(b"x" * 5000)
    removed = prune_scores(tmp_path, keep_bytes=2000)
    assert removed == ["oldest.npy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".being-written.tmp.npy", "middle.npy", "newest.npy"]
