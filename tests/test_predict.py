"""core.predict: one-row scoring equals the batch path exactly; tables score like FraudModel; bad input is named."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.features import BehaviourState, FeatureConfig, build_features
from core.features.online import OnlineFeatures, OnlineRow
from core.mapping import apply_mapping, suggest_mapping
from core.predict import PredictInputError, RowScorer, model_schema, score_table
from core.synth import SynthConfig, generate
from core.train import TrainConfig, train_model

QUICK = TrainConfig(epochs=2, batch_size=1024, validation_days=7, label_delay_days=2, baselines=False)


@pytest.fixture(scope="module")
def trained():
    return train_small()


def train_small():
    """A model trained on 30 simulated days, its version meta (with the mapping) and fresh raw rows after it."""
    raw = generate(SynthConfig(rows=20_000, days=30, fraud_rate=0.03, seed=3))
    mapping = suggest_mapping(raw).to_mapping()
    frame, _ = apply_mapping(raw, mapping)
    result = train_model(frame, QUICK, extra_numeric=mapping.extra_numeric,
                         extra_categorical=mapping.extra_categorical)
    model, meta = result.model, {"mapping": mapping.to_dict()}
    start = (model.state.end + pd.Timedelta(days=1)).date()
    fresh = generate(SynthConfig(rows=4000, days=10, fraud_rate=0.03, seed=4, start=str(start)))
    return model, meta, raw, fresh


def mapped_rows(meta: dict, raw: pd.DataFrame) -> pd.DataFrame:
    mapped, _ = apply_mapping(raw.drop(columns=["is_fraud"]), _mapping(meta))
    return mapped.drop(columns=["transaction_id"])


def _mapping(meta):
    from core.schema import ColumnMapping
    mapping = ColumnMapping.from_dict(meta["mapping"])
    mapping.fields["label"] = None
    return mapping


def as_values(frame: pd.DataFrame, i: int) -> dict:
    """Row ``i`` as the dict a form would send (missing cells as None)."""
    return {k: (None if pd.isna(v) else v) for k, v in frame.iloc[i].to_dict().items()}


def tricky_rows(model, fresh: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Fresh rows after the state's end, plus missing ids/times/amounts, unseen ids and ties with the end."""
    rows = fresh.iloc[rng.choice(len(fresh), 120, replace=False)].reset_index(drop=True)
    rows.loc[0:4, "user_id"] = None
    rows.loc[5:9, "merchant_id"] = None
    rows.loc[10:14, "timestamp"] = pd.NaT
    rows.loc[15:19, "amount"] = np.nan
    rows.loc[20:24, "user_id"] = [f"never-seen-{i}" for i in range(5)]
    rows.loc[25:29, "merchant_id"] = "M-brand-new"
    rows.loc[30:34, "country"] = "ZZ"
    rows.loc[35:39, "timestamp"] = model.state.end  # same tick as the latest history row
    rows.loc[40:44, "timestamp"] = model.state.end + pd.Timedelta(days=40)  # beyond every window
    return rows


def test_row_scorer_features_equal_build_features_for_rows_after_the_state(trained):
    model, meta, _, fresh = trained
    scorer = RowScorer(model, meta)
    rows = tricky_rows(model, mapped_rows(meta, fresh), np.random.default_rng(0))
    for i in range(len(rows)):
        one = rows.iloc[[i]].reset_index(drop=True)
        expected = build_features(one, model.features, model.state)
        inputs = scorer.inputs(as_values(rows, i))
        row = scorer._online_row(scorer._parse(as_values(rows, i)))
        got = scorer.features.compute(row)
        assert list(expected.columns) == scorer.features.names
        np.testing.assert_allclose(got, expected.to_numpy()[0], rtol=1e-5, atol=1e-5, err_msg=f"row {i}")
        codes, numbers = model.inputs(one)
        np.testing.assert_array_equal(inputs.codes, codes.numpy()[0])
        np.testing.assert_allclose(inputs.numbers, numbers.numpy()[0], rtol=1e-5, atol=1e-5, err_msg=f"row {i}")


def test_row_scores_equal_fraud_model_scores(trained):
    model, meta, _, fresh = trained
    scorer = RowScorer(model, meta)
    rows = tricky_rows(model, mapped_rows(meta, fresh), np.random.default_rng(1))
    expected = np.array([model.score(rows.iloc[[i]]) for i in range(len(rows))]).ravel()
    got = np.array([scorer.score(as_values(rows, i)).probability for i in range(len(rows))])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.std() > 0


