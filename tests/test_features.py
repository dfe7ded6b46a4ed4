"""Tests for the feature pipeline: hand-computed values, causality, label delay, train/score consistency."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import TxlabError
from core.features import (
    RISK_PRIOR_RATE,
    RISK_PRIOR_WEIGHT,
    TIME_FEATURES,
    BehaviourState,
    FeatureConfig,
    FeatureConfigError,
    FeatureDataError,
    build_features,
    feature_columns,
)
from core.synth import SynthConfig, generate

CONFIG = FeatureConfig()  # windows 1, 7, 30 days; labels delayed 7 days
FAMILIES = {
    "user windows": ("user_count_", "user_amount_mean_", "user_amount_std_", "user_amount_rel"),
    "merchant windows": ("merchant_count_", "merchant_amount_mean_", "merchant_amount_std_"),
    "novelty": ("user_new_",),
    "time since previous": ("user_log_seconds_since_prev", "user_first_tx"),
    "merchant risk": ("merchant_labelled_", "merchant_fraud_rate_"),
}


def _mapped(rows: int = 20_000, seed: int = 11) -> pd.DataFrame:
    """A generated frame with canonical names: 60 days, few users and merchants, so history is rich."""
    config = SynthConfig(rows=rows, seed=seed, users=250, merchants=40, days=60, fraud_rate=0.05)
    return generate(config).rename(columns={"is_fraud": "label"}).drop(columns="merchant_category")


def _by_id(frame: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Features indexed by transaction id, to compare frames whose rows were shuffled or dropped."""
    return features.set_index(pd.Index(frame["transaction_id"].to_numpy()))


def _family(columns: list[str], family: str) -> list[str]:
    return [c for c in columns if c.startswith(FAMILIES[family])]


def _rate(labelled: int, frauds: int) -> float:
    return (frauds + RISK_PRIOR_WEIGHT * RISK_PRIOR_RATE) / (labelled + RISK_PRIOR_WEIGHT)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _mapped()


@pytest.fixture(scope="module")
def features(frame: pd.DataFrame) -> pd.DataFrame:
    return _by_id(frame, build_features(frame, CONFIG))


# --- a tiny frame, computed by hand -----------------------------------------------------------

MONDAY = pd.Timestamp("2026-01-05")
# id, day, hour, user, merchant, amount, country, device, label
TINY = [
    ("r0", 0, 10, "u1", "m1", 10.0, "GB", "web", 0),
    ("r1", 0, 11, "u1", "m2", 30.0, "GB", "web", 1),
    ("r2", 0, 12, "u2", "m1", 20.0, "FR", "pos", 0),
    ("r3", 1, 9, "u1", "m1", 50.0, "DE", "web", 0),
    ("r4", 2, 11, "u1", "m1", 20.0, "GB", "mobile_app", 0),
    ("r5", 2, 11, "u3", "m1", np.nan, "GB", "pos", 0),
    ("r6", 3, 23, "u2", "m2", 40.0, "FR", "pos", 1),
    ("r7", 9, 8, "u1", "m1", 10.0, "GB", "web", 0),
    ("r8", 1, 11, "u3", "m2", 5.0, "GB", "web", 0),
]
TINY_CONFIG = FeatureConfig(windows_days=(1, 7), label_delay_days=1)


@pytest.fixture(scope="module")
def tiny() -> pd.DataFrame:
    """The hand-computed rows in a scrambled order, under a non-default index."""
    frame = pd.DataFrame(TINY, columns=["transaction_id", "day", "hour", "user_id", "merchant_id", "amount",
                                        "country", "device_type", "label"])
    frame["timestamp"] = MONDAY + pd.to_timedelta(frame["day"] * 24 + frame["hour"], unit="h")
    for column in ("transaction_id", "user_id", "merchant_id", "country", "device_type"):
        frame[column] = frame[column].astype("str")
    frame = frame.drop(columns=["day", "hour"]).iloc[[5, 2, 8, 0, 7, 3, 1, 6, 4]]
    return frame.set_index(pd.Index([10, 3, 7, 1, 9, 4, 8, 2, 6]))


