"""Tests for core.stats: equality with scipy, effect sizes, readings, warnings and errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.errors import TxlabError
from core.mapping import apply_mapping, suggest_mapping
from core.stats import (
    ChiSquareResult,
    NumericComparison,
    _fmt_p,
    chi_square,
    compare_groups,
    compare_numeric,
    group_levels,
)
from core.synth import SynthConfig, generate

RTOL = 1e-9


def _dataset(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (a, b) pairs covering scipy's exact and asymptotic paths."""
    rng = np.random.default_rng(DATASETS.index(kind))
    if kind == "normal":
        return rng.normal(10, 2, 300), rng.normal(10.6, 2.5, 200)
    if kind == "skewed":
        return rng.lognormal(3.5, 1.0, 5_000), rng.lognormal(4.0, 1.3, 120)
    if kind == "ties":
        return np.round(rng.normal(5, 2, 400)), np.round(rng.normal(5.4, 2, 350))
    if kind == "unequal_large":  # > 10,000 values: KS from sorted arrays, asymptotic kstwo p
        return rng.gamma(2.0, 30.0, 25_000).round(2), rng.gamma(2.3, 30.0, 400).round(2)
    if kind == "both_large":
        return rng.exponential(1.0, 12_000), rng.exponential(1.03, 11_000)
    if kind == "small_exact":  # a group of at most 8 values without ties: exact Mann-Whitney
        return rng.normal(0, 1, 30), rng.normal(1, 1, 6)
    if kind == "small_ties":
        return rng.integers(0, 4, 7).astype(float), rng.integers(1, 5, 9).astype(float)
    raise AssertionError(kind)


DATASETS = ["normal", "skewed", "ties", "unequal_large", "both_large", "small_exact", "small_ties"]


def _label_frame(a: np.ndarray, b: np.ndarray, **extra: object) -> pd.DataFrame:
    frame = pd.DataFrame({
        "amount": np.concatenate([a, b]),
        "label": np.r_[np.zeros(len(a)), np.ones(len(b))].astype(np.int8),
    })
    for name, values in extra.items():
        frame[name] = values
    return frame


@pytest.fixture(scope="module")
def synth_frame() -> pd.DataFrame:
    raw = generate(SynthConfig(rows=20_000, seed=3))
    mapped, _ = apply_mapping(raw, suggest_mapping(raw).to_mapping())
    return mapped


# --- equality with scipy ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", DATASETS)
def test_numeric_tests_equal_scipy(kind):
    a, b = _dataset(kind)
    r = compare_numeric(a, b, "x", "A", "B")
    welch = stats.ttest_ind(b, a, equal_var=False)
    mwu = stats.mannwhitneyu(b, a)  # scipy defaults: two-sided, method="auto", continuity
    ks = stats.ks_2samp(b, a)  # method="auto"
    got = [r.welch_t, r.welch_df, r.welch_p, r.mwu_u, r.mwu_p, r.ks_d, r.ks_p]
    want = [welch.statistic, welch.df, welch.pvalue, mwu.statistic, mwu.pvalue, ks.statistic, ks.pvalue]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    assert (r.n_a, r.n_b) == (len(a), len(b))
    assert r.median_a == np.median(a) and r.median_b == np.median(b)
    assert r.mean_b - r.mean_a == pytest.approx(r.diff_mean)


def test_scipy_method_choices_are_reported():
    assert compare_numeric(*_dataset("small_exact"), "x", "A", "B").mwu_method == "exact"
    assert compare_numeric(*_dataset("small_ties"), "x", "A", "B").mwu_method == "asymptotic"
    large = compare_numeric(*_dataset("unequal_large"), "x", "A", "B")
    assert (large.mwu_method, large.ks_method) == ("asymptotic", "asymp")
    assert compare_numeric(*_dataset("normal"), "x", "A", "B").ks_method == "exact"


def test_confidence_interval_and_cohens_d_by_hand():
    a, b = _dataset("skewed")
    r = compare_numeric(a, b, "amount", "legit", "fraud")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    diff = b.mean() - a.mean()
    np.testing.assert_allclose([r.diff_ci_low, r.diff_ci_high], [diff - half, diff + half], rtol=RTOL)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    np.testing.assert_allclose([r.diff_ci_low, r.diff_ci_high], [ci.low, ci.high], rtol=RTOL)
    pooled = ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)
    assert r.cohens_d == pytest.approx(diff / math.sqrt(pooled), rel=RTOL)


