"""Tests for core.quality: each warning fires on a minimal frame and stays quiet on clean data."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import quality
from core.explore_frame import analysis_frame, column_roles
from core.mapping import apply_mapping, suggest_mapping
from core.quality import QualityWarning, quality_warnings
from core.synth import SynthConfig, generate

NOW = "2026-06-01"  # after every simulated timestamp (the simulator starts 2026-01-01)


def _synth(rows: int, seed: int) -> tuple[pd.DataFrame, dict[str, str]]:
    raw = generate(SynthConfig(rows=rows, seed=seed))
    mapping = suggest_mapping(raw).to_mapping()
    frame = analysis_frame(apply_mapping(raw, mapping)[0], mapping)
    return frame, column_roles(frame, mapping)


def _clean(n: int = 2000, positives: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """A small frame that should raise no warning: unique rows, sorted times, both classes."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < positives).astype(np.int8)
    return pd.DataFrame({
        "amount": np.round(rng.lognormal(3, 1, n), 2),
        "label": label,
        "country": pd.Categorical(rng.choice(["GB", "DE", "FR", "NG"], n)),
        "user_id": pd.Categorical([f"U{i}" for i in rng.integers(0, n // 20, n)]),
        "timestamp": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n) * 60, unit="s"),
    })


ROLES = {"amount": "number", "label": "label", "country": "category", "user_id": "id",
         "timestamp": "datetime"}


def _warn(frame: pd.DataFrame, roles: dict[str, str] | None = None, **kwargs) -> dict[str, QualityWarning]:
    found = quality_warnings(frame, {**ROLES, **(roles or {})}, now=kwargs.pop("now", NOW), **kwargs)
    return {w.code: w for w in found}


# --------------------------------------------------------------------------------------------
# No false alarms
# --------------------------------------------------------------------------------------------

def test_clean_frames_raise_no_warning():
    assert _warn(_clean()) == {}


@pytest.mark.parametrize("seed", [3, 11])
def test_simulated_data_raises_no_warning(seed):
    frame, roles = _synth(20_000, seed)
    assert quality_warnings(frame, roles, now=NOW) == []


def test_simulated_data_raises_only_the_expected_warnings():
    # A tiny simulation has 1% fraud of 5,000 rows: too few positives, and nothing else.
    frame, roles = _synth(5_000, 1)
    assert [w.code for w in quality_warnings(frame, roles, now=NOW)] == ["too_few_positives"]
    # Judged from a "now" inside the simulated quarter, its later rows are in the future.
    frame, roles = _synth(20_000, 3)
    found = quality_warnings(frame, roles, now="2026-02-01")
    assert [w.code for w in found] == ["future_timestamps"]
    assert f"{int((frame['timestamp'] > '2026-02-02').sum()):,} rows" in found[0].explanation


# --------------------------------------------------------------------------------------------
# Label
# --------------------------------------------------------------------------------------------

def test_single_class_replaces_the_other_label_warnings():
    frame = _clean()
    frame["label"] = np.int8(0)
    found = _warn(frame)
    assert list(found) == ["single_class"] and found["single_class"].severity == "high"
    assert "legitimate" in found["single_class"].explanation and found["single_class"].columns == ["label"]


def test_extreme_imbalance_severity_follows_the_positive_share():
    frame = _clean(n=100_000, positives=0)
    frame.loc[:199, "label"] = 1  # 0.2%
    found = _warn(frame)
    assert list(found) == ["extreme_imbalance"] and found["extreme_imbalance"].severity == "medium"
    assert "0.200%" in found["extreme_imbalance"].explanation
    assert "1 in 500" in found["extreme_imbalance"].explanation
    frame["label"] = np.int8(0)
    frame.loc[:0, "label"] = 1  # 0.001%
    assert _warn(frame)["extreme_imbalance"].severity == "high"


def test_majority_positive_suggests_an_inverted_label():
    frame = _clean(positives=0.9)
    found = _warn(frame)
    assert list(found) == ["majority_positive"] and "1 means fraud" in found["majority_positive"].explanation


@pytest.mark.parametrize(("positives", "severity"), [(50, "medium"), (10, "high")])
def test_too_few_positives(positives, severity):
    frame = _clean(n=2000, positives=0)
    frame.loc[: positives - 1, "label"] = 1
    found = _warn(frame)
    assert found["too_few_positives"].severity == severity
    assert f"Only {positives} fraud rows" in found["too_few_positives"].explanation


def test_no_rows_and_no_label():
    assert list(_warn(_clean().iloc[:0])) == ["no_rows"]
    assert _warn(_clean().drop(columns="label")) == {}


# --------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------

def test_high_missingness_lists_columns_worst_first():
    frame = _clean()
    frame["v1"] = np.where(np.arange(2000) % 10 < 3, np.nan, 1.0 * np.arange(2000) / 7)  # 30% empty
    frame.loc[frame.index % 10 < 6, "amount"] = np.nan  # 60% empty
    found = _warn(frame, {"v1": "number"})
    warning = found["high_missingness"]
    assert warning.columns == ["amount", "v1"] and warning.severity == "high"
    assert "'amount' 60%" in warning.explanation and "'v1' 30%" in warning.explanation
    frame["amount"] = 1.5 + np.arange(2000)
    assert _warn(frame, {"v1": "number"})["high_missingness"].severity == "medium"


def test_an_all_missing_column_is_missing_not_constant():
    frame = _clean()
    frame["empty"] = np.nan
    found = _warn(frame, {"empty": "number"})
    assert set(found) == {"high_missingness"} and found["high_missingness"].columns == ["empty"]


def test_constant_and_near_constant_columns():
    frame = _clean()
    frame["channel"] = pd.Categorical(["web"] * 2000)
    frame["rate"] = 3.0
    frame["flag"] = pd.Categorical(["n"] * 1995 + ["y"] * 5)
    frame["v2"] = np.r_[np.zeros(1996), np.arange(1, 5.0)]
    found = _warn(frame, {"channel": "category", "rate": "number", "flag": "category", "v2": "number"})
    assert found["constant_columns"].columns == ["channel", "rate"]
    assert found["constant_columns"].severity == "medium"
    assert found["near_constant_columns"].columns == ["flag", "v2"]
    assert "'flag' 99.8%" in found["near_constant_columns"].explanation
    frame["flag"] = pd.Categorical(["n"] * 1980 + ["y"] * 20)  # 99.0%: a rare flag, not near-constant
    frame = frame.drop(columns="v2")
    roles = {"channel": "category", "rate": "number", "flag": "category"}
    assert "near_constant_columns" not in _warn(frame, roles)


@pytest.mark.parametrize(("copies", "severity"), [(1, "low"), (10, "medium"), (200, "high")])
def test_duplicate_rows(copies, severity):
    frame = _clean()
    frame = pd.concat([frame, frame.iloc[:copies]], ignore_index=True)
    found = _warn(frame, now="2027-01-01")
    assert found["duplicate_rows"].severity == severity
    assert found["duplicate_rows"].explanation.startswith(f"{frame.duplicated().sum():,} rows")
    assert "duplicate_rows" not in _warn(frame, duplicate_rows=0, now="2027-01-01")


def test_id_like_features_but_not_continuous_numbers_or_canonical_ids():
    frame = _clean()
    rng = np.random.default_rng(1)
    frame["email"] = pd.Categorical([f"user{i}@mail.com" for i in range(2000)])
    frame["row_no"] = np.arange(2000, dtype=float)
    frame["ratio"] = rng.random(2000)  # unique, but a real measurement
    frame["amount"] = np.arange(2000, dtype=float) + 1  # canonical: never ID-like
    frame["user_id"] = pd.Categorical([f"U{i}" for i in range(2000)])  # an id by role
    roles = {"email": "category", "row_no": "number", "ratio": "number"}
    found = _warn(frame, roles)
    assert list(found) == ["id_like_features"]
    assert found["id_like_features"].columns == ["email", "row_no"]
    assert "'email' 100% distinct" in found["id_like_features"].explanation


def test_a_transaction_id_left_in_the_frame_is_not_a_feature():
    frame = _clean()
    frame["transaction_id"] = [f"T{i}" for i in range(2000)]
    assert _warn(frame) == {}


def test_possible_leakage_for_a_number_and_for_a_pure_category():
    frame = _clean(positives=0.1)
    rng = np.random.default_rng(2)
    y = frame["label"].to_numpy()
    frame["chargeback_amount"] = y * 50.0 + rng.random(2000)
    status = np.where(y == 1, "charged_back", "ok")
    status[:5] = "charged_back"  # a few mistakes keep it "nearly" pure
    frame["status"] = pd.Categorical(status)
    frame["noise"] = rng.normal(size=2000)
    found = _warn(frame, {"chargeback_amount": "number", "status": "category", "noise": "number"})
    assert list(found) == ["possible_leakage"] and found["possible_leakage"].severity == "high"
    assert found["possible_leakage"].columns == ["chargeback_amount", "status"]
    assert "AUC 1.000" in found["possible_leakage"].explanation


def test_a_perfectly_predictive_id_is_not_called_leakage():
    frame = _clean(positives=0.1)
    frame["user_id"] = pd.Categorical(np.where(frame["label"] == 1, "bad", "good"))
    assert "possible_leakage" not in _warn(frame)


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------

def test_future_timestamps_respect_now_and_a_day_of_grace():
    frame = _clean()
    last = frame["timestamp"].max()
    assert "future_timestamps" not in _warn(frame, now=last - pd.Timedelta(hours=12))
    found = _warn(frame, now=last - pd.Timedelta(days=1, minutes=30))
    assert found["future_timestamps"].explanation.startswith("30 rows")
    assert found["future_timestamps"].columns == ["timestamp"]
    aware = (last - pd.Timedelta(days=1, minutes=30)).tz_localize("UTC").tz_convert("Asia/Tokyo")
    assert "future_timestamps" in _warn(frame, now=aware)
    assert "future_timestamps" not in _warn(frame, now=None)  # the real clock is past 2026-01-02


def test_future_timestamps_in_a_zone_aware_column():
    frame = _clean()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("Asia/Tokyo")  # 9 hours ahead of UTC
    # The last row is 2026-01-02 09:19 in Tokyo, 00:19 UTC: inside the grace day of 01:00 UTC.
    assert "future_timestamps" not in _warn(frame, now="2026-01-01 01:00")
    assert "future_timestamps" in _warn(frame, now="2025-12-31 23:00")


def test_timestamps_out_of_order():
    frame = _clean()
    frame.loc[[10, 11], "timestamp"] = frame.loc[[11, 10], "timestamp"].to_numpy()
    frame.loc[20, "timestamp"] = pd.NaT
    found = _warn(frame)
    assert list(found) == ["timestamps_out_of_order"] and found["timestamps_out_of_order"].severity == "low"
    assert found["timestamps_out_of_order"].explanation.startswith("1 rows")
    assert _warn(_clean().drop(columns="timestamp")) == {}


# --------------------------------------------------------------------------------------------
# Order, edge cases, JSON
# --------------------------------------------------------------------------------------------

def test_warnings_come_most_severe_first_and_round_trip_through_json():
    frame = _clean(n=2000, positives=0)
    frame.loc[:9, "label"] = 1
    frame["rate"] = 3.0
    frame.loc[[10, 11], "timestamp"] = frame.loc[[11, 10], "timestamp"].to_numpy()
    found = quality_warnings(frame, {**ROLES, "rate": "number"}, now=NOW)
    assert [w.severity for w in found] == sorted((w.severity for w in found), key=quality.SEVERITIES.index)
    assert {w.code for w in found} == {"too_few_positives", "constant_columns", "timestamps_out_of_order"}
    for warning in found:
        assert QualityWarning.from_dict(json.loads(json.dumps(warning.to_dict(), allow_nan=False))) == warning


def test_two_rows():
    frame = _clean().iloc[[0, 1]].reset_index(drop=True)
    frame["label"] = np.array([0, 1], dtype=np.int8)
    frame["country"] = pd.Categorical(["GB", "GB"])
    frame["user_id"] = pd.Categorical(["U1", "U2"])
    found = _warn(frame)
    assert list(found) == ["too_few_positives", "constant_columns"]
    assert found["too_few_positives"].severity == "high" and found["constant_columns"].columns == ["country"]