@pytest.fixture(scope="module")
def tiny_features(tiny: pd.DataFrame) -> pd.DataFrame:
    return _by_id(tiny, build_features(tiny, TINY_CONFIG))


def _expect(features: pd.DataFrame, columns: list[str], expected: dict[str, tuple]) -> None:
    got = features.loc[list(expected), columns].to_numpy(dtype=np.float64)
    np.testing.assert_allclose(got, np.array(list(expected.values()), dtype=np.float64), rtol=1e-5, atol=1e-5)


def test_tiny_user_windows(tiny_features: pd.DataFrame) -> None:
    columns = ["user_count_1d", "user_amount_mean_1d", "user_amount_std_1d",
               "user_count_7d", "user_amount_mean_7d", "user_amount_std_7d"]
    _expect(tiny_features, columns, {
        "r0": (0, 0, 0, 0, 0, 0),
        "r1": (1, 10, 0, 1, 10, 0),
        "r3": (2, 20, 10, 2, 20, 10),
        "r4": (0, 0, 0, 3, 30, np.sqrt(800 / 3)),  # r3 was 26 h earlier: outside the 1-day window
        "r5": (0, 0, 0, 1, 5, 0),  # r8 exactly one day earlier: the window (t - 1d, t) is open
        "r6": (0, 0, 0, 1, 20, 0),
        "r7": (0, 0, 0, 1, 20, 0),
    })
    rel = tiny_features["user_amount_rel"]
    assert rel["r1"] == pytest.approx(np.log1p(30) - np.log1p(10), rel=1e-5)
    assert rel["r7"] == pytest.approx(np.log1p(10) - np.log1p(20), rel=1e-5)
    assert rel["r0"] == 0 and rel["r5"] == 0  # no history; missing amount


def test_tiny_merchant_windows(tiny_features: pd.DataFrame) -> None:
    columns = ["merchant_count_1d", "merchant_amount_mean_1d", "merchant_amount_std_1d",
               "merchant_count_7d", "merchant_amount_mean_7d", "merchant_amount_std_7d"]
    m1_week = np.array([10.0, 20.0, 50.0])
    _expect(tiny_features, columns, {
        "r0": (0, 0, 0, 0, 0, 0),
        "r2": (1, 10, 0, 1, 10, 0),
        "r3": (2, 15, 5, 2, 15, 5),
        "r4": (0, 0, 0, 3, m1_week.mean(), m1_week.std()),
        "r5": (0, 0, 0, 3, m1_week.mean(), m1_week.std()),  # r4 has the same time: not earlier
        "r7": (0, 0, 0, 2, 20, 0),  # r5 counts as a transaction, its missing amount not in the mean
        "r8": (0, 0, 0, 1, 30, 0),
        "r6": (0, 0, 0, 2, 17.5, 12.5),
    })


def test_tiny_novelty(tiny_features: pd.DataFrame) -> None:
    _expect(tiny_features, ["user_new_merchant", "user_new_country", "user_new_device"], {
        "r0": (1, 1, 1), "r1": (1, 0, 0), "r2": (1, 1, 1), "r3": (0, 1, 0), "r4": (0, 0, 1),
        "r5": (1, 0, 1), "r6": (1, 0, 0), "r7": (0, 0, 0), "r8": (1, 1, 1),
    })


def test_tiny_time_since_previous(tiny_features: pd.DataFrame) -> None:
    seconds = {"r1": 3600, "r3": 22 * 3600, "r4": 26 * 3600, "r5": 86_400, "r6": 3 * 86_400 + 11 * 3600,
               "r7": 7 * 86_400 - 3 * 3600}
    _expect(tiny_features, ["user_log_seconds_since_prev", "user_first_tx"],
            {**{r: (np.log1p(s), 0) for r, s in seconds.items()}, **{r: (0, 1) for r in ("r0", "r2", "r8")}})


