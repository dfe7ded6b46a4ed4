"""The Models page's callbacks, called directly on versions saved through the registry."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from dash.exceptions import PreventUpdate

from core.registry import ModelRegistry
from core.runs import RunStore
from core.train_config import TrainConfig
from dashboard import context
from dashboard.components import figures_in, find_component
from tests.conftest import component_text as _raw_text


def component_text(component) -> str:
    return " ".join(_raw_text(component).split())


def _history(n: int, ap_step: float) -> list[dict]:
    return [{"epoch": e, "epochs": n, "train_loss": 0.4 / e, "val_loss": 0.3 / e, "roc_auc": 0.8 + 0.02 * e,
             "average_precision": 0.2 + ap_step * e, "precision_at_k": 0.1 * e, "recall_at_1pct_fpr": 0.05 * e,
             "rows_per_s": 1e5, "elapsed_s": e, "best": True} for e in range(1, n + 1)]


def _save(registry: ModelRegistry, name: str, ap: float, **params) -> str:
    history = _history(3, ap / 10)
    metrics = {k: history[-1][k] for k in ("roc_auc", "average_precision", "precision_at_k", "recall_at_1pct_fpr")}
    baselines = {"hist_gradient_boosting": {"roc_auc": 0.9, "average_precision": 0.41, "precision_at_k": 0.2, "recall_at_1pct_fpr": 0.3},
                 "logistic_regression": {"roc_auc": 0.8, "average_precision": 0.33, "precision_at_k": 0.1, "recall_at_1pct_fpr": 0.2}}
    meta = {"metrics": metrics, "baselines": baselines, "hyperparameters": TrainConfig(**params).to_dict(),
            "dataset_id": "ds-000000000002", "dataset_name": name}
    return registry.save_version(weights={"w": torch.zeros(3)}, meta=meta, history=history)


@pytest.fixture(scope="module")
def models_page(txlab_app):
    from dashboard.pages import models

    return models


@pytest.fixture
def registry(tmp_path, monkeypatch, app_settings):
    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=tmp_path / "models"))
    return ModelRegistry(context.settings().models_dir)


@pytest.fixture
def two(registry):
    first = _save(registry, "january", 0.5)
    second = _save(registry, "february", 0.8, epochs=20, dropout=0.3, hidden_layers=(128, 64))
    return first, second


def test_no_versions_says_so_and_points_to_train(models_page, registry):
    options, value, _, other = models_page.list_versions(None, None, None, None, None)
    assert options == [] and value is models_page.no_update and other is models_page.no_update
    runs, poll_off = models_page.show_runs(None, None, None)
    assert "No training runs yet" in component_text(runs) and poll_off
    assert "No model versions yet" in component_text(models_page.show_table(None, None, None, None))
    detail, activate_off, delete_off = models_page.show_version(None, None)
    assert activate_off and delete_off


def test_table_lists_every_version_with_metrics_baseline_and_active_marker(models_page, two):
    first, second = two
    options, value, compare_options, _ = models_page.list_versions(None, None, None, None, None)
    assert [o["value"] for o in options] == [second, first] and compare_options == options  # newest first
    assert value == first  # the first version saved is the active one
    assert models_page.list_versions(None, None, None, value, None)[1] is models_page.no_update  # unchanged: not sent again
    table = models_page.show_table(value, None, None, None)
    rows = table.children[1].children
    text = [component_text(r) for r in rows]
    assert "february" in text[0] and "0.440" in text[0] and "0.410" in text[0]  # AP, then the best baseline's AP
    assert "january" in text[1] and "active" in text[1] and "active" not in text[0]
    assert rows[1].className == "table-active"  # the chosen one


def test_a_version_shows_its_curves_metrics_and_hyperparameters(models_page, two):
    first, _ = two
    detail, activate_off, delete_off = models_page.show_version(first, None)
    figs = figures_in(detail)
    assert [f.layout.title.text for f in figs] == ["Loss per epoch", "Validation ROC AUC and average precision"]
    assert list(figs[0].data[0].x) == [1, 2, 3]
    text = component_text(detail)
    assert "gradient boosting" in text and "Hidden layers 64,32" in text and "Epochs 15" in text
    assert activate_off and not delete_off  # already active


def test_compare_highlights_differing_settings_and_metric_changes(models_page, two):
    first, second = two
    view = models_page.show_comparison(first, second)
    params = find_component(view, "models-compare-params")
    differing = [component_text(r) for r in params.children[1].children if r.className and "txlab-differs" in r.className]
    assert [d.split(" ")[0] for d in differing] == ["Epochs", "Hidden", "Dropout"]  # only those, in form order, first
    metrics = component_text(find_component(view, "models-compare-metrics"))
    assert "Average precision 0.3500 0.4400 +0.0900" in metrics
    curves = figures_in(view)[0]
    assert len(curves.data) == 4 and curves.layout.title.text == "Curves compared"
    assert "different version" in component_text(models_page.show_comparison(first, first))
    assert "second version" in component_text(models_page.show_comparison(first, None))


def test_mark_active_then_delete_with_confirmation(models_page, registry, two):
    first, second = two
    changed, message = models_page.mark_active(1, second)
    assert registry.active_id() == second and "now active" in component_text(message) and changed

    displayed, question = models_page.ask_delete(1, second)
    assert displayed and second in question
    assert registry.active_id() == second  # asking deletes nothing
    changed, message = models_page.delete_version(1, second)
    assert "Deleted" in component_text(message)
    assert [v.id for v in registry.list_versions()] == [first] and registry.active_id() is None
    options, value, _, other = models_page.list_versions(changed, None, None, second, second)
    assert other is None  # the deleted version is no longer offered for comparison
    assert value == first and [o["value"] for o in options] == [first]
    with pytest.raises(PreventUpdate):
        models_page.ask_delete(1, None)
    with pytest.raises(PreventUpdate):
        models_page.delete_version(None, first)


def test_a_tampered_version_is_shown_as_an_integrity_alert_not_loaded(models_page, registry, two):
    first, _ = two
    (registry.models_dir / first / "history.json").write_text("[]", encoding="utf-8")
    detail, _, delete_off = models_page.show_version(first, None)
    text = component_text(detail)
    assert "failed its integrity check" in text and "history.json was changed" in text and "Traceback" not in text
    assert not delete_off  # a broken version can still be deleted


def test_recent_runs_show_status_and_message(models_page, registry):
    runs = RunStore(registry.models_dir)
    run = runs.start(owner="local", dataset_id="ds-000000000003", dataset_name="runs-data", config={}, epochs_total=5)
    runs.finish(run.id, "failed", message="The training loss became nan in epoch 2")
    running = runs.start(owner="bob", dataset_id="ds-000000000003", dataset_name="live-data", config={}, epochs_total=5)
    try:
        table, poll_off = models_page.show_runs(None, None, None)
        text = component_text(table)
        assert "runs-data" in text and "failed" in text and "loss became nan" in text
        assert "live-data" in text and "running" in text and "bob" in text and not poll_off  # polls until it ends
    finally:
        runs.finish(running.id, "finished", version=None)
    assert models_page.show_runs(None, None, None)[1]
