"""The Profit & loss page: its figures on hand-computed cases, and its callbacks called directly."""
from __future__ import annotations

from types import SimpleNamespace

import dataclasses
import uuid

import numpy as np
import pandas as pd
import pytest
from dash.exceptions import PreventUpdate

from core.datasets import map_dataset
from core.finance import Assumptions, Breakdown, Ledger, RevenueReport, alerts_per_day
from core.finance.inputs import MoneyData, NoLabelsError, money_data
from core.mapping import suggest_mapping
from core.schema import ColumnMapping
from core.synth import SynthConfig, generate
from core.train import TrainConfig
from core.training_job import run_training
from core.workspace import Workspace
from dashboard import context, figures
from dashboard import money_views as views
from dashboard.components import figures_in
from tests.conftest import component_text as _raw_text
from tests.test_finance import AMOUNT, ASSUME, DAYS, LABELS, SCORES

QUICK = TrainConfig(epochs=1, batch_size=1024, validation_days=5, label_delay_days=1, baselines=False, patience=3)
FORM_IDS = [{"type": views.PARAM, "name": n} for n in ("fee_rate", "chargeback_fee", "recovery_rate", "review_cost", "false_decline_cost", "analyst_capacity")]


def component_text(component) -> str:
    return " ".join(_raw_text(component).split())


def _form(**changes) -> tuple[list, list]:
    values = {**Assumptions().to_dict(), **changes}
    return [values[i["name"]] for i in FORM_IDS], FORM_IDS


# --- figures on the six-transaction case of tests/test_finance.py ----------------------------------


def test_curve_figure_marks_best_and_current_thresholds_and_approve_everything():
    led = Ledger(SCORES, LABELS, AMOUNT, AMOUNT, ASSUME)
    fig = figures.pnl_curve_figure(led.curve([0.0, 0.5, 0.95]), led.at(0.5))
    model, everything, best, current = fig.data
    assert list(model.x) == [0.0, 0.5, 0.95] and list(model.y) == pytest.approx([-27, -30, -184])
    assert list(everything.y) == pytest.approx([-184, -184])
    assert (best.x[0], best.y[0]) == (0.2, pytest.approx(-17)) and best.marker.symbol == "star"
    assert (current.x[0], current.y[0]) == (0.5, pytest.approx(-30))


def test_confusion_figure_counts_each_cell():
    fig = figures.confusion_figure(Ledger(SCORES, LABELS, AMOUNT, AMOUNT, ASSUME).at(0.3))
    heat = fig.data[0]
    assert [list(r) for r in heat.z] == [[1, 2], [1, 2]]  # legit: 1 approved, 2 declined; fraud: 1 missed, 2 caught
    assert heat.text[1][1] == "2<br>33.3%" and "0.3000" in fig.layout.title.text


def test_alerts_per_day_figure_stacks_reviewed_and_unreviewed_under_the_capacity_line():
    fig = figures.alerts_per_day_figure(alerts_per_day(SCORES, DAYS, 0.15, capacity=1))
    reviewed, over, capacity = fig.data
    assert list(reviewed.y) == [1, 1] and list(over.y) == [2, 1] and list(capacity.y) == [1, 1]
    assert "2 of 2 days over capacity, 3 alerts unreviewed" in fig.layout.title.subtitle.text


def test_breakdown_figure_draws_revenue_up_and_losses_down():
    b = Breakdown(by="country", labels=["C", "B"], transactions=[1, 2], fraud=[1, 0], revenue=[0.0, 8.0],
                  fraud_loss=[30.0, 0.0], cost=[0.0, 7.0], pnl=[-30.0, 1.0])
    revenue, loss, cost, pnl = figures.money_breakdown_figure(b).data
    assert list(revenue.y) == [0, 8] and list(loss.y) == [-30, 0] and list(cost.y) == [0, -7] and list(pnl.y) == [-30, 1]


def test_comparison_table_puts_the_best_strategy_in_bold():
    led = Ledger(SCORES, LABELS, AMOUNT, AMOUNT, ASSUME)
    table = views.comparison_table([("Approve everything", led.approve_all()), ("Best", led.best())])
    rows = table.children.children[1].children
    assert "-184.00" in component_text(rows[0]) and rows[0].className is None
    assert "-17.00" in component_text(rows[1]) and rows[1].className == "fw-bold"


# --- callbacks on a small trained model --------------------------------------------------------------


@pytest.fixture(scope="module")
def money_page(txlab_app):
    from dashboard.pages import money

    return money


