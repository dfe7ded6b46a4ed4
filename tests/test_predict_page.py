"""The Predict page's callbacks, called directly on a small model trained for this module."""
from __future__ import annotations

import dataclasses
import shutil
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
from dash import dcc
from dash.exceptions import PreventUpdate

from core.mapping import apply_mapping
from core.schema import ColumnMapping
from core.train_config import TrainConfig
from core.training_job import run_training
from core.workspace import Workspace
from dashboard import context, figures
from dashboard import predict_views as views
from dashboard.components import components_in, figures_in
from tests.conftest import component_text as _raw_text
from tests.test_train import planted_frame

# The file's own column names; the model is trained through this mapping, so scoring must use it too.
SOURCE_COLUMNS = {"amount": "Amount (EUR)", "merchant_id": "Merchant", "user_id": "Customer", "timestamp": "When", "label": "is_fraud"}
MAPPING = ColumnMapping(fields={"amount": "Amount (EUR)", "merchant_id": "Merchant", "user_id": "Customer", "country": "country",
                                "device_type": "device_type", "timestamp": "When", "label": "is_fraud"})
FAST = dict(epochs=3, batch_size=512, validation_days=10, label_delay_days=3, baselines=False, patience=8)


def component_text(component) -> str:
    return " ".join(_raw_text(component).split())


def raw_frame(rows: int = 4000, seed: int = 1):
    """Transactions as a file would have them: own column names and a free-text note, some formula-like."""
    frame = planted_frame(rows=rows, seed=seed).rename(columns=SOURCE_COLUMNS)
    notes = np.array(["ok", "=1+2", "@SUM(A1)", "-call back", "plain text"], dtype=object)
    frame["note"] = notes[np.arange(rows) % len(notes)]
    return frame


def train_version(data_dir, models_dir) -> SimpleNamespace:
    """Store ``raw_frame()`` as a mapped dataset and train a short run on it."""
    workspace = Workspace(data_dir)
    raw = raw_frame()
    meta = workspace.add_dataset(raw, name=f"planted-{uuid.uuid4().hex[:6]}", source="generated")
    mapped, report = apply_mapping(raw, MAPPING)
    meta = workspace.save_mapping(meta.id, MAPPING, mapped, report.to_dict())
    record = run_training(workspace=workspace, models_dir=models_dir, dataset_id=meta.id, config=TrainConfig(**FAST))
    assert record.status == "finished", record.message
    return SimpleNamespace(models_dir=models_dir, version=record.version, dataset=meta, raw=raw)


@pytest.fixture(scope="module")
def trained(app_settings, txlab_app, tmp_path_factory):
    return train_version(app_settings.data_dir, tmp_path_factory.mktemp("predict-models"))


@pytest.fixture(scope="module")
def predict_page(txlab_app):
    from dashboard.pages import predict

    return predict


@pytest.fixture
def model(trained, monkeypatch, app_settings):
    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=trained.models_dir))
    return trained


def _controls(form) -> dict:
    """The form's inputs by field name: (component, kind of id)."""
    found = {}
    stack = [form]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))  # page order
            continue
        if item is None or isinstance(item, (str, int, float)):
            continue
        id_ = getattr(item, "id", None)
        if isinstance(id_, dict) and id_.get("type") in (views.CAT, views.NUM, views.TIME):
            found[id_["name"]] = (item, id_["type"])
        stack.append(getattr(item, "children", None))
    return found


def _form_state(form, **changes) -> list:
    """The Score callback's form states (values and ids per kind), as the page would send them."""
    controls = _controls(form)
    state = []
    for kind in (views.CAT, views.NUM, views.TIME):
        items = [(name, c) for name, (c, k) in controls.items() if k == kind]
        state += [[changes.get(name, c.value) for name, c in items], [{"type": kind, "name": name} for name, _ in items]]
    return state


def test_the_active_version_is_chosen_and_its_form_built_from_the_schema(predict_page, model):
    options, value = predict_page.list_versions(None, None)
    assert value == model.version and [o["value"] for o in options] == [model.version]
    form, note, threshold, score_off, _ = predict_page.show_form(model.version)
    schema = views.loaded_model(model.models_dir, model.version).schema
    controls = _controls(form)
    assert list(controls) == [f.name for f in schema.fields] == ["user_id", "merchant_id", "amount", "country", "device_type", "timestamp"]
    merchant, kind = controls["merchant_id"]
    assert kind == views.CAT and isinstance(merchant, dcc.Dropdown) and merchant.searchable
    known = next(f.known for f in schema.fields if f.name == "merchant_id")
    assert [o["value"] for o in merchant.options] == known[: views.MAX_OPTIONS] and merchant.value == known[0]  # most frequent first
    assert controls["amount"][1] == views.NUM and float(controls["amount"][0].value) > 0
    assert controls["timestamp"][1] == views.TIME and controls["timestamp"][0].type == "datetime-local"
    assert threshold == 0.5 and not score_off
    assert model.version in component_text(note) and "including the time" in component_text(note)


