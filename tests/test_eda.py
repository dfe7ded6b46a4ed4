"""Tests for core.explore_frame and core.eda: every number checked against numpy/pandas/scipy."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, norm, spearmanr
from sklearn.metrics import roc_auc_score

from core import eda
from core.results import JsonResult
from core.explore_frame import ExploreError, analysis_frame, category_codes, column_roles
from core.mapping import apply_mapping, suggest_mapping
from core.schema import ColumnMapping
from core.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def synth():
    """A realistic analysis frame, its roles and the mapped frame it came from."""
    raw = generate(SynthConfig(rows=20_000, seed=3))
    mapping = suggest_mapping(raw).to_mapping()
    mapped, _ = apply_mapping(raw, mapping)
    frame = analysis_frame(mapped, mapping)
    return frame, column_roles(frame, mapping), mapped


def _small(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A hand-made analysis frame with missing values in every kind of column."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, n)
    amount[rng.random(n) < 0.05] = np.nan
    country = rng.choice(["GB", "DE", "FR", "NG", "US", "ES"], n, p=[.4, .2, .15, .1, .1, .05])
    country = pd.Series(country, dtype="category")
    country[rng.random(n) < 0.03] = np.nan
    label = (rng.random(n) < 0.1 + 0.2 * (country == "NG").to_numpy()).astype(np.int8)
    ts = pd.Timestamp("2026-01-05") + pd.to_timedelta(np.sort(rng.uniform(0, 20 * 86_400, n)), unit="s")
    ts = pd.Series(ts).dt.floor("s")
    ts[rng.random(n) < 0.02] = pd.NaT
    return pd.DataFrame({"amount": amount, "label": label, "country": country, "timestamp": ts,
                         "score": rng.normal(size=n) + label})


def _wilson(k: int, n: int) -> tuple[float, float]:
    """Textbook Wilson interval, written independently of core.eda."""
    z = norm.ppf(0.975)
    p = k / n
    centre = (2 * n * p + z**2) / (2 * (n + z**2))
    half = z * math.sqrt(z**2 + 4 * n * p * (1 - p)) / (2 * (n + z**2))
    return centre - half, centre + half


# --------------------------------------------------------------------------------------------
# explore_frame
# --------------------------------------------------------------------------------------------

def test_analysis_frame_drops_transaction_id_and_turns_text_into_sorted_categories(synth):
    frame, roles, mapped = synth
    assert "transaction_id" in mapped and "transaction_id" not in frame
    for name in ("user_id", "merchant_id", "country", "device_type", "merchant_category"):
        assert isinstance(frame[name].dtype, pd.CategoricalDtype)
        assert list(frame[name].cat.categories) == sorted(frame[name].cat.categories)
        assert (frame[name].astype(str) == mapped[name].astype(str)).all()
    assert frame["amount"].dtype == np.float64 and frame["timestamp"].equals(mapped["timestamp"])
    assert roles == {"amount": "number", "label": "label", "user_id": "id", "merchant_id": "id",
                     "country": "category", "device_type": "category", "timestamp": "datetime",
                     "merchant_category": "category"}


def test_column_roles_for_extras_and_unmapped_columns():
    frame = pd.DataFrame({"amount": [1.0], "label": [0], "v1": [0.5], "shop": ["a"], "flag": [True],
                          "when": pd.to_datetime(["2026-01-01"]), "note": ["x"]})
    mapping = ColumnMapping(fields={"amount": "Amount", "label": "Class"}, extra_numeric=["v1"],
                            extra_categorical=["shop"])
    assert column_roles(frame, mapping) == {"amount": "number", "label": "label", "v1": "number",
                                            "shop": "category", "flag": "number", "when": "datetime",
                                            "note": "category"}


def test_category_codes_factorises_plain_columns_with_sorted_levels_and_minus_one_for_missing():
    codes, levels = category_codes(pd.Series(["b", None, "a", "b"], dtype="str"))
    assert list(levels) == ["a", "b"] and codes.tolist() == [1, -1, 0, 1]


# --------------------------------------------------------------------------------------------
# Overview and column table
# --------------------------------------------------------------------------------------------

def test_wilson_interval_matches_the_textbook_formula_and_known_values():
    for k, n in [(10, 100), (0, 10), (10, 10), (1, 2), (37, 5000)]:
        low, high = eda.wilson_interval(k, n)
        ref = _wilson(k, n)
        assert low == pytest.approx(max(ref[0], 0), abs=1e-12)
        assert high == pytest.approx(min(ref[1], 1), abs=1e-12)
    assert eda.wilson_interval(0, 10)[1] == pytest.approx(3.8415 / 13.8415, abs=1e-4)  # z²/(n+z²)
    assert eda.wilson_interval(0, 0) == (None, None)


def test_overview_matches_pandas():
    frame = _small()
    frame = pd.concat([frame, frame.iloc[[3, 3, 10]]], ignore_index=True)  # three duplicate rows
    got = eda.overview(frame)
    y = frame["label"]
    assert (got.rows, got.columns, got.positives) == (len(frame), 5, int(y.sum()))
    assert got.positive_rate == pytest.approx(y.mean())
    assert (got.positive_ci_low, got.positive_ci_high) == pytest.approx(_wilson(int(y.sum()), len(frame)))
    assert got.time_start == frame["timestamp"].min().isoformat()
    assert got.time_end == frame["timestamp"].max().isoformat()
    assert got.amount_total == pytest.approx(frame["amount"].sum())
    assert got.amount_median == pytest.approx(frame["amount"].median())
    assert got.missing_cells == int(frame.isna().sum().sum())
    assert got.duplicate_rows == int(frame.duplicated().sum()) == 3


def test_duplicate_count_matches_pandas_duplicated_on_mixed_columns():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.integers(0, 3, 2000).astype(float),
                          "b": pd.Series(rng.choice(["x", "y", None], 2000), dtype="category"),
                          "c": rng.integers(0, 4, 2000)})
    frame.loc[rng.random(2000) < 0.1, "a"] = np.nan
    assert eda.duplicate_count(frame) == int(frame.duplicated().sum()) > 0
    assert eda.duplicate_count(frame.iloc[:1]) == 0


def test_overview_without_label_timestamp_or_amount_and_with_no_rows():
    got = eda.overview(pd.DataFrame({"x": [1.0, 2.0]}))
    assert (got.positives, got.positive_rate, got.positive_ci_low) == (None, None, None)
    assert (got.time_start, got.amount_total, got.amount_median) == (None, None, None)
    empty = eda.overview(_small().iloc[:0])
    assert (empty.rows, empty.positives, empty.positive_rate, empty.duplicate_rows) == (0, 0, None, 0)


def test_overview_with_a_single_class_has_a_one_sided_interval():
    got = eda.overview(pd.DataFrame({"label": np.zeros(50, dtype=np.int8), "amount": np.arange(50.0)}))
    assert got.positives == 0 and got.positive_rate == 0.0 and got.positive_ci_low == 0.0
    assert got.positive_ci_high == pytest.approx(_wilson(0, 50)[1])


def test_column_table_matches_pandas():
    frame = _small()
    frame["constant"] = 7.0
    frame["empty"] = np.nan
    roles = {"amount": "number", "label": "label", "country": "category", "timestamp": "datetime",
             "score": "number", "constant": "number", "empty": "number"}
    rows = {s.name: s for s in eda.column_table(frame, roles)}
    assert list(rows) == list(frame.columns)
    for name in ("amount", "score", "label"):
        col, got = frame[name], rows[name]
        assert got.missing_pct == pytest.approx(100 * col.isna().mean())
        assert got.distinct == col.nunique()
        assert (got.min, got.max) == (col.min(), col.max())
        assert got.median == pytest.approx(col.median()) and got.mean == pytest.approx(col.mean())
        assert got.std == pytest.approx(col.std(ddof=1))
    assert rows["label"].top_values == [(str(k), v) for k, v in frame["label"].value_counts().items()]
    country = rows["country"]
    assert (country.min, country.std) == (None, None) and country.distinct == frame["country"].nunique()
    counts = frame["country"].value_counts()
    assert country.top_values == [(str(k), int(v)) for k, v in counts.head(5).items()]
    assert rows["constant"].std == 0.0 and rows["constant"].distinct == 1
    assert rows["empty"].missing_pct == 100.0 and rows["empty"].distinct == 0 and rows["empty"].mean is None
    stamp = rows["timestamp"]
    assert stamp.first == frame["timestamp"].min().isoformat()
    assert stamp.distinct == frame["timestamp"].nunique()


def test_column_table_on_two_rows():
    rows = eda.column_table(pd.DataFrame({"amount": [1.0, 3.0], "country": ["a", "a"]}), {})
    assert rows[0].median == 2.0 and rows[0].std == pytest.approx(math.sqrt(2))
    assert rows[1].role == "category" and rows[1].top_values == [("a", 2)]


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------

def test_histogram_matches_numpy_and_counts_missing():
    frame = _small()
    got = eda.histogram(frame, "amount", bins=25)
    values = frame["amount"].dropna().to_numpy()
    counts, edges = np.histogram(values, bins=25)
    assert got.series["all"] == counts.tolist()
    assert got.edges == pytest.approx(edges.tolist())
    assert got.n_missing == frame["amount"].isna().sum() and got.n_excluded == 0


def test_log_histogram_bins_log10_and_excludes_non_positive_values():
    frame = pd.DataFrame({"amount": [-1.0, 0.0, 1.0, 10.0, 100.0, 1000.0, np.nan, np.inf]})
    got = eda.histogram(frame, "amount", bins=3, log_x=True)
    assert got.edges == pytest.approx([1, 10, 100, 1000])
    assert got.series["all"] == [1, 1, 2]
    assert (got.n_missing, got.n_excluded) == (1, 3)


def test_histogram_by_label_with_density_integrates_to_one_per_class():
    frame = _small()
    got = eda.histogram(frame, "amount", bins=30, log_x=True, by_label=True, density=True)
    widths = np.diff(np.log10(got.edges))
    for key in ("legit", "fraud"):
        assert float(np.sum(np.array(got.series[key]) * widths)) == pytest.approx(1.0)
    counts = eda.histogram(frame, "amount", bins=30, by_label=True)
    n_fraud = int(frame.loc[frame["amount"].notna(), "label"].sum())
    assert sum(counts.series["fraud"]) == n_fraud
    assert sum(counts.series["legit"]) == frame["amount"].notna().sum() - n_fraud


def test_histogram_edge_cases():
    constant = eda.histogram(pd.DataFrame({"x": [5.0] * 4}), "x")
    assert constant.edges == [4.5, 5.5] and constant.series["all"] == [4]
    empty = eda.histogram(pd.DataFrame({"x": [np.nan, np.nan]}), "x")
    assert empty.edges == [] and empty.series == {"all": []} and empty.n_missing == 2
    with pytest.raises(ExploreError, match="country"):
        eda.histogram(_small(), "country")
    with pytest.raises(ExploreError, match="bins"):
        eda.histogram(_small(), "amount", bins=0)
    with pytest.raises(ExploreError, match="label"):
        eda.histogram(pd.DataFrame({"x": [1.0]}), "x", by_label=True)
    with pytest.raises(ExploreError, match="nope"):
        eda.histogram(_small(), "nope")


def test_category_bars_top_levels_other_and_missing_match_groupby():
    frame = _small()
    got = eda.category_bars(frame, "country", top_n=3)
    by = frame.assign(country=frame["country"].astype(object).fillna(eda.MISSING_LEVEL))
    stats = by.groupby("country")["label"].agg(["size", "sum"])
    stats = stats.sort_values("size", ascending=False, kind="stable")
    assert got.categories == list(stats.index[:3]) + ["other"]
    assert got.counts == stats["size"].iloc[:3].tolist() + [int(stats["size"].iloc[3:].sum())]
    assert got.positives == stats["sum"].iloc[:3].tolist() + [int(stats["sum"].iloc[3:].sum())]
    assert sum(got.counts) == len(frame) and got.n_other_levels == len(stats) - 3
    for i in range(4):
        assert got.fraud_rate[i] == pytest.approx(got.positives[i] / got.counts[i])
        assert (got.ci_low[i], got.ci_high[i]) == pytest.approx(_wilson(got.positives[i], got.counts[i]))
    assert got.overall_rate == pytest.approx(frame["label"].mean())
    assert eda.MISSING_LEVEL in eda.category_bars(frame, "country", top_n=50).categories


def test_category_bars_without_label_and_with_a_real_level_called_other():
    frame = pd.DataFrame({"c": ["other"] * 5 + ["a"] * 3 + ["b"]})
    got = eda.category_bars(frame, "c", top_n=2)
    assert got.categories == ["other", "a", "(other)"] and got.counts == [5, 3, 1]
    assert got.fraud_rate == [None, None, None] and got.overall_rate is None


def test_fraud_by_segment_adds_lift_and_needs_a_label(synth):
    frame, _, _ = synth
    got = eda.fraud_by_segment(frame, "merchant_id", top_n=10)
    assert len(got.categories) == 11 and got.categories[-1] == "other"
    assert got.counts[:10] == sorted(got.counts[:10], reverse=True)
    overall = frame["label"].mean()
    assert got.lift == pytest.approx([r / overall for r in got.fraud_rate])
    with pytest.raises(ExploreError, match="label"):
        eda.fraud_by_segment(frame.drop(columns="label"), "country")


# --------------------------------------------------------------------------------------------
# Correlations and association with the label
# --------------------------------------------------------------------------------------------

def test_pearson_matches_numpy_on_complete_rows():
    frame = _small()
    got = eda.correlations(frame, ["amount", "score", "label"], "pearson")
    complete = frame[["amount", "score", "label"]].dropna().to_numpy(dtype=float)
    assert got.n_used == len(complete) and not got.sampled
    assert np.array(got.values) == pytest.approx(np.corrcoef(complete, rowvar=False))


def test_spearman_matches_scipy_on_full_data_and_samples_large_frames():
    frame = _small()
    got = eda.correlations(frame, ["amount", "score"], "spearman")
    complete = frame[["amount", "score"]].dropna()
    assert got.values[0][1] == pytest.approx(spearmanr(complete["amount"], complete["score"]).statistic)
    sampled = eda.correlations(frame, ["amount", "score"], "spearman", sample_rows=100, seed=1)
    assert sampled.sampled and sampled.n_used == 100 and -1 <= sampled.values[0][1] <= 1
    assert sampled == eda.correlations(frame, ["amount", "score"], "spearman", sample_rows=100, seed=1)


def test_correlations_edge_cases():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 1.0], "c": [4.0, 4.0], "s": ["x", "y"]})
    got = eda.correlations(frame, ["a", "b", "c"], "pearson")
    assert got.values[0][1] == pytest.approx(-1.0)
    assert got.values[2] == [None, None, None]  # a constant column has no correlation
    with pytest.raises(ExploreError, match="'s'"):
        eda.correlations(frame, ["a", "s"])
    with pytest.raises(ExploreError, match="kendall"):
        eda.correlations(frame, ["a"], "kendall")
    assert eda.correlations(frame.iloc[:1], ["a", "b"]).values == [[None, None], [None, None]]


def test_cramers_v_matches_chi2_contingency():
    table = np.array([[30, 10, 5], [10, 40, 5], [2, 3, 20]])
    chi2 = chi2_contingency(table, correction=False)[0]
    n = table.sum()
    assert eda.cramers_v(table) == pytest.approx(math.sqrt(chi2 / (n * 2)))
    phi2 = max(0.0, chi2 / n - 4 / (n - 1))
    k = 3 - 4 / (n - 1)
    assert eda.cramers_v(table, bias_corrected=True) == pytest.approx(math.sqrt(phi2 / (k - 1)))
    assert eda.cramers_v(np.array([[5, 0], [7, 0]])) is None  # one column is empty: below 2 x 2


def test_cramers_v_matrix_caps_levels_and_treats_missing_as_a_level():
    rng = np.random.default_rng(2)
    a = pd.Series(rng.choice(list("abcde"), 3000, p=[.4, .3, .2, .05, .05]))
    b = pd.Series(np.where(rng.random(3000) < 0.7, a, rng.choice(list("xyz"), 3000)))
    a[rng.random(3000) < 0.05] = None
    frame = pd.DataFrame({"a": a.astype("category"), "b": b.astype("category")})
    got = eda.cramers_v_matrix(frame, ["a", "b"], max_levels=3)
    capped = frame["a"].astype(object).where(frame["a"].isin(["a", "b", "c"]) | frame["a"].isna(), "rest")
    table = pd.crosstab(capped.fillna("missing"), frame["b"].astype(str).where(
        frame["b"].isin(["a", "b", "c"]), "rest")).to_numpy()
    chi2 = chi2_contingency(table, correction=False)[0]
    expected = math.sqrt(chi2 / (3000 * (min(table.shape) - 1)))
    assert got.values[0][1] == got.values[1][0] == pytest.approx(expected)
    assert got.values[0][0] == got.values[1][1] == 1.0 and got.n_used == 3000


def test_label_association_matches_reference_measures_and_is_sorted():
    frame = _small()
    roles = {"amount": "number", "label": "label", "country": "category", "timestamp": "datetime",
             "score": "number"}
    got = {a.feature: a for a in eda.label_association(frame, roles)}
    assert set(got) == {"amount", "score", "country"}
    ok = frame["score"].notna()
    assert got["score"].value == pytest.approx(np.corrcoef(frame["score"], frame["label"])[0, 1])
    assert got["score"].auc == pytest.approx(roc_auc_score(frame["label"][ok], frame["score"][ok]))
    ok = frame["amount"].notna()
    assert got["amount"].n == ok.sum()
    assert got["amount"].auc == pytest.approx(roc_auc_score(frame["label"][ok], frame["amount"][ok]))
    table = pd.crosstab(frame["country"].astype(object).fillna("?"), frame["label"]).to_numpy()
    chi2 = chi2_contingency(table, correction=False)[0]
    assert got["country"].value == pytest.approx(math.sqrt(chi2 / len(frame)))
    values = [abs(a.value) for a in eda.label_association(frame, roles)]
    assert values == sorted(values, reverse=True)
    with pytest.raises(ExploreError, match="label"):
        eda.label_association(frame.drop(columns="label"), roles)


def test_numeric_auc_sample_is_close_to_the_full_auc():
    rng = np.random.default_rng(5)
    y = rng.random(50_000) < 0.02
    x = rng.normal(size=50_000) + y
    full = roc_auc_score(y, x)
    assert eda.numeric_auc(x, y, sample_rows=10**6) == pytest.approx(full)
    assert eda.numeric_auc(x, y, sample_rows=4000, seed=1) == pytest.approx(full, abs=0.03)
    assert eda.numeric_auc(x, np.zeros(50_000, bool)) is None


def test_category_auc_is_out_of_fold():
    rng = np.random.default_rng(6)
    y = rng.random(4000) < 0.3
    assert eda.category_auc(y.astype(np.int64), y) == pytest.approx(1.0)
    assert eda.category_auc(rng.integers(0, 5, 4000), y) == pytest.approx(0.5, abs=0.05)
    # One level per row is perfect in sample but worthless out of fold.
    assert eda.category_auc(np.arange(4000), y) == pytest.approx(0.5, abs=0.01)


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------

def test_time_profile_matches_pandas_groupby():
    frame = _small()
    got = eda.time_profile(frame)
    ok = frame[frame["timestamp"].notna()]
    daily = ok.groupby(ok["timestamp"].dt.date).agg(count=("label", "size"), pos=("label", "sum"),
                                                     amount=("amount", "sum"))
    days = pd.date_range(ok["timestamp"].min().normalize(), ok["timestamp"].max().normalize())
    daily = daily.reindex(days.date, fill_value=0)
    assert got.period == "day" and got.daily["date"] == [str(d) for d in days.date]
    assert got.daily["count"] == daily["count"].tolist()
    assert got.daily["amount"] == pytest.approx(daily["amount"].tolist())
    assert got.daily["fraud_rate"] == [p / c if c else None for p, c in zip(daily["pos"], daily["count"])]
    hourly = ok.groupby(ok["timestamp"].dt.hour)["label"].agg(["size", "mean"]).reindex(range(24))
    assert got.hourly["count"] == hourly["size"].fillna(0).astype(int).tolist()
    assert got.hourly["fraud_rate"] == pytest.approx([None if pd.isna(v) else v for v in hourly["mean"]])
    weekday = ok.groupby(ok["timestamp"].dt.day_of_week)["label"].agg(["size", "mean"]).reindex(range(7))
    assert got.weekday["day"][0] == "Mon"
    assert got.weekday["count"] == weekday["size"].fillna(0).astype(int).tolist()
    assert got.n_missing == frame["timestamp"].isna().sum()


def test_zone_aware_times_are_read_as_utc():
    stamps = pd.Series(pd.to_datetime(["2026-03-01 23:30", "2026-03-02 00:30"]))
    stamps = stamps.dt.tz_localize("Europe/Berlin")
    frame = pd.DataFrame({"timestamp": stamps, "label": [0, 1]})
    assert eda.overview(frame).time_start == "2026-03-01T22:30:00"
    got = eda.time_profile(frame)
    assert got.daily["date"] == ["2026-03-01"] and got.hourly["count"][22:] == [1, 1]


def test_time_profile_without_timestamp_and_long_spans():
    assert eda.time_profile(pd.DataFrame({"amount": [1.0]})) is None
    no_times = pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]")
    assert eda.time_profile(pd.DataFrame({"timestamp": no_times})) is None
    stamps = pd.to_datetime(["2020-01-01", "2024-12-31", "2022-06-15"])
    weekly = eda.time_profile(pd.DataFrame({"timestamp": stamps}), max_points=400)
    assert weekly.period == "week" and sum(weekly.daily["count"]) == 3
    assert weekly.daily["date"][0] == "2019-12-30"  # the Monday of 2020-01-01's week
    monthly = eda.time_profile(pd.DataFrame({"timestamp": stamps}), max_points=100)
    assert monthly.period == "month" and len(monthly.daily["date"]) == 60
    assert monthly.daily["date"][0] == "2020-01-01"
    assert monthly.daily["fraud_rate"][0] is None and monthly.daily["amount"][0] is None


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

def _results(frame: pd.DataFrame, roles: dict[str, str]) -> list[JsonResult]:
    return [
        eda.overview(frame), *eda.column_table(frame, roles),
        eda.histogram(frame, "amount", log_x=True, by_label=True, density=True),
        eda.histogram(frame, "amount"), eda.category_bars(frame, "country"),
        eda.fraud_by_segment(frame, "merchant_id"),
        eda.correlations(frame, ["amount", "label"], "spearman", sample_rows=1000),
        eda.cramers_v_matrix(frame, ["country", "device_type", "merchant_category"]),
        *eda.label_association(frame, roles), eda.time_profile(frame),
    ]


def test_every_result_round_trips_through_json(synth):
    frame, roles, _ = synth
    for result in _results(frame, roles):
        text = json.dumps(result.to_dict(), allow_nan=False)
        back = type(result).from_dict(json.loads(text))
        assert back == result, type(result).__name__
        assert back.to_dict() == result.to_dict()


def test_results_stay_small_for_the_page(synth):
    frame, roles, _ = synth
    for result in _results(frame, roles):
        assert len(json.dumps(result.to_dict())) < 20_000, type(result).__name__
