"""The Train page's callbacks and figures, called directly: what each returns is what the user would see."""
from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from dash.exceptions import PreventUpdate

from core.mapping import apply_mapping, suggest_mapping
from core.registry import ModelRegistry
from core.runs import RunStore
from core.synth import SynthConfig, generate
from core.train_config import TRAIN_FIELDS, TrainConfig
from core.workspace import Workspace
from dashboard import context, figures
from dashboard import training_views as views
from tests.conftest import component_text as _raw_text

def component_text(component) -> str:
    return " ".join(_raw_text(component).split())


NUMBERS = [k.name for k in TRAIN_FIELDS if k.name not in ("baselines", "behaviour_features")]
FLAGS = ["baselines", "behaviour_features"]


def _epoch(n: int, total: int = 6, best: bool = True, **extra) -> dict:
    row = {"epoch": n, "epochs": total, "train_loss": 0.5 / n, "val_loss": 0.4 / n + 0.01, "roc_auc": 0.7 + 0.03 * n,
           "average_precision": 0.2 + 0.05 * n, "precision_at_k": 0.1 * n, "recall_at_1pct_fpr": 0.05 * n,
           "rows_per_s": 250_000.0, "elapsed_s": 0.5 * n, "best": best}
    return {**row, **extra}


BASELINES = {
    "hist_gradient_boosting": {"roc_auc": 0.91, "average_precision": 0.45, "precision_at_k": 0.3, "recall_at_1pct_fpr": 0.4, "fit_s": 1.2},
    "logistic_regression": {"roc_auc": 0.85, "average_precision": 0.30, "precision_at_k": 0.2, "recall_at_1pct_fpr": 0.3, "fit_s": 0.4},
}


@pytest.fixture(scope="module")
def train_page(txlab_app):
    from dashboard.pages import train

    return train


@pytest.fixture
def models_dir(tmp_path, monkeypatch, app_settings):
    """A models folder of this test's own: runs and versions of other tests stay out of sight."""
    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=tmp_path / "models"))
    return context.settings().models_dir


@pytest.fixture(scope="module")
def mapped(app_settings, txlab_app):
    """A small simulated dataset with its suggested mapping saved."""
    frame = generate(SynthConfig(rows=20_000, seed=5, days=30))
    workspace = Workspace(app_settings.data_dir)
    meta = workspace.add_dataset(frame, name=f"train-page-{uuid.uuid4().hex[:6]}", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    out, report = apply_mapping(frame, mapping)
    return workspace.save_mapping(meta.id, mapping, out, report.to_dict())


def _form(**changes) -> tuple[list, list, list, list]:
    """The form's values and ids as the page sends them: defaults, with ``changes``."""
    defaults = TrainConfig().to_dict()
    defaults["hidden_layers"] = ",".join(map(str, defaults["hidden_layers"]))
    defaults.update(changes)
    return ([defaults[n] for n in NUMBERS], [{"type": views.PARAM, "name": n} for n in NUMBERS],
            [defaults[n] for n in FLAGS], [{"type": views.FLAG, "name": n} for n in FLAGS])


# --- figures --------------------------------------------------------------------------------


def test_loss_figure_draws_both_losses_per_epoch_and_stars_the_best():
    history = [_epoch(1), _epoch(2), _epoch(3, best=False)]
    fig = figures.training_loss_figure(history, epochs=6)
    names = [t.name for t in fig.data]
    assert names == ["Training loss", "Validation loss", "Best epoch"]
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[1].y) == [h["val_loss"] for h in history]
    assert list(fig.data[2].x) == [2]  # the last epoch marked best
    assert list(fig.layout.xaxis.range) == [0.5, 6.5]  # room for every planned epoch: the live graph does not rescale
    assert len(fig.to_json()) < 20_000 and fig.layout.template.layout.font.family == figures.TEMPLATE.layout.font.family


def test_metrics_figure_adds_each_baselines_auc_and_ap_as_dashed_lines():
    fig = figures.training_metrics_figure([_epoch(1), _epoch(2)], BASELINES, epochs=4)
    lines = [t for t in fig.data if t.line.dash]
    assert [t.name for t in fig.data[:2]] == ["ROC AUC", "Average precision"]
    assert {t.name for t in lines} == {"gradient boosting AUC 0.910", "gradient boosting AP 0.450",
                                       "logistic regression AUC 0.850", "logistic regression AP 0.300"}
    assert all(list(t.x) == [0.5, 4.5] and t.y[0] == t.y[1] for t in lines)
    assert list(fig.layout.yaxis.range) == [0, 1.02]