def test_online_features_match_with_a_short_history_and_old_users():
    """A state shorter than the data: recency and novelty come from the first/last-seen tables."""
    frame = generate(SynthConfig(rows=6000, days=40, seed=5)).rename(columns={"is_fraud": "label"})
    frame = frame.drop(columns=["transaction_id", "merchant_category"])
    config = FeatureConfig(windows_days=(1, 3), label_delay_days=1)
    state = BehaviourState.from_frame(frame, config)
    online = OnlineFeatures(config, state, [c for c in frame.columns if c != "label"])
    rng = np.random.default_rng(2)
    later = frame.sample(80, random_state=3).drop(columns=["label"]).reset_index(drop=True)
    later["timestamp"] = state.end + pd.to_timedelta(rng.integers(0, 6 * 86400, len(later)), unit="s")
    for i in range(len(later)):
        one = later.iloc[[i]].reset_index(drop=True)
        expected = build_features(one, config, state).to_numpy()[0]
        r = later.iloc[i]
        stamp = pd.Timestamp(r["timestamp"]).value
        row = OnlineRow(r["user_id"], r["merchant_id"], r["country"], r["device_type"], float(r["amount"]),
                        stamp, stamp)
        np.testing.assert_allclose(online.compute(row), expected, rtol=1e-5, atol=1e-5, err_msg=f"row {i}")


def test_score_table_maps_a_raw_frame_and_equals_fraud_model_score(trained):
    model, meta, _, fresh = trained
    progress = []
    got = score_table(model, meta, fresh, on_progress=progress.append, chunk_rows=700)
    expected = model.score(mapped_rows(meta, fresh))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress) and len(progress) > 5
    flipped = fresh.assign(is_fraud=1 - fresh["is_fraud"])
    np.testing.assert_allclose(score_table(model, meta, flipped), got, atol=1e-6)  # the label is never read


def test_unseen_categorical_values_are_flagged_new(trained):
    model, meta, _, fresh = trained
    scorer = RowScorer(model, meta)
    values = as_values(mapped_rows(meta, fresh), 0)
    assert scorer.score(values).new_values == [] or set(scorer.score(values).new_values) <= {"user_id"}
    known_user = model.encoder.vocabularies_[0].values[0]
    values.update(user_id=known_user, country="Atlantis", merchant_id="M-nobody")
    result = scorer.score(values)
    assert result.new_values == ["merchant_id", "country"]
    assert 0.0 <= result.probability <= 1.0


def test_bad_values_and_unknown_fields_are_named(trained):
    model, meta, _, fresh = trained
    scorer = RowScorer(model, meta)
    values = as_values(mapped_rows(meta, fresh), 0)
    with pytest.raises(PredictInputError, match="'amount'.*'twelve'"):
        scorer.score({**values, "amount": "twelve"})
    with pytest.raises(PredictInputError, match="'amount'.*inf"):
        scorer.score({**values, "amount": float("inf")})
    with pytest.raises(PredictInputError, match="'timestamp'.*'not a date'"):
        scorer.score({**values, "timestamp": "not a date"})
    with pytest.raises(PredictInputError, match="Unknown field 'shoe_size'"):
        scorer.score({**values, "shoe_size": 42})
    assert scorer.score({**values, "label": 1, "transaction_id": "T1"}).probability == scorer.score(values).probability
    with pytest.raises(PredictInputError, match="threshold"):
        scorer.score(values, threshold=1.5)
    assert isinstance(PredictInputError("x"), ValueError)


def test_missing_fields_and_text_numbers_are_accepted(trained):
    model, meta, _, _ = trained
    scorer = RowScorer(model, meta)
    assert 0.0 <= scorer.score({}).probability <= 1.0
    a = scorer.score({"amount": "120.5", "timestamp": "2026-02-03 10:00"})
    b = scorer.score({"amount": 120.5, "timestamp": pd.Timestamp("2026-02-03 10:00")})
    assert a.probability == b.probability


def test_the_decision_follows_the_threshold(trained):
    model, meta, _, fresh = trained
    scorer = RowScorer(model, meta)
    values = as_values(mapped_rows(meta, fresh), 3)
    p = scorer.score(values).probability
    assert scorer.score(values, threshold=p).decision is True
    assert scorer.score(values, threshold=min(1.0, p + 1e-6)).decision is False
    assert scorer.score(values, threshold=0.25).threshold == 0.25


