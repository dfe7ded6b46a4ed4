"""core.train: the network learns, is reproducible, stops when asked, and fails readably."""
import math

import numpy as np
import pandas as pd
import pytest

from core.metrics import score_metrics
from core.split import SplitError
from core.train import TrainConfig, TrainConfigError, TrainingError, train_model


def planted_frame(rows: int = 8000, seed: int = 0, with_time: bool = True, start: str = "2026-01-01",
                  days: int = 60) -> pd.DataFrame:
    """Fraud is planted on a few merchants, on night-time large amounts; the rest is noise."""
    rng = np.random.default_rng(seed)
    merchants = rng.integers(0, 60, rows)
    amount = rng.lognormal(3.5, 1.0, rows)
    times = np.datetime64(start, "s") + np.sort(rng.integers(0, days * 86400, rows)).astype("timedelta64[s]")
    risky = (merchants < 6) & (amount > np.exp(3.5))
    label = (risky & (rng.random(rows) < 0.7)) | (rng.random(rows) < 0.003)
    frame = pd.DataFrame({
        "user_id": pd.Series([f"U{u}" for u in rng.integers(0, 400, rows)], dtype="str"),
        "merchant_id": pd.Series([f"M{m}" for m in merchants], dtype="str"),
        "amount": amount,
        "country": pd.Series(rng.choice(["DE", "FR", "GB"], rows), dtype="str"),
        "device_type": pd.Series(rng.choice(["web", "app"], rows), dtype="str"),
        "label": label.astype(np.int64),
    })
    if with_time:
        frame["timestamp"] = times
    return frame


FAST = dict(epochs=8, batch_size=512, validation_days=10, label_delay_days=3, baselines=False, patience=8)


def test_the_network_learns_a_planted_signal():
    result = train_model(planted_frame(), TrainConfig(**FAST))
    assert result.status == "finished"
    assert result.metrics["roc_auc"] > 0.9
    assert len(result.history) >= 2 and result.history[0]["epoch"] == 1
    assert {"train_loss", "val_loss", "roc_auc", "average_precision", "precision_at_k", "recall_at_1pct_fpr",
            "rows_per_s", "elapsed_s", "best"} <= set(result.history[-1])


def test_without_a_timestamp_the_split_is_stratified():
    frame = planted_frame(with_time=False)
    result = train_model(frame, TrainConfig(**FAST))
    assert result.split["by_time"] is False
    assert result.split["valid_rows"] == pytest.approx(0.2 * len(frame), abs=2)
    assert result.metrics["roc_auc"] > 0.9


def test_time_split_validates_on_the_latest_days_after_the_label_delay():
    frame = planted_frame()
    result = train_model(frame, TrainConfig(**{**FAST, "epochs": 1}))
    split = result.split
    assert split["by_time"] is True
    gap = pd.Timestamp(split["valid_start"]) - pd.Timestamp(split["train_end"])
    assert gap == pd.Timedelta(days=3)
    assert pd.Timestamp(split["valid_start"]) == frame["timestamp"].max() - pd.Timedelta(days=10)


def test_same_seed_same_model_and_scores():
    frame = planted_frame(rows=4000)
    config = TrainConfig(**{**FAST, "epochs": 3})
    a, b = train_model(frame, config), train_model(frame, config)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    np.testing.assert_array_equal(a.model.score(frame), b.model.score(frame))


def test_scores_are_calibrated_probabilities_despite_the_class_weight():
    """New rows from the same distribution: mean score close to their fraud rate (no time, so no drift)."""
    result = train_model(planted_frame(rows=12000, with_time=False), TrainConfig(**{**FAST, "epochs": 10}))
    fresh = planted_frame(rows=20000, seed=1, with_time=False)
    scores = result.model.score(fresh)
    assert 0 <= scores.min() and scores.max() <= 1
    assert scores.mean() == pytest.approx(fresh["label"].mean(), rel=0.25)


def test_baselines_are_trained_on_the_same_split_and_reported():
    events = []
    result = train_model(planted_frame(), TrainConfig(**{**FAST, "epochs": 2, "baselines": True}), on_event=events.append)
    assert set(result.baselines) == {"hist_gradient_boosting", "logistic_regression"}
    for metrics in result.baselines.values():
        assert metrics["roc_auc"] > 0.8 and metrics["fit_s"] >= 0
    kinds = [e["type"] for e in events]
    assert kinds.index("baseline") < kinds.index("epoch")  # reference lines exist before the first epoch


def test_a_stop_request_cancels_within_the_epoch_and_returns_no_model():
    epochs = []

    def on_event(event):
        if event["type"] == "epoch":
            epochs.append(event["epoch"])

    result = train_model(planted_frame(), TrainConfig(**FAST), on_event=on_event, should_stop=lambda: len(epochs) >= 2)
    assert result.status == "cancelled" and result.model is None
    assert epochs == [1, 2]


def test_a_diverging_loss_ends_with_a_readable_error(monkeypatch):
    from core.model import FraudNet

    original = FraudNet.forward
    monkeypatch.setattr(FraudNet, "forward", lambda self, c, n: original(self, c, n) * float("nan"))
    with pytest.raises(TrainingError, match="lower the learning rate"):
        train_model(planted_frame(rows=2000), TrainConfig(**{**FAST, "epochs": 1}))


def test_data_that_cannot_be_split_names_the_setting_to_change():
    frame = planted_frame()
    with pytest.raises(SplitError, match="validation window"):
        train_model(frame, TrainConfig(**{**FAST, "validation_days": 59}))


def test_labels_must_be_zero_or_one_with_both_classes():
    frame = planted_frame(rows=1000)
    frame["label"] = 0
    with pytest.raises(TrainingError, match="at least 10 fraud"):
        train_model(frame, TrainConfig(**FAST))


@pytest.mark.parametrize("values, message", [
    ({"epochs": "0"}, "Epochs must be a whole number from 1"),
    ({"epochs": "two"}, "Epochs must be a number"),
    ({"learning_rate": "-1"}, "Learning rate must be a number"),
    ({"hidden_layers": "128,x"}, "Hidden layers must be whole numbers"),
    ({"dropout": "0.95"}, "Dropout must be a number from 0 to 0.9"),
    ({"baselines": "maybe"}, "Baselines must be on or off"),
    ({"colour": "red"}, "Unknown training setting"),
])
def test_config_errors_name_the_field_and_value(values, message):
    with pytest.raises(TrainConfigError, match=message):
        TrainConfig.from_dict(values)


def test_config_round_trips_through_form_text():
    config = TrainConfig.from_dict({"epochs": "5", "hidden_layers": "64, 32", "baselines": "off", "learning_rate": "0.01"})
    assert config.epochs == 5 and config.hidden_layers == (64, 32) and config.baselines is False
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert math.isclose(TrainConfig(batch_size=4096, learning_rate=0.001).effective_learning_rate, 0.002)


def test_metrics_match_hand_computed_values():
    y = np.array([1, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3])
    days = np.array([0, 0, 0, 1, 1, 1])
    m = score_metrics(y, scores, days, k=2)
    assert m["precision_at_k"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["roc_auc"] == pytest.approx(7 / 8)
    assert m["recall_at_1pct_fpr"] == pytest.approx(0.5)  # only the top fraud is above every legitimate row