@pytest.fixture(scope="module")
def setup(app_settings, txlab_app, tmp_path_factory):
    """A mapped dataset with a fee column holding a few unreadable cells, and a one-epoch model."""
    root = tmp_path_factory.mktemp("money")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=root / "models", cache_dir=root / "cache"))
        workspace = Workspace(app_settings.data_dir)
        frame = generate(SynthConfig(rows=4000, days=20, fraud_rate=0.05, seed=2))
        fee = (frame["amount"] * 0.03).round(2).astype(str)
        fee.iloc[[3, 10, 11]] = ["n/a?", "abc", "??"]
        frame["merchant_fee"] = fee
        meta = workspace.add_dataset(frame, name=f"money-{uuid.uuid4().hex[:6]}", source="generated")
        report, _ = map_dataset(workspace, meta.id, suggest_mapping(frame).to_mapping())
        assert report.ok
        record = run_training(workspace=workspace, models_dir=root / "models", dataset_id=meta.id, config=QUICK)
        assert record.status == "finished"
        yield workspace, meta.id, record.version


def test_without_a_model_or_dataset_compute_says_what_to_do(money_page, setup):
    _, dataset_id, _ = setup
    with pytest.raises(PreventUpdate):
        money_page.compute(lambda _: None, None, "active", dataset_id, "amount", *_form())
    key, _, message, _ = money_page.compute(lambda _: None, 1, None, dataset_id, "amount", *_form())
    assert key is money_page.no_update and "train one on the Train page" in component_text(message)
    _, _, message, _ = money_page.compute(lambda _: None, 1, "active", None, "amount", *_form())
    assert "Choose a mapped dataset" in component_text(message)
    main, _, _ = money_page.show(None, 0.5, None, "day")
    assert "Compute" in component_text(main)


def test_pickers_default_to_the_active_model_and_the_session_dataset(money_page, setup):
    _, dataset_id, version = setup
    options, model, datasets, chosen = money_page.fill_pickers(dataset_id, None)
    assert model == version and version in [o["value"] for o in options] and chosen == dataset_id
    revenue_options, detected = money_page.fill_revenue(dataset_id)
    assert detected == "merchant_fee" and "amount" in [o["value"] for o in revenue_options]


def test_the_slider_moves_along_log_thresholds():
    assert views.to_slider(0.01) == -2 and views.from_slider(-2) == 0.01
    assert views.to_slider(0.0) == views.SLIDER_MIN and views.to_slider(1.5) == 0  # approve-all thresholds sit above 1
    assert views.from_slider(None) == 0.5 and abs(views.from_slider(views.to_slider(0.0117)) - 0.0117) < 0.0003
    assert views.SLIDER_MARKS[-3] == "0.001"


def test_the_slider_and_the_typed_threshold_follow_each_other(money_page, monkeypatch):
    monkeypatch.setattr(money_page.dash, "ctx", SimpleNamespace(triggered_id="money-threshold"))
    assert money_page.follow_threshold(-2, 0.5) == (money_page.no_update, 0.01, False)
    monkeypatch.setattr(money_page.dash, "ctx", SimpleNamespace(triggered_id="money-threshold-exact"))
    assert money_page.follow_threshold(-2, 0.0372) == (views.to_slider(0.0372), money_page.no_update, False)
    for bad in (1.5, -0.1, None, "", "abc"):
        assert money_page.follow_threshold(-2, bad) == (money_page.no_update, money_page.no_update, True), bad


def test_a_fee_column_gets_a_fee_rate_of_one(money_page):
    assert money_page.fee_rate_for("merchant_fee") == 1.0
    with pytest.raises(PreventUpdate):
        money_page.fee_rate_for("amount")


def test_bad_assumptions_are_marked_and_refused(money_page, setup):
    _, dataset_id, _ = setup
    invalid, feedback = money_page.check_form(*_form(fee_rate=2, review_cost=-1))
    assert invalid == [True, False, False, True, False, False]
    assert "Fee / margin rate must be between 0 and 1" in feedback[0]
    _, _, message, _ = money_page.compute(lambda _: None, 1, "active", dataset_id, "amount", *_form(recovery_rate=3))
    assert "Share of fraud recovered must be between 0 and 1" in component_text(message)