def test_tiny_merchant_risk(tiny_features: pd.DataFrame) -> None:
    columns = ["merchant_labelled_1d", "merchant_fraud_rate_1d", "merchant_labelled_7d", "merchant_fraud_rate_7d"]
    prior = RISK_PRIOR_RATE
    _expect(tiny_features, columns, {
        "r3": (0, prior, 0, prior),
        "r4": (2, _rate(2, 0), 3, _rate(3, 0)),  # labels before d1 11:00; 1 day back from there
        "r7": (0, prior, 3, _rate(3, 0)),
        "r8": (0, prior, 0, prior),  # r1 is exactly one delay earlier: [t - d - w, t - d) excludes it
        "r6": (0, prior, 2, _rate(2, 1)),
    })


def test_risk_window_includes_its_oldest_edge() -> None:
    stamps = pd.to_datetime(["2026-01-01 00:00:00", "2026-01-03 00:00:00", "2026-01-03 00:00:01"])
    frame = pd.DataFrame({"timestamp": stamps, "merchant_id": pd.Series(["m"] * 3, dtype="str"),
                          "amount": [1.0, 2.0, 3.0], "label": [1, 0, 0]})
    out = build_features(frame, FeatureConfig(windows_days=(1,), label_delay_days=1))
    assert out["merchant_labelled_1d"].tolist() == [0, 1, 0]


def test_time_features() -> None:
    stamps = pd.to_datetime(["2026-01-10 03:30", "2026-01-05 22:00", "2026-01-06 06:00", "2026-01-11 05:59", None])
    out = build_features(pd.DataFrame({"timestamp": stamps, "amount": 1.0}), CONFIG)
    assert list(out.columns) == list(TIME_FEATURES)
    assert out["hour_sin"][0] == pytest.approx(np.sin(2 * np.pi * 3.5 / 24), abs=1e-6)
    assert out["hour_cos"][1] == pytest.approx(np.cos(2 * np.pi * 22 / 24), abs=1e-6)
    assert out["dow_sin"][0] == pytest.approx(np.sin(2 * np.pi * 5 / 7), abs=1e-6)  # Saturday
    assert out["dow_cos"][1] == pytest.approx(1.0)  # Monday
    assert out["is_weekend"].tolist() == [1, 0, 0, 1, 0]
    assert out["is_night"].tolist() == [1, 1, 0, 1, 0]
    assert out["timestamp_missing"].tolist() == [0, 0, 0, 0, 1]
    assert out.iloc[4, :4].tolist() == [0, 0, 0, 0]


def test_hours_use_local_time_and_windows_the_instant(frame: pd.DataFrame) -> None:
    sample = frame.iloc[:3000]
    naive = build_features(sample, CONFIG)
    utc = build_features(sample.assign(timestamp=sample["timestamp"].dt.tz_localize("UTC")), CONFIG)
    pd.testing.assert_frame_equal(naive, utc)
    tokyo = build_features(sample.assign(timestamp=sample["timestamp"].dt.tz_localize("UTC")
                                         .dt.tz_convert("Asia/Tokyo")), CONFIG)
    behaviour = [c for c in naive.columns if c not in TIME_FEATURES]
    pd.testing.assert_frame_equal(tokyo[behaviour], naive[behaviour])
    assert not np.allclose(tokyo["hour_sin"], naive["hour_sin"])


# --- causality --------------------------------------------------------------------------------