def test_model_schema_lists_fields_known_values_and_defaults(trained):
    model, meta, _, _ = trained
    schema = model_schema("v1", model, meta)
    kinds = {f.name: f.kind for f in schema.fields}
    assert kinds == {"user_id": "categorical", "merchant_id": "categorical", "amount": "number",
                     "country": "categorical", "device_type": "categorical", "timestamp": "datetime",
                     "merchant_category": "categorical"}
    assert [f.name for f in schema.fields][:6] == ["user_id", "merchant_id", "amount", "country", "device_type",
                                                   "timestamp"]
    assert schema.uses_time and schema.threshold == 0.5 and schema.version == "v1"
    merchants = next(f for f in schema.fields if f.name == "merchant_id")
    counts = model.state.rows["merchant_id"].value_counts()
    assert merchants.known[0] == counts.index[0] and merchants.default == merchants.known[0]
    assert sorted(merchants.known) == sorted(model.encoder.vocabularies_[1].values)
    amount = next(f for f in schema.fields if f.name == "amount")
    assert amount.known == [] and amount.default > 0
    assert pd.Timestamp(next(f for f in schema.fields if f.name == "timestamp").default) == model.state.end
    assert model_schema("v1", model, {**meta, "threshold": 0.3}).threshold == 0.3
    scorer = RowScorer(model, meta)
    assert 0.0 <= scorer.score({f.name: f.default for f in schema.fields}).probability <= 1.0


def test_one_row_quantile_map_equals_numpy_interp():
    from core.predict import _Ranks
    rng = np.random.default_rng(7)
    knots = [np.unique(rng.normal(size=n)).tolist() for n in (3, 17, 65, 65)]
    ranks = _Ranks(knots)
    for _ in range(200):
        x = np.array([rng.choice([rng.normal() * 3, rng.choice(k), k[0], k[-1], np.nan]) for k in knots])
        expected = [np.interp(v, k, np.linspace(0, 1, len(k))) for v, k in zip(x, knots)]
        np.testing.assert_array_equal(ranks.interp(x), expected)


def test_the_process_keeps_one_scorer_per_version_and_follows_active(trained, tmp_path):
    from core.registry import ModelRegistry
    from dashboard.predict_views import loaded_model

    def get_scorer(models_dir, ref):
        return loaded_model(models_dir, ref).scorer

    model, meta, _, _ = trained
    weights, description, tables = model.artifacts()
    registry = ModelRegistry(tmp_path)
    first = registry.save_version(weights=weights, meta={**description, **meta}, history=[], tables=tables)
    scorer = get_scorer(tmp_path, "active")
    assert get_scorer(tmp_path, first) is scorer
    second = registry.save_version(weights=weights, meta={**description, **meta}, history=[], tables=tables)
    registry.set_active(second)
    assert get_scorer(tmp_path, "active") is not scorer
    values = {"user_id": "U00001", "amount": 50.0, "timestamp": str(model.state.end)}
    assert get_scorer(tmp_path, "active").score(values).probability == pytest.approx(scorer.score(values).probability)


def test_a_model_without_time_scores_rows_and_ignores_a_timestamp():
    from tests.test_train import planted_frame
    frame = planted_frame(rows=4000, with_time=False)
    model = train_model(frame, TrainConfig(epochs=2, batch_size=512, baselines=False)).model
    schema = model_schema("v0", model, {})
    assert not schema.uses_time and "timestamp" not in [f.name for f in schema.fields]
    scorer = RowScorer(model, {})
    rows = frame.drop(columns=["label"]).head(30)
    expected = model.score(rows)
    got = [scorer.score({**as_values(rows, i), "timestamp": "2026-01-01"}).probability for i in range(len(rows))]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(score_table(model, {}, frame), model.score(frame), atol=1e-6)


def test_encoder_transform_is_identical_to_the_plain_reference(trained):
    """The fast paths of InputEncoder.transform (lookups per distinct value, count tables) change no value."""
    from scipy.special import ndtri

    from core.encoding import CLIP, TAIL
    model, meta, _, fresh = trained
    rows = tricky_rows(model, mapped_rows(meta, fresh), np.random.default_rng(3))
    rows = pd.concat([rows, mapped_rows(meta, fresh)], ignore_index=True)
    features = build_features(rows, model.features, model.state)
    codes, numbers = model.encoder.transform(rows, features)
    encoder = model.encoder
    for j, vocab in enumerate(encoder.vocabularies_):
        expected = pd.Index(vocab.values, dtype="str").get_indexer(rows[vocab.name].astype("str")) + 1
        np.testing.assert_array_equal(codes[:, j], expected)
    for j, scaler in enumerate(encoder.scalers_):
        source = features if scaler.name in encoder.feature_columns_ else rows
        x = pd.to_numeric(source[scaler.name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        x = np.sign(x) * np.log1p(np.abs(x)) if scaler.log else x
        if scaler.knots:
            z = ndtri(np.clip(np.interp(x, scaler.knots, np.linspace(0, 1, len(scaler.knots))), TAIL, 1 - TAIL))
            z[np.isnan(x)] = 0.0
        else:
            z = (x - scaler.mean) / scaler.std
            z = np.clip(np.where(np.isfinite(z), z, 0.0), -CLIP, CLIP)
        np.testing.assert_array_equal(numbers[:, j], z.astype(np.float32), err_msg=scaler.name)
    assert codes.flags.c_contiguous and numbers.flags.c_contiguous