def test_score_shows_probability_decision_and_a_signed_explanation(predict_page, model):
    form = predict_page.show_form(model.version)[0]
    state = _form_state(form, merchant_id="M3", amount="250")
    result = predict_page.score(1, model.version, *state, 0.5)
    scorer = views.loaded_model(model.models_dir, model.version).scorer
    values = views.form_values(*state)
    expected = scorer.score(values, threshold=0.5)
    text = component_text(result)
    assert f"{expected.probability:.1%}" in text and "threshold 0.50" in text
    assert ("Flag as fraud" if expected.decision else "Looks legitimate") in text
    assert "New to the model" not in text
    assert "log-odds" in text  # the baseline line
    fig = figures_in(result)[0]
    bars = fig.data[0]
    assert len(bars.y) == len(set(bars.y)) >= 5  # one bar per attributed field or feature group
    assert all(color == (figures.RAISES if x > 0 else figures.LOWERS) for x, color in zip(bars.x, bars.marker.color))
    assert abs(bars.x[-1]) == max(abs(x) for x in bars.x)  # largest at the top
    # The same row at thresholds 0 and 1: the decision follows the slider.
    assert "Flag as fraud" in component_text(predict_page.score(1, model.version, *state, 0.0))
    assert "Looks legitimate" in component_text(predict_page.score(1, model.version, *state, 1.0))


def test_a_typed_value_is_offered_and_flagged_as_new_to_the_model(predict_page, model):
    schema = views.loaded_model(model.models_dir, model.version).schema
    options = predict_page.search_values("M-brand-new", None, {"type": views.CAT, "name": "merchant_id"}, model.version)
    assert options[0] == {"label": "M-brand-new (new to the model)", "value": "M-brand-new"}
    known = predict_page.search_values("M4", None, {"type": views.CAT, "name": "merchant_id"}, model.version)
    assert "M4" in [o["value"] for o in known] and not any("new to the model" in o["label"] for o in known)
    assert all("M4" in o["value"] for o in known)
    # A chosen new value stays offered once the search is cleared.
    kept = predict_page.search_values("", "M-brand-new", {"type": views.CAT, "name": "merchant_id"}, model.version)
    assert kept[0]["value"] == "M-brand-new" and len(kept) == min(views.MAX_OPTIONS, len(schema.fields[1].known)) + 1

    form = predict_page.show_form(model.version)[0]
    result = predict_page.score(1, model.version, *_form_state(form, merchant_id="M-brand-new"), 0.5)
    flag = component_text(next(c for c in components_in(result) if getattr(c, "id", None) == "predict-new-values"))
    assert "New to the model" in flag and "merchant_id “M-brand-new”" in flag and "user_id" not in flag


def test_a_bad_number_is_marked_and_named_and_nothing_is_scored(predict_page, model):
    ids = [{"type": views.NUM, "name": "amount"}, {"type": views.NUM, "name": "fee"}, {"type": views.NUM, "name": "tip"}]
    invalid, messages = predict_page.check_numbers(["12.50", "abc", ""], ids)
    assert invalid == [False, True, False]  # blank is "missing", which the model accepts
    assert messages[1] == "fee must be a number, got 'abc'." and messages[0] is None
    form = predict_page.show_form(model.version)[0]
    result = predict_page.score(1, model.version, *_form_state(form, amount="12,5x"), 0.5)
    text = component_text(result)
    assert "Could not score the transaction" in text and "amount must be a number" in text and "'12,5x'" in text and "Traceback" not in text
    assert "use a dot for decimals" in predict_page.check_numbers(["12,5"], ids[:1])[1][0]  # never read as 125
    with pytest.raises(PreventUpdate):
        predict_page.score(None, model.version, *_form_state(form), 0.5)


def test_a_bad_time_is_an_alert_naming_the_field(predict_page, model):
    form = predict_page.show_form(model.version)[0]
    text = component_text(predict_page.score(1, model.version, *_form_state(form, timestamp="yesterday-ish"), 0.5))
    assert "timestamp" in text and "date and time" in text and "Traceback" not in text


def test_a_tampered_version_is_an_integrity_alert_and_no_model_points_to_train(predict_page, model, tmp_path, monkeypatch, app_settings):
    models_dir = tmp_path / "models"
    shutil.copytree(model.models_dir / model.version, models_dir / model.version)
    (models_dir / model.version / "history.json").write_text("[]", encoding="utf-8")
    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=models_dir))
    form, note, _, score_off, _ = predict_page.show_form(model.version)
    assert form is None and score_off
    assert "integrity" in component_text(note) and "Traceback" not in component_text(note)

    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=tmp_path / "empty"))
    options, value = predict_page.list_versions(None, None)
    assert options == [] and value is None  # nothing to choose
    form, note, _, score_off, _ = predict_page.show_form(None)
    assert "train one" in component_text(note) and score_off


def test_the_scorer_is_built_once_per_version(model):
    first = views.loaded_model(model.models_dir, model.version)
    assert views.loaded_model(model.models_dir, "active") is first
    assert first.scorer is first.scorer