def test_empty_history_says_it_is_waiting():
    for fig in (figures.training_loss_figure([]), figures.training_metrics_figure([], {})):
        assert [a.text for a in fig.layout.annotations] == ["Waiting for the first epoch"]
        assert all(len(t.x) == 0 for t in fig.data)


def test_nan_metrics_leave_gaps_instead_of_failing():
    fig = figures.training_metrics_figure([_epoch(1, roc_auc=float("nan")), _epoch(2)], {"x": {"roc_auc": float("nan")}})
    assert fig.data[0].y[0] is None and len(fig.data) == 2  # no reference line for an undefined baseline metric


def test_the_epoch_log_keeps_the_latest_epochs_and_stars_the_best():
    history = [_epoch(n, total=80, best=n == 3) for n in range(1, 81)]
    log = views.epoch_log(history)
    rows = log.children[0].children[1].children
    assert len(rows) == views.LOG_ROWS and component_text(rows[0]).startswith("80 ")
    assert "30 earlier epochs are in the graphs" in component_text(log)
    star = views.epoch_log(history[:5]).children[0].children[1].children[-3]
    assert star.className == "table-success" and component_text(star).startswith("3 ")


def test_versions_curves_overlay_each_version_in_its_own_colour():
    fig = figures.versions_curves_figure([("a", [_epoch(1), _epoch(2)]), ("b", [_epoch(1)])])
    assert [t.name for t in fig.data] == ["a", "a", "b", "b"]
    assert fig.data[0].line.color != fig.data[2].line.color and fig.data[2].line.dash != "solid"


# --- form --------------------------------------------------------------------------------------


def test_form_starts_at_the_config_defaults_with_help_for_every_setting():
    form = views.hyperparameter_form()
    text = component_text(form)
    assert all(k.help in text for k in TRAIN_FIELDS)
    values, _, flags, _ = _form()
    assert views.config_from_form(views.form_data(*_form())) == TrainConfig()
    assert flags == [True, True] and "64,32" in values


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("epochs", 0, "Epochs"), ("hidden_layers", "128,x", "Hidden layers"), ("dropout", 1.5, "Dropout"),
     ("batch_size", None, "Batch size needs a whole number from 32 to 65536"), ("learning_rate", "fast", "Learning rate")],
)
def test_bad_values_are_marked_inline_and_name_the_field(train_page, field, value, words):
    values, ids, _, _ = _form(**{field: value})
    invalid, feedback, message = train_page.check_form(values, ids)
    i = NUMBERS.index(field)
    assert invalid[i] and sum(invalid) == 1
    assert words in feedback[i] and "Fix 1 setting" in component_text(message)


def test_a_valid_form_shows_no_errors(train_page):
    values, ids, _, _ = _form(epochs=3, hidden_layers="64, 32")
    invalid, feedback, message = train_page.check_form(values, ids)
    assert not any(invalid) and not any(feedback) and message is None


def test_train_refuses_an_invalid_form_without_starting_a_run(train_page, models_dir, mapped):
    calls = []
    view = train_page.train(calls.append, 1, *_form(epochs=-1), mapped.id)
    assert "Epochs must be a whole number" in component_text(view)
    assert calls == [] and RunStore(models_dir).list_runs() == []
    with pytest.raises(PreventUpdate):
        train_page.train(calls.append, None, *_form(), mapped.id)


# --- dataset status -------------------------------------------------------------------------


def test_without_a_dataset_the_page_points_to_data_and_train_is_off(train_page):
    view, disabled = train_page.show_dataset(None)
    assert "No dataset chosen" in component_text(view) and disabled
    view, disabled = train_page.show_dataset("ds-000000000000")
    assert "No dataset chosen" in component_text(view) and disabled


def test_an_unmapped_dataset_points_to_mapping(train_page, app_settings):
    workspace = Workspace(app_settings.data_dir)
    meta = workspace.add_dataset(generate(SynthConfig(rows=2_000, seed=1, days=10)), name="unmapped-train", source="generated")
    view, disabled = train_page.show_dataset(meta.id)
    assert "no saved mapping" in component_text(view) and disabled
    message = train_page.train(lambda _: None, 1, *_form(), meta.id)
    assert "no saved mapping" in component_text(message)


def test_a_mapped_dataset_enables_train(train_page, mapped):
    view, disabled = train_page.show_dataset(mapped.id)
    assert mapped.name in component_text(view) and "20,000 mapped rows" in component_text(view) and not disabled


# --- follow mode --------------------------------------------------------------------------