def _scramble_after(frame: pd.DataFrame, t: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Rows after ``t`` altered (ids, amounts, labels, times), some dropped, rows added at and
    after ``t``, and the row order shuffled. Rows at or before ``t`` are left as they were."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    after = (out["timestamp"] > t).to_numpy()
    k = int(after.sum())
    for column in ("user_id", "merchant_id", "country", "device_type"):
        out.loc[after, column] = rng.permutation(out.loc[after, column].to_numpy())
    out.loc[after, "amount"] = out.loc[after, "amount"].to_numpy() * rng.uniform(0.1, 10.0, k)
    out.loc[after, "label"] = rng.integers(0, 2, k).astype(np.int8)
    out.loc[after, "timestamp"] = t + pd.to_timedelta(rng.integers(1, 20 * 86_400, k), unit="s")
    out = out.drop(index=out.index[after][rng.random(k) < 0.3])
    extra = frame.sample(600, random_state=seed).assign(label=np.int8(1))
    extra["transaction_id"] = pd.Series([f"X{i}" for i in range(600)], index=extra.index, dtype="str")
    offsets = np.where(np.arange(600) < 100, 0, rng.integers(1, 20 * 86_400, 600))
    extra["timestamp"] = t + pd.to_timedelta(offsets, unit="s")  # the first 100 at exactly t
    return pd.concat([out, extra]).sample(frac=1.0, random_state=seed)


@pytest.fixture(scope="module")
def scrambled(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]:
    t = frame["timestamp"].iloc[12_000]
    changed = _scramble_after(frame, t, seed=5)
    return t, changed, _by_id(changed, build_features(changed, CONFIG))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_features_ignore_everything_after_their_time(frame, features, scrambled, family: str) -> None:
    t, changed, changed_features = scrambled
    columns = _family(list(features.columns), family)
    assert columns
    early = frame.loc[frame["timestamp"] <= t, "transaction_id"]
    assert (frame["timestamp"] == t).sum() >= 1
    np.testing.assert_allclose(changed_features.loc[early, columns], features.loc[early, columns],
                               rtol=1e-5, atol=1e-4)
    # The scrambling does reach these features for later rows: the check above can fail.
    late = np.intersect1d(frame.loc[frame["timestamp"] > t, "transaction_id"], changed["transaction_id"])
    assert not np.allclose(changed_features.loc[late, columns], features.loc[late, columns], rtol=1e-5, atol=1e-4)


def test_labels_within_the_delay_do_not_move_risk(frame: pd.DataFrame, features: pd.DataFrame) -> None:
    t = frame["timestamp"].iloc[12_000]
    delay = pd.Timedelta(days=CONFIG.label_delay_days)
    risk = _family(list(features.columns), "merchant risk")
    early = frame.loc[frame["timestamp"] <= t, "transaction_id"]

    def flipped(low: pd.Timestamp, high: pd.Timestamp, closed: str) -> pd.DataFrame:
        rows = frame["timestamp"].between(low, high, inclusive=closed)
        assert rows.sum() > 100
        changed = frame.assign(label=np.where(rows, 1 - frame["label"], frame["label"]).astype(np.int8))
        return _by_id(changed, build_features(changed, CONFIG))

    recent = flipped(t - delay, t, "right")  # (t - delay, t]: not yet known at t
    np.testing.assert_allclose(recent.loc[early, risk], features.loc[early, risk], rtol=1e-6)
    older = flipped(t - delay - pd.Timedelta(days=1), t - delay, "left")  # known by t
    assert not np.allclose(older.loc[early, risk], features.loc[early, risk], rtol=1e-6)


# --- training and scoring agree ---------------------------------------------------------------

@pytest.fixture(scope="module")
def split(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame, BehaviourState]:
    cut = frame["timestamp"].min().normalize() + pd.Timedelta(days=40)
    first = frame[frame["timestamp"] < cut]
    second = frame[frame["timestamp"] >= cut]
    return cut, first, second, BehaviourState.from_frame(first, CONFIG)


def test_scoring_with_state_matches_training_features(features, split) -> None:
    cut, _, second, state = split
    scored = _by_id(second, build_features(second, CONFIG, state))
    ids = second["transaction_id"]
    label_free = [c for c in scored.columns if c not in _family(list(scored.columns), "merchant risk")]
    np.testing.assert_allclose(scored.loc[ids, label_free], features.loc[ids, label_free], rtol=1e-5, atol=1e-4)
    # Risk reads labels older than t - delay: for rows up to cut + delay those are all training labels.
    risk = _family(list(scored.columns), "merchant risk")
    known = second.loc[second["timestamp"] <= cut + pd.Timedelta(days=CONFIG.label_delay_days), "transaction_id"]
    assert len(known) > 1000 and (features.loc[known, "merchant_labelled_30d"] > 0).all()
    np.testing.assert_allclose(scored.loc[known, risk], features.loc[known, risk], rtol=1e-5, atol=1e-5)


def test_scoring_never_reads_the_frame_labels(split) -> None:
    _, _, second, state = split
    as_given = build_features(second, CONFIG, state)
    flipped = build_features(second.assign(label=1 - second["label"]), CONFIG, state)
    pd.testing.assert_frame_equal(as_given, flipped)
    pd.testing.assert_frame_equal(as_given, build_features(second.drop(columns="label"), CONFIG, state))


def test_state_is_compact_and_knows_its_end(split) -> None:
    _, first, _, state = split
    assert state.end == first["timestamp"].max()
    oldest = state.end - pd.Timedelta(days=CONFIG.history_days)
    assert state.rows["timestamp"].min() >= oldest
    assert len(state.rows) == (first["timestamp"] >= oldest).sum()
    assert len(state.last_seen) == first["user_id"].nunique()
    assert set(state.first_seen["field"]) == {"merchant_id", "country", "device_type"}


def test_state_round_trips_through_parquet(tmp_path, split) -> None:
    _, _, second, state = split
    tables = state.to_tables()
    for name, table in tables.items():
        assert not (table.dtypes == object).any(), name
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), tmp_path / f"{name}.parquet")
    loaded = BehaviourState.from_tables({n: pd.read_parquet(tmp_path / f"{n}.parquet") for n in tables})
    assert loaded.end == state.end and loaded.history_days == state.history_days
    pd.testing.assert_frame_equal(build_features(second, CONFIG, loaded), build_features(second, CONFIG, state))