@pytest.mark.parametrize("kind", ["ties", "small_ties", "normal"])
def test_cliffs_delta_equals_brute_force(kind):
    a, b = _dataset(kind)
    brute = (np.sign(b[:, None] - a[None, :])).mean()  # P(b > a) - P(b < a), O(n^2)
    r = compare_numeric(a, b, "x", "A", "B")
    assert r.cliffs_delta == pytest.approx(brute, rel=RTOL, abs=1e-12)
    assert r.cliffs_delta == pytest.approx(2 * r.mwu_u / (r.n_a * r.n_b) - 1, rel=RTOL, abs=1e-12)


def test_chi_square_equals_scipy_and_hand_measures():
    rng = np.random.default_rng(5)
    country = rng.choice(["US", "GB", "DE", "NG", "BR"], 3_000, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    label = (rng.random(3_000) < np.where(country == "NG", 0.2, 0.05)).astype(np.int8)
    frame = pd.DataFrame({"country": pd.Series(country, dtype="str"), "label": label})
    r = chi_square(frame, "country", n_cells=100)
    table = pd.crosstab(frame["country"], frame["label"]).loc[r.rows]
    ref = stats.chi2_contingency(table.to_numpy(), correction=False)
    np.testing.assert_allclose([r.chi2, r.p], [ref.statistic, ref.pvalue], rtol=RTOL)
    assert r.dof == ref.dof == 4 and r.n == 3_000
    assert r.cols == ["legitimate", "fraudulent"]
    assert r.observed == table.to_numpy().tolist()
    assert r.cramers_v == pytest.approx(math.sqrt(ref.statistic / 3_000), rel=RTOL)
    assert sum(c["contribution"] for c in r.top_cells) == pytest.approx(r.chi2, rel=1e-9)
    top = r.top_cells[0]
    assert (top["row"], top["col"]) == ("NG", "fraudulent") and top["residual"] > 2
    i, j = r.rows.index("NG"), 1
    o, e = table.to_numpy()[i, j], ref.expected_freq[i, j]
    row_share, col_share = table.to_numpy()[i].sum() / 3_000, table.to_numpy()[:, j].sum() / 3_000
    hand = (o - e) / math.sqrt(e * (1 - row_share) * (1 - col_share))
    assert top["residual"] == pytest.approx(hand, rel=RTOL)
    assert "NG among fraudulent transactions" in r.reading and "associated" in r.reading


# --- readings ----------------------------------------------------------------------------------


def test_reading_large_effect_names_groups_medians_and_p():
    rng = np.random.default_rng(11)
    a, b = rng.lognormal(3.8, 0.5, 2_000), rng.lognormal(5.3, 0.5, 300)
    r = compare_groups(_label_frame(a, b), "amount")
    assert (r.group_a, r.group_b, r.by) == ("legitimate", "fraudulent", "label")
    assert r.effect == "large" and r.effect_d == "large" and r.cliffs_delta > 0.474
    assert "fraudulent transactions, 'amount' tends to be larger than for legitimate" in r.reading
    assert f"median {round(np.median(b))} vs {np.median(a):.3g}" in r.reading
    assert "very unlikely to be chance" in r.reading and "p < 0.001" in r.reading
    assert "effect size large" in r.reading and "only because" not in r.reading
    assert r.diff_ci_low > 0 and r.warnings == []


def test_reading_null_effect_says_not_significant():
    rng = np.random.default_rng(2)
    r = compare_numeric(rng.normal(50, 10, 400), rng.normal(50, 10, 400), "amount", "legit", "fraud")
    assert r.mwu_p >= 0.05  # precondition of this seed
    assert r.reading.startswith("No significant difference in 'amount'")
    assert "could well be chance" in r.reading and "p = 0." in r.reading
    assert r.effect == "negligible"


def test_reading_huge_n_tiny_effect_carries_the_large_sample_caveat():
    rng = np.random.default_rng(4)
    r = compare_numeric(rng.normal(0, 1, 200_000), rng.normal(0.03, 1, 200_000), "score", "web", "app")
    assert r.mwu_p < 0.001 and r.effect == "negligible" and r.effect_d == "negligible"
    assert "statistically significant only because the samples are large" in r.reading
    assert "200,000" in r.reading


def test_p_value_format():
    assert _fmt_p(0.0004) == "< 0.001"
    assert _fmt_p(0.0312) == "0.031"
    assert _fmt_p(0.0499) == "0.0499"  # two digits would read 0.05 and hide significance
    assert _fmt_p(0.42) == "0.42" and _fmt_p(1.0) == "1"


def test_compare_groups_by_another_category_and_category_dtype():
    rng = np.random.default_rng(8)
    device = rng.choice(["web", "app", "pos"], 3_000, p=[0.5, 0.3, 0.2])
    amount = rng.lognormal(3, 1, 3_000) * np.where(device == "app", 1.5, 1.0)
    frame = pd.DataFrame({"amount": amount, "device_type": pd.Series(device, dtype="str"),
                          "label": np.zeros(3_000, np.int8)})
    r = compare_groups(frame, "amount", by="device_type")  # defaults: the two most frequent
    assert (r.group_a, r.group_b) == ("device_type = web", "device_type = app")
    assert "rows with device_type = app" in r.reading
    ref = stats.mannwhitneyu(amount[device == "app"], amount[device == "web"])
    assert r.mwu_p == pytest.approx(ref.pvalue, rel=RTOL)
    as_category = frame.astype({"device_type": "category"})
    cat = compare_groups(as_category, "amount", by="device_type", a="web", b="app")
    assert cat.to_dict() == r.to_dict()
    assert group_levels(frame, "device_type") == ["web", "app", "pos"]


def test_compare_groups_on_simulated_data(synth_frame):
    r = compare_groups(synth_frame, "amount")
    assert r.n_a + r.n_b == len(synth_frame) and r.median_b > r.median_a and r.mwu_p < 0.001
    c = chi_square(synth_frame, "device_type")
    assert c.p < 0.001 and c.cols == ["legitimate", "fraudulent"] and c.effect in ("small", "medium", "large")
    m = chi_square(synth_frame, "merchant_id", top_n=10)
    assert m.rows[-1] == "other" and len(m.rows) == 11 and sum(map(sum, m.observed)) == len(synth_frame)
    assert any("grouped as 'other'" in w for w in m.warnings)
    assert group_levels(synth_frame, "label") == ["0", "1"]


# --- warnings and errors -----------------------------------------------------------------------


def test_single_class_is_a_clear_error():
    frame = _label_frame(np.arange(50.0), np.array([]))
    with pytest.raises(TxlabError, match=r"label = 1 \(fraudulent\).*'amount'"):
        compare_groups(frame, "amount")
    frame["country"] = "US"
    with pytest.raises(TxlabError, match="'label' has only one value"):
        chi_square(frame, "country")


def test_group_with_only_missing_values_names_group_and_column():
    frame = _label_frame(np.arange(30.0), np.full(5, np.nan))
    with pytest.raises(TxlabError, match="'amount' has no values for group 'fraudulent': all 5 are missing"):
        compare_groups(frame, "amount")


def test_all_missing_column_is_an_error_naming_it():
    frame = _label_frame(np.arange(30.0), np.arange(30.0), country=pd.Series([None] * 60, dtype="str"))
    frame["amount"] = np.nan
    with pytest.raises(TxlabError, match="'amount'"):
        compare_groups(frame, "amount")
    with pytest.raises(TxlabError, match="Column 'country' has no values"):
        chi_square(frame, "country")
    with pytest.raises(TxlabError, match="'nope' is not in the dataset"):
        compare_groups(frame, "nope")
    with pytest.raises(TxlabError, match="'country' is not numeric"):
        compare_groups(frame, "country")


def test_constant_column_warns_and_stays_json_safe():
    frame = _label_frame(np.full(40, 5.0), np.full(30, 5.0), device=["web"] * 70)
    r = compare_groups(frame, "amount")
    assert math.isnan(r.welch_t) and math.isnan(r.cohens_d)
    assert r.mwu_p == 1.0 and r.ks_d == 0.0 and r.cliffs_delta == 0.0
    assert any("constant (5)" in w for w in r.warnings)
    assert "nothing to compare" in r.reading
    assert json.loads(json.dumps(r.to_dict(), allow_nan=False))["welch_t"] is None
    c = chi_square(frame, "device")
    assert c.chi2 == 0.0 and c.p == 1.0 and math.isnan(c.cramers_v)
    assert any("single level" in w for w in c.warnings)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")  # scipy, on the constant group
def test_one_group_constant_warns_about_zero_variance():
    a, b = np.random.default_rng(1).normal(5, 1, 100), np.full(40, 9.99)
    r = compare_numeric(a, b, "amount", "legit", "fraud")
    assert any("zero variance in fraud" in w for w in r.warnings)
    ref = stats.ttest_ind(b, a, equal_var=False)
    np.testing.assert_allclose([r.welch_t, r.welch_p], [ref.statistic, ref.pvalue], rtol=RTOL)


def test_two_rows_warn_about_sample_size_without_crashing():
    r = compare_groups(_label_frame(np.array([10.0]), np.array([20.0])), "amount")
    assert r.n_a == r.n_b == 1 and math.isnan(r.welch_p) and r.mwu_p == 1.0
    assert any("fewer than 20 per group" in w for w in r.warnings)
    assert not any("Ties" in w for w in r.warnings)
    assert "could go undetected" in r.reading


def test_fewer_than_twenty_per_group_and_missing_values_are_warned():
    rng = np.random.default_rng(6)
    a = np.r_[rng.normal(0, 1, 200), [np.nan, np.inf]]
    b = np.r_[rng.normal(1, 1, 12), [np.nan]]
    r = compare_numeric(a, b, "amount", "legit", "fraud")
    assert (r.n_a, r.n_b, r.n_missing) == (200, 12, 3)
    assert any("fraud (12)" in w and "fewer than 20" in w for w in r.warnings)
    assert any("3 missing or infinite values" in w for w in r.warnings)


def test_ties_dominating_are_warned():
    rng = np.random.default_rng(9)
    r = compare_numeric(rng.integers(0, 3, 500).astype(float), rng.integers(0, 3, 300).astype(float),
                        "items", "legit", "fraud")
    assert any("Ties dominate 'items'" in w for w in r.warnings)


def test_sparse_contingency_table_is_warned():
    rng = np.random.default_rng(12)
    frame = pd.DataFrame({"country": rng.choice([f"C{i}" for i in range(12)], 60),
                          "label": (rng.random(60) < 0.1).astype(np.int8)})
    r = chi_square(frame, "country")
    assert any("expected count below 5" in w and "unreliable" in w for w in r.warnings)


def test_chi_square_by_another_column_with_missing_values():
    frame = pd.DataFrame({"country": pd.Series(["US", "GB", None, "US"] * 50, dtype="str"),
                          "device": pd.Series(["web", "app", "web", None] * 50, dtype="str")})
    r = chi_square(frame, "country", by="device")
    assert r.n == 100 and r.n_missing == 100 and r.cols == ["web", "app"]
    assert any("100 rows with 'country' or 'device' missing" in w for w in r.warnings)
    assert r.chi2 == pytest.approx(100.0) and r.cramers_v == pytest.approx(1.0)


# --- JSON round trips --------------------------------------------------------------------------


def test_results_round_trip_through_json():
    a, b = _dataset("ties")
    r = compare_numeric(a, b, "amount", "legit", "fraud")
    back = NumericComparison.from_dict(json.loads(json.dumps(r.to_dict(), allow_nan=False)))
    assert back == r
    nan = compare_groups(_label_frame(np.array([1.0]), np.array([2.0])), "amount")
    back = NumericComparison.from_dict(json.loads(json.dumps(nan.to_dict(), allow_nan=False)))
    assert math.isnan(back.welch_t) and back.to_dict() == nan.to_dict()
    frame = pd.DataFrame({"country": ["US", "GB", "US", "DE"] * 30, "label": [0, 1, 0, 0] * 30})
    c = chi_square(frame, "country")
    back = ChiSquareResult.from_dict(json.loads(json.dumps(c.to_dict(), allow_nan=False)))
    assert back == c
    single = chi_square(frame.assign(country="US"), "country")  # NaN V and residuals
    back = ChiSquareResult.from_dict(json.loads(json.dumps(single.to_dict(), allow_nan=False)))
    assert math.isnan(back.cramers_v) and math.isnan(back.top_cells[0]["residual"])
    assert back.to_dict() == single.to_dict()
