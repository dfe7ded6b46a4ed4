"""The Recommend page's callbacks, called directly on a small dataset with planted preferences and a trained model."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
from dash.exceptions import PreventUpdate

from core.mapping import apply_mapping, suggest_mapping
from core.recommend import Interactions, load_implicit, recommender_folder
from core.recommend.planted import plant_preferences
from core.registry import ModelRegistry
from core.synth import SynthConfig, generate
from core.train import train_model
from core.train_config import TrainConfig
from core.workspace import Workspace
from dashboard import context
from dashboard.components import find_component
from tests.conftest import component_text as _raw_text


def component_text(component) -> str:
    return " ".join(_raw_text(component).split())


@pytest.fixture(scope="module")
def page(txlab_app):
    from dashboard.pages import recommend

    return recommend


@pytest.fixture(scope="module")
def dataset(app_settings, txlab_app):
    frame = plant_preferences(generate(SynthConfig(rows=20_000, seed=5, days=30)), groups=4, seed=1)
    workspace = Workspace(app_settings.data_dir)
    meta = workspace.add_dataset(frame, name=f"recommend-page-{uuid.uuid4().hex[:6]}", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    out, report = apply_mapping(frame, mapping)
    return workspace.save_mapping(meta.id, mapping, out, report.to_dict())


@pytest.fixture(scope="module")
def trained(dataset, app_settings, tmp_path_factory):
    """A models folder holding one fraud model version trained on ``dataset``."""
    models_dir = tmp_path_factory.mktemp("recommend-models")
    frame = Workspace(app_settings.data_dir).load_mapped(dataset.id)
    mapping = dataset.column_mapping
    result = train_model(frame, TrainConfig(epochs=1, baselines=False), extra_numeric=mapping.extra_numeric,
                         extra_categorical=mapping.extra_categorical)
    weights, description, tables = result.model.artifacts()
    meta = {**description, "hyperparameters": TrainConfig(epochs=1).to_dict(), "metrics": result.metrics, "baselines": {},
            "dataset_id": dataset.id, "dataset_name": dataset.name, "mapping": dataset.mapping}
    version = ModelRegistry(models_dir).save_version(weights=weights, meta=meta, history=result.history, tables=tables)
    return models_dir, version, frame


@pytest.fixture
def with_model(trained, monkeypatch, app_settings):
    models_dir, version, frame = trained
    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=models_dir))
    return version, frame


@pytest.fixture
def no_models(tmp_path, monkeypatch, app_settings):
    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=tmp_path / "models"))


def test_without_a_model_the_page_says_to_train_one(page, no_models):
    layout = page.layout()
    assert "Recommend" in component_text(layout)
    view, categories, countries, evaluation, disabled = page.show_context(None, "auto", None)
    assert "No trained model yet" in component_text(view) and view.id == "recommend-no-model"
    assert categories == countries == [] and disabled is True
    assert page.for_user("U1", None, "auto", 10, None, None, None, None) is None
    assert page.user_options("U", None, None) == []
    assert "No trained model" in component_text(page.show_map(None, "auto", "category", None).layout.annotations[0].text)
    _, message = page.train_recommender(lambda _: None, 1, None)
    assert "No trained model yet" in component_text(message)


def test_the_active_model_is_preselected_and_its_dataset_named(page, with_model):
    version, _ = with_model
    layout = page.layout()
    picker = find_component(layout, "recommend-version")
    assert picker.value == version
    view, categories, countries, evaluation, disabled = page.show_context(version, "auto", None)
    text = component_text(view)
    assert version in text and "recommend-page-" in text and "Fraud model embeddings" in text and "no evaluation yet" in text
    assert {"travel", "cash_withdrawal"} <= {o["value"] for o in categories} and countries and disabled is False
    assert "No evaluation yet" in component_text(evaluation)


def test_user_recommendations_are_a_table_of_k_new_merchants(page, with_model):
    version, frame = with_model
    user = frame["user_id"].value_counts().index[0]
    options = page.user_options(user[:5], version, None)
    assert user in {o["value"] for o in options} and len(options) <= 50
    table = page.for_user(user, version, "auto", 5, None, None, None, None)
    assert table.id == "recommend-user-table"
    recommended = [row.children[1].children for row in table.children[1].children]
    assert len(recommended) == 5 and not set(recommended) & set(frame.loc[frame["user_id"] == user, "merchant_id"])
    category = table.children[1].children[0].children[3].children
    safe = page.for_user(user, version, "auto", 50, 5, category, None, None)
    rows = safe.children[1].children
    assert rows and all(r.children[3].children == category and float(r.children[5].children.rstrip("%")) <= 5 for r in rows)
    none = page.for_user(user, version, "auto", 5, 0, category, "XX", None)
    assert "No merchant passes the filters" in component_text(none)
    assert "between 0 and 100" in component_text(page.for_user(user, version, "auto", 5, 500, None, None, None))
    assert "has no transactions" in component_text(page.for_user("nobody", version, "auto", 5, None, None, None, None))


def test_similar_merchants_and_the_map(page, with_model):
    version, frame = with_model
    merchant = frame["merchant_id"].value_counts().index[0]
    table = page.like_merchant(merchant, version, "auto", 4, None, None, None, None)
    names = [row.children[1].children for row in table.children[1].children]
    assert len(names) == 4 and merchant not in names
    fig = page.show_map(version, "auto", "category", None)
    assert sum(len(t.x) for t in fig.data) <= 2000 and len(fig.data) > 1
    assert "fraud rate" in fig.data[0].hovertemplate and "Fraud model embeddings" in fig.layout.title.subtitle.text
    assert len(page.show_map(version, "auto", "fraud_rate", None).data) == 1


def test_training_the_implicit_recommender_evaluates_saves_and_switches_the_page(page, with_model, app_settings):
    version, frame = with_model
    with pytest.raises(PreventUpdate):
        page.train_recommender(lambda _: None, None, version)
    view, *_ = page.show_context(version, "implicit", None)
    assert "No implicit recommender" in component_text(view)  # the button stays usable
    updates: list = []
    stamp, message = page.train_recommender(updates.append, 1, version)
    assert isinstance(stamp, float) and "recommends best" in component_text(message)
    assert any("epoch" in u[0] for u in updates) and updates[-1][0].startswith("Done")
    dataset_id = frame.attrs.get("dataset_id") or ModelRegistry(context.settings().models_dir).load(version).meta["dataset_id"]
    stored = load_implicit(recommender_folder(context.settings().models_dir, dataset_id))
    assert stored.info["fraud_model_version"] == version and stored.info["evaluation"]["chosen"] in ("implicit", "fraud_model")
    view, _, _, evaluation, _ = page.show_context(version, "auto", stamp)
    table_text = component_text(evaluation)
    assert "HR@10" in table_text and "Popularity" in table_text and "Implicit-feedback model" in table_text
    assert "chosen: best HR@10" in component_text(view)
    user = frame["user_id"].value_counts().index[3]
    table = page.for_user(user, version, "implicit", 5, None, None, None, stamp)
    recommended = [row.children[1].children for row in table.children[1].children]
    assert len(recommended) == 5 and not set(recommended) & set(frame.loc[frame["user_id"] == user, "merchant_id"])
    assert Interactions.from_frame(frame).n_users > 0


def test_the_page_warns_when_no_embedding_source_beats_popularity(page, no_models):
    from types import SimpleNamespace

    from core.recommend import Evaluation, EvaluationRow
    from dashboard import recommend_views as views

    evaluation = Evaluation(10, [EvaluationRow("fraud_model", 0.01, 0.005, 100), EvaluationRow("implicit", 0.20, 0.11, 100),
                                 EvaluationRow("popularity", 0.21, 0.12, 100)])
    ctx = SimpleNamespace(version="v-1", dataset_name="synth", interactions=SimpleNamespace(n_users=10, n_merchants=5),
                          evaluation=evaluation, implicit=SimpleNamespace(info={"fraud_model_version": "v-0"}), implicit_problem=None)
    text = component_text(views.context_view(ctx, "implicit"))
    assert "chosen: best HR@10" in text and "Neither embedding source beats" in text and "version v-0" in text
    table = views.evaluation_table(evaluation)
    assert "in use" in component_text(table.children[0].children[1].children[1])


def test_the_version_follows_the_session_dataset():
    from types import SimpleNamespace as V

    from dashboard.recommend_views import version_for_dataset

    infos = [V(id="v3", dataset_id="ds-b", active=False), V(id="v2", dataset_id="ds-a", active=False),
             V(id="v1", dataset_id="ds-a", active=True)]
    assert version_for_dataset(infos, "ds-a", "v3") == "v1"  # the active one, trained on the session's dataset
    assert version_for_dataset(infos, "ds-a", "v2") == "v2"  # a choice on that dataset is kept
    assert version_for_dataset(infos, "ds-b", "v1") == "v3"  # else the newest on it
    assert version_for_dataset(infos, "ds-c", "v1") is None and version_for_dataset(infos, None, "v1") is None


def test_choosing_a_dataset_picks_a_version_trained_on_it(page, dataset, with_model):
    version = page.follow_session_dataset(dataset.id, None)
    assert version == with_model[0]
    with pytest.raises(PreventUpdate):
        page.follow_session_dataset(dataset.id, version)  # already the right one
    with pytest.raises(PreventUpdate):
        page.follow_session_dataset("ds-000000000000", version)  # no version on that dataset: keep the choice