@pytest.mark.parametrize("table, column", [("rows", None), ("first_seen", "value"), ("meta", "end")])
def test_state_tables_are_validated(split, table: str, column: str | None) -> None:
    tables = split[3].to_tables()
    if column is None:
        del tables[table]
    else:
        tables[table] = tables[table].drop(columns=column)
    with pytest.raises(FeatureConfigError, match=f"'{table}'.*{column or 'missing'}"):
        BehaviourState.from_tables(tables)


def test_state_with_too_little_history_is_refused(split) -> None:
    _, first, second, _ = split
    short = BehaviourState.from_frame(first, FeatureConfig(windows_days=(1, 7), label_delay_days=0))
    with pytest.raises(FeatureConfigError, match="7 days of history.*need 37"):
        build_features(second, CONFIG, short)
    time_only = BehaviourState.from_frame(first, FeatureConfig(behaviour=False))
    assert time_only.history_days == 0 and len(time_only.rows) == 0 and time_only.end == first["timestamp"].max()
    with pytest.raises(FeatureConfigError, match="0 days of history"):
        build_features(second, CONFIG, time_only)


def test_state_of_a_frame_without_time_scores_from_the_frame_alone(frame: pd.DataFrame) -> None:
    state = BehaviourState.from_frame(frame.drop(columns="timestamp"), CONFIG)
    assert state.end is None and len(state.rows) == 0
    part = frame.iloc[:2000]
    expected = build_features(part.drop(columns="label"), CONFIG)
    pd.testing.assert_frame_equal(build_features(part, CONFIG, state), expected)


# --- shape, missing values, robustness --------------------------------------------------------

@pytest.mark.parametrize("drop", [[], ["user_id"], ["merchant_id"], ["country", "device_type", "label"],
                                  ["user_id", "merchant_id"]])
def test_columns_match_feature_columns(frame: pd.DataFrame, drop: list[str]) -> None:
    part = frame.iloc[:3000].drop(columns=drop)
    out = build_features(part, CONFIG)
    assert list(out.columns) == feature_columns(list(part.columns), CONFIG)
    assert (out.dtypes == np.float32).all()
    assert np.isfinite(out.to_numpy()).all()


def test_feature_names_for_generated_data(frame: pd.DataFrame) -> None:
    names = feature_columns(list(frame.columns), CONFIG)
    assert len(names) == len(set(names)) == 7 + 3 * 3 + 3 + 3 + 3 * 3 + 2 * 3
    assert feature_columns(list(frame.columns), FeatureConfig(behaviour=False)) == list(TIME_FEATURES)
    assert feature_columns([c for c in frame.columns if c != "timestamp"], CONFIG) == []


def test_row_order_and_index(frame: pd.DataFrame, features: pd.DataFrame) -> None:
    shuffled = frame.sample(frac=1.0, random_state=3)
    out = build_features(shuffled, CONFIG)
    assert isinstance(out.index, pd.RangeIndex) and len(out) == len(frame)
    np.testing.assert_allclose(out.to_numpy(), features.loc[shuffled["transaction_id"]].to_numpy(),
                               rtol=1e-5, atol=1e-4)