def _start(models_dir, name="follow-set", owner="local", epochs=6):
    return RunStore(models_dir).start(owner=owner, dataset_id="ds-000000000001", dataset_name=name,
                                      config=TrainConfig(epochs=epochs).to_dict(), epochs_total=epochs)


def _follow(train_page, own=None, followed=None) -> dict:
    names = ["loss", "metrics", "progress", "label", "stage", "log", "note", "followed", "interval_off", "cancel_off", "result"]
    return dict(zip(names, train_page.follow(0, own, followed)))


def test_follow_with_no_run_shows_empty_graphs_and_stops_polling(train_page, models_dir):
    out = _follow(train_page)
    assert out["interval_off"] and out["cancel_off"] and out["followed"] is None and out["result"] is None
    assert all(len(t.x) == 0 for t in out["loss"].data)


def test_follow_renders_a_running_run_from_its_record_and_keeps_polling(train_page, models_dir):
    runs = RunStore(models_dir)
    run = _start(models_dir)
    try:
        runs.set_stage(run.id, "Training")
        runs.add_baseline(run.id, "logistic_regression", BASELINES["logistic_regression"])
        for n in (1, 2):
            runs.append_epoch(run.id, _epoch(n))
        out = _follow(train_page, own=run.id)
        assert list(out["loss"].data[0].x) == [1, 2] and len(out["metrics"].data) == 4  # two curves + two baseline lines
        assert out["progress"] == 33 and out["label"] == "2/6 epochs"
        stage = component_text(out["stage"])
        assert "Training" in stage and "epoch 2 of 6" in stage and "about 2.0 s left" in stage
        assert len(out["log"].children[0].children[1].children) == 2 and "0.3000" in component_text(out["log"])
        assert out["followed"] == run.id and not out["interval_off"] and not out["cancel_off"]
        assert out["note"] is None and out["result"] is None  # this browser's own run: no "following" banner
    finally:
        runs.finish(run.id, "cancelled", message="test over")


def test_another_browser_follows_the_newest_running_run_and_says_whose(train_page, models_dir):
    """The local user is an admin: with no run of its own it follows anyone's newest one."""
    runs = RunStore(models_dir)
    older, newer = _start(models_dir, name="older-data", owner="bob"), _start(models_dir, name="newer-data", owner="alice")
    try:
        out = _follow(train_page)
        assert out["followed"] == newer.id
        assert "Following alice's run" in component_text(out["note"]) and "newer-data" in component_text(out["note"])
        # Its own run wins once it has one; a followed run stays followed.
        assert _follow(train_page, own=older.id)["followed"] == older.id
        assert _follow(train_page, followed=older.id)["followed"] == older.id
    finally:
        runs.finish(older.id, "failed", message="Out of memory: use a smaller batch size.")
        runs.finish(newer.id, "cancelled")
    out = _follow(train_page, followed=older.id)
    assert out["interval_off"] and out["cancel_off"]
    text = component_text(out["result"])
    assert "Training failed" in text and "smaller batch size" in text and "Traceback" not in text
    assert "cancelled" in component_text(_follow(train_page, followed=newer.id)["result"]).lower()


def test_cancel_asks_the_followed_run_to_stop(train_page, models_dir):
    runs = RunStore(models_dir)
    run = _start(models_dir)
    try:
        note = train_page.cancel(1, run.id, None)
        assert runs.cancel_requested(run.id) and "Stop requested" in component_text(note)
    finally:
        runs.finish(run.id, "cancelled")
    with pytest.raises(PreventUpdate):
        train_page.cancel(1, None, None)


# --- a real (short) run through the background callback's function --------------------------


def test_train_streams_every_event_and_follow_shows_the_saved_version(train_page, models_dir, mapped):
    updates = []
    message = train_page.train(updates.append, 1, *_form(epochs=2, baselines=False, batch_size=2048), mapped.id)
    assert message is None
    run_id = updates[0][6]
    assert run_id.startswith("run-") and all(u[6] == run_id and u[7] == run_id for u in updates)
    epoch_updates = [u for u in updates if len(u[0].data[0].x)]
    assert [len(u[0].data[0].x) for u in epoch_updates][-1] == 2  # full figures each time, one more point per epoch
    assert len(json.dumps(updates[-1][0].to_plotly_json(), default=str)) < 50_000
    record = RunStore(models_dir).get(run_id)
    assert record.status == "finished" and record.version in {v.id for v in ModelRegistry(models_dir).list_versions()}
    out = _follow(train_page, own=run_id)
    text = component_text(out["result"])
    assert "Training finished" in text and record.version in text and out["interval_off"]
    assert out["label"] == "2/2 epochs" and out["progress"] == 100