def test_compute_scores_once_reports_unreadable_revenue_and_the_slider_updates_the_views(money_page, setup):
    _, dataset_id, version = setup
    said = []
    key, threshold, message, notes = money_page.compute(said.append, 1, "active", dataset_id, "merchant_fee", *_form())
    assert message is None and key["version"] == version and threshold == views.analysis(key).curve.best.threshold
    assert any("Scoring 4,000 transactions" in s[0] for s in said)
    assert "3 of 4,000 values in 'merchant_fee' could not be read" in component_text(notes) and "'abc'" in component_text(notes)
    said.clear()
    money_page.compute(said.append, 1, "active", dataset_id, "merchant_fee", *_form())
    assert not any("Scoring" in s[0] for s in said)  # the second time the scores come from the cache

    main, charts, summary = money_page.show(key, 0.0001, None, "week")  # everything alerted
    figs = figures_in(main)
    assert [f.layout.title.text for f in figs][:2] == ["Profit and loss by decision threshold", "Confusion matrix at 0.0001"]
    assert "Alerts per day" == figs[2].layout.title.text
    assert [f.layout.title.text.split(":")[0] for f in figures_in(charts)] == ["By country", "By device", "By merchant", "Per week"]
    text = component_text(main)
    assert "Approve everything" in text and "Amount rule, best cut" in text and "Model at the best threshold" in text
    assert "threshold 0.0001" in component_text(summary)
    # every transaction alerted: 4,000 alerts, and with the default capacity of 1,000 a day all are reviewed (~200/day)
    assert "4,000 alerts, 4,000 reviewed" in component_text(summary)

    moved, _, summary_high = money_page.show(key, 1, 100.0, "day")
    assert "Confusion matrix at 1.0000" == figures_in(moved)[1].layout.title.text
    assert "0 alerts" in component_text(summary_high) and "amount ≥ 100.00" in component_text(moved)


def test_summary_matches_the_core_ledger(money_page, setup):
    workspace, dataset_id, version = setup
    key, *_ = money_page.compute(lambda _: None, 1, version, dataset_id, "amount", *_form(analyst_capacity=5))
    result = views.analysis(key)
    best = result.model.best()
    summary = money_page.show(key, 0.3, None, "day")[2]
    assert f"best {best.pnl:,.2f}" in component_text(summary)
    everything = result.model.at(0.0)  # capacity 5 a day binds on ~200 transactions a day
    assert everything.reviewed == 5 * 20 and everything.unreviewed == 4000 - 100


def test_a_dataset_without_labels_is_explained(money_page, setup, app_settings):
    workspace, _, _ = setup
    frame = generate(SynthConfig(rows=1000, days=5, seed=9)).drop(columns=["is_fraud"])
    meta = workspace.add_dataset(frame, name="unlabelled", source="generated")
    mapping = ColumnMapping(fields={"amount": "amount", "timestamp": "timestamp", "country": "country"})
    mapped = frame[["amount", "timestamp", "country"]]
    workspace.save_mapping(meta.id, mapping, mapped, {})
    key, _, message, _ = money_page.compute(lambda _: None, 1, "active", meta.id, "amount", *_form())
    assert key is money_page.no_update and "has no label column mapped" in component_text(message)
    with pytest.raises(NoLabelsError, match="no label column"):
        money_data(workspace, meta.id, np.zeros(1000), "amount")


def test_without_a_timestamp_capacity_and_time_views_say_why_they_are_missing(txlab_app):
    frame = pd.DataFrame({"score": SCORES, "label": LABELS, "amount": AMOUNT, "revenue": AMOUNT,
                          "country": pd.Categorical(["A", "B", "A", "B", "C", "C"])})
    data = MoneyData(frame, RevenueReport("amount", 6), amount_missing=0)
    result = views.Analysis.of(data, ASSUME)
    v = views.threshold_views(result, 0.5, 90.0, "day")
    assert "No timestamp mapped" in v.alerts.layout.annotations[0].text
    assert [f.layout.title.text.split(":")[0] for f in v.breakdowns] == ["By country"]  # nothing over time
    assert "No timestamp is mapped" in component_text(views.data_notes(data))
    text = component_text(v.comparison)
    assert "Amount rule, amount ≥ 90.00 -18.00" in text  # rows 0 and 2 (amounts 100, 200) flagged, by hand in test_finance
    assert "P&L -30.00 at threshold 0.5000" in component_text(v.summary)


def test_the_views_use_the_exact_typed_threshold(money_page, setup):
    _, dataset_id, _ = setup
    key, *_ = money_page.compute(lambda _: None, 1, "active", dataset_id, "amount", *_form())
    main, _, summary = money_page.show(key, 0.0372, None, "day")
    assert figures_in(main)[1].layout.title.text == "Confusion matrix at 0.0372" and "threshold 0.0372" in component_text(summary)
    with pytest.raises(PreventUpdate):
        money_page.show(key, 2, None, "day")  # the field is marked invalid instead