def test_no_usable_time_gives_no_columns(frame: pd.DataFrame) -> None:
    part = frame.iloc[:50]
    assert build_features(part.drop(columns="timestamp"), CONFIG).shape == (50, 0)
    all_nat = part.assign(timestamp=pd.NaT).astype({"timestamp": "datetime64[ns]"})
    assert build_features(all_nat, CONFIG).shape == (50, 0)
    state = BehaviourState.from_frame(frame, CONFIG)
    scored = build_features(all_nat, CONFIG, state)  # scoring keeps the model's columns
    assert list(scored.columns) == feature_columns(list(part.columns), CONFIG)
    assert (scored["timestamp_missing"] == 1).all() and (scored["user_count_30d"] == 0).all()


def test_missing_ids_times_and_amounts() -> None:
    stamps = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 11:00", None, "2026-01-01 12:00", "2026-01-01 13:00",
                             "2026-01-01 14:00"])
    frame = pd.DataFrame({
        "timestamp": stamps,
        "user_id": pd.Series(["a", None, "a", None, "a", "a"], dtype="str"),
        "merchant_id": pd.Series(["m", "m", "m", None, "m", "m"], dtype="str"),
        "country": pd.Series(["GB", "GB", "FR", "GB", None, "FR"], dtype="str"),
        "amount": [10.0, np.nan, 5.0, 7.0, np.inf, 20.0],
        "label": [1, 0, 1, 0, 0, 0],
    })
    out = build_features(frame, FeatureConfig(windows_days=(1,), label_delay_days=0))
    assert np.isfinite(out.to_numpy()).all()
    # A missing user is no history (not one shared "unknown" user): neither row 1 nor row 3 sees the other.
    assert out.loc[[1, 3], "user_count_1d"].tolist() == [0, 0]
    assert out.loc[[1, 3], "user_first_tx"].tolist() == [1, 1]
    # The NaT row gets neutral values and is no one's history.
    neutral = ["timestamp_missing", "user_count_1d", "merchant_count_1d", "user_first_tx"]
    assert out.loc[2, neutral].tolist() == [1, 0, 0, 1]
    assert out.loc[5, "user_count_1d"] == 2 and out.loc[5, "user_amount_mean_1d"] == 10  # inf is no amount
    assert out.loc[5, "user_new_country"] == 1  # the FR of the NaT row is not known to be earlier
    assert out.loc[4, "user_new_country"] == 0  # a missing value is never "new"
    assert out.loc[4, "merchant_count_1d"] == 2 and out.loc[4, "merchant_labelled_1d"] == 2


def test_numeric_ids_work_like_text_ids(frame: pd.DataFrame) -> None:
    part = frame.iloc[:3000]
    numeric = part.assign(user_id=part["user_id"].str[1:].astype(int),
                          merchant_id=part["merchant_id"].str[1:].astype(int))
    text = part.assign(user_id=part["user_id"].str[1:], merchant_id=part["merchant_id"].str[1:])
    pd.testing.assert_frame_equal(build_features(numeric, CONFIG), build_features(text, CONFIG))


def test_bad_columns_are_named(frame: pd.DataFrame) -> None:
    part = frame.iloc[:20]
    with pytest.raises(FeatureDataError, match="'timestamp'"):
        build_features(part.assign(timestamp=part["timestamp"].astype(str)), CONFIG)
    with pytest.raises(FeatureDataError, match="'amount'"):
        build_features(part.drop(columns="amount"), CONFIG)
    assert issubclass(FeatureDataError, TxlabError) and issubclass(FeatureConfigError, ValueError)


# --- config -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, named", [
    ({"windows_days": (0, 7)}, "windows_days"),
    ({"windows_days": (1.5,)}, "windows_days"),
    ({"windows_days": (True,)}, "windows_days"),
    ({"windows_days": ()}, "windows_days"),
    ({"windows_days": (7, 7)}, "windows_days"),
    ({"windows_days": "7"}, "windows_days"),
    ({"label_delay_days": -1}, "label_delay_days"),
    ({"label_delay_days": 99_999}, "label_delay_days"),
    ({"behaviour": "yes"}, "behaviour"),
])
def test_config_is_validated(kwargs: dict, named: str) -> None:
    with pytest.raises(FeatureConfigError, match=named):
        FeatureConfig(**kwargs)


