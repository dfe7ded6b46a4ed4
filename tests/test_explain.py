"""core.explain: attributions add up to the score change, ignored inputs get nothing, groups are named."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from core.explain import explain_row, feature_group
from core.fraud_model import FraudModel
from core.predict import RowScorer
from tests.test_predict import as_values, mapped_rows, train_small


@pytest.fixture(scope="module")
def trained():
    return train_small()


@pytest.fixture(scope="module")
def rows(trained):
    model, meta, _, fresh = trained
    return mapped_rows(meta, fresh)


def test_attributions_add_up_to_the_change_in_log_odds(trained, rows):
    model, meta, _, _ = trained
    scorer = RowScorer(model, meta)
    for i in range(0, 400, 40):
        values = as_values(rows, i)
        explanation = explain_row(scorer, values)
        logit = np.log(explanation.probability / (1 - explanation.probability))
        base = np.log(explanation.baseline_probability / (1 - explanation.baseline_probability))
        total = sum(explanation.attributions.values())
        assert total == pytest.approx(logit - base, rel=0.01, abs=1e-4)
        assert explanation.completeness_gap <= 0.01
        assert explanation.probability == pytest.approx(scorer.score(values).probability, abs=1e-6)
        magnitudes = [abs(v) for v in explanation.attributions.values()]
        assert magnitudes == sorted(magnitudes, reverse=True)


def test_the_baseline_is_the_unknown_row_at_training_medians(trained, rows):
    model, meta, _, _ = trained
    scorer = RowScorer(model, meta)
    explanation = explain_row(scorer, as_values(rows, 5))
    net = model.net
    width = sum(e.embedding_dim for e in net.embeddings)
    with torch.no_grad():
        base = torch.cat([*(e.weight[0] for e in net.embeddings), torch.zeros(net.config.n_numeric)])
        expected = torch.sigmoid(net.head(base[None])).item()
    assert explanation.baseline_probability == pytest.approx(expected, abs=1e-6)
    assert "unknown" in explanation.baseline and "median" in explanation.baseline
    assert width > 0


def test_an_input_the_network_ignores_gets_no_attribution(trained, rows):
    model, meta, _, _ = trained
    net = copy.deepcopy(model.net)
    amount = sum(e.embedding_dim for e in net.embeddings) + model.encoder.numeric_names.index("amount")
    with torch.no_grad():
        net.head[0].weight[:, amount] = 0.0
    scorer = RowScorer(FraudModel(net, model.encoder, model.features, model.state), meta)
    for i in (1, 2, 3):
        values = {**as_values(rows, i), "amount": 5000.0}
        explanation = explain_row(scorer, values)
        assert abs(explanation.attributions["amount"]) < 1e-6
        assert max(abs(v) for v in explanation.attributions.values()) > 1e-3


def test_embedding_dimensions_and_features_are_grouped_into_named_fields(trained, rows):
    model, meta, _, _ = trained
    explanation = explain_row(RowScorer(model, meta), as_values(rows, 7))
    names = set(explanation.attributions)
    assert {"user_id", "merchant_id", "country", "device_type", "merchant_category", "amount",
            "time of day and week", "user history (7 days)", "merchant fraud rate (30 days)"} <= names
    assert not any(name.startswith(("hour_", "user_count_", "merchant_labelled_")) for name in names)


def test_feature_groups():
    assert feature_group("hour_sin") == "time of day and week"
    assert feature_group("user_amount_std_30d") == "user history (30 days)"
    assert feature_group("merchant_count_1d") == "merchant activity (1 days)"
    assert feature_group("merchant_fraud_rate_7d") == "merchant fraud rate (7 days)"
    assert feature_group("merchant_labelled_7d") == "merchant fraud rate (7 days)"
    assert feature_group("user_first_tx") == feature_group("user_log_seconds_since_prev")
    assert feature_group("amount") == "amount" and feature_group("basket_size") == "basket_size"