def test_config_round_trips_through_json() -> None:
    config = FeatureConfig(windows_days=[2, 14], label_delay_days=0, behaviour=False)
    assert config.windows_days == (2, 14)
    assert FeatureConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert FeatureConfig.from_dict({}) == FeatureConfig()
    with pytest.raises(FeatureConfigError, match="window_days"):
        FeatureConfig.from_dict({"window_days": [1]})


# --- against a row-by-row reference -----------------------------------------------------------

def _reference(frame: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """The behaviour features computed the slow, obvious way: one row at a time."""
    day = pd.Timedelta(days=1)
    delay = config.label_delay_days * day
    longest = max(config.windows_days)
    out = []
    for _, row in frame.iterrows():
        t, feats = row["timestamp"], {}
        earlier = frame[frame["timestamp"] < t]
        mine = earlier[earlier["user_id"] == row["user_id"]]
        theirs = earlier[earlier["merchant_id"] == row["merchant_id"]]
        for prefix, rows in (("user", mine), ("merchant", theirs)):
            for w in config.windows_days:
                recent = rows[rows["timestamp"] > t - w * day]
                amounts = recent["amount"].dropna().to_numpy()
                feats[f"{prefix}_count_{w}d"] = len(recent)
                feats[f"{prefix}_amount_mean_{w}d"] = amounts.mean() if len(amounts) else 0.0
                feats[f"{prefix}_amount_std_{w}d"] = amounts.std() if len(amounts) > 1 else 0.0
        usual = mine[mine["timestamp"] > t - longest * day]["amount"].dropna()
        feats["user_amount_rel"] = (np.log1p(row["amount"]) - np.log1p(usual.mean())
                                    if len(usual) and not np.isnan(row["amount"]) else 0.0)
        gap = (t - mine["timestamp"].max()).total_seconds() if len(mine) else 0.0
        feats["user_log_seconds_since_prev"], feats["user_first_tx"] = np.log1p(gap), float(len(mine) == 0)
        for field, name in (("merchant_id", "merchant"), ("country", "country"), ("device_type", "device")):
            feats[f"user_new_{name}"] = float(row[field] not in set(mine[field]))
        for w in config.windows_days:
            known = theirs[(theirs["timestamp"] >= t - delay - w * day) & (theirs["timestamp"] < t - delay)]
            feats[f"merchant_labelled_{w}d"] = len(known)
            feats[f"merchant_fraud_rate_{w}d"] = _rate(len(known), int(known["label"].sum()))
        out.append(feats)
    return pd.DataFrame(out)


def test_behaviour_matches_a_row_by_row_reference() -> None:
    rng = np.random.default_rng(2)
    n = 300
    frame = pd.DataFrame({
        # Whole hours over 12 days: many ties, and many gaps of exactly one window or delay.
        "timestamp": pd.Timestamp("2026-02-01") + pd.to_timedelta(rng.integers(0, 12 * 24, n), unit="h"),
        "user_id": pd.Series(rng.choice(["a", "b", "c", "d", "e"], n), dtype="str"),
        "merchant_id": pd.Series(rng.choice(["m1", "m2", "m3"], n), dtype="str"),
        "country": pd.Series(rng.choice(["GB", "FR", "DE", "US"], n, p=[0.7, 0.1, 0.1, 0.1]), dtype="str"),
        "device_type": pd.Series(rng.choice(["web", "pos"], n, p=[0.9, 0.1]), dtype="str"),
        "amount": np.where(rng.random(n) < 0.1, np.nan, np.round(rng.lognormal(3.0, 1.0, n), 2)),
        "label": (rng.random(n) < 0.2).astype(int),
    })
    config = FeatureConfig(windows_days=(1, 3), label_delay_days=2)
    got = build_features(frame, config)
    expected = _reference(frame, config)
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected.astype(np.float32), rtol=1e-5, atol=1e-5)
