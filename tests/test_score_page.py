"""The Score-a-file page's callbacks, called directly: mapping check, the batch job's function, the download."""
from __future__ import annotations

import base64
import dataclasses
import io
import os
import time

import pandas as pd
import pytest
from dash.exceptions import PreventUpdate

from core.predict import score_table
from core.scoring import SCORE_COLUMN
from dashboard import context
from dashboard import predict_views as views
from dashboard.components import figures_in, find_component
from tests.conftest import component_text as _raw_text
from tests.test_predict_page import train_version


def component_text(component) -> str:
    return " ".join(_raw_text(component).split())


@pytest.fixture(scope="module")
def trained(app_settings, txlab_app, tmp_path_factory):
    return train_version(app_settings.data_dir, tmp_path_factory.mktemp("score-models"))


@pytest.fixture(scope="module")
def score_page(txlab_app):
    from dashboard.pages import score

    return score


@pytest.fixture
def model(trained, monkeypatch, app_settings, tmp_path):
    """This module's model, and a cache folder of this test's own (scored files, uploads)."""
    monkeypatch.setattr(context, "_settings", dataclasses.replace(app_settings, models_dir=trained.models_dir, cache_dir=tmp_path / "cache"))
    return trained


def _upload(score_page, frame: pd.DataFrame, name: str) -> dict:
    contents = "data:text/csv;base64," + base64.b64encode(frame.to_csv(index=False).encode()).decode()
    store, message = score_page.upload_file(contents, name)
    assert store["name"] == name and "Read" in component_text(message), component_text(message)
    return store


def test_a_stored_dataset_shows_which_column_feeds_which_field(score_page, model):
    options, value = score_page.list_sources(None, model.dataset.id, None)
    assert value == model.dataset.id and model.dataset.id in [o["value"] for o in options]  # the session's dataset first
    view, score_off = score_page.check_mapping(model.version, model.dataset.id, None)
    rows = [component_text(r) for r in find_component(view, "score-mapping-table").children[1].children]
    assert "amount Amount (EUR)" in rows and "merchant_id Merchant" in rows and "timestamp When" in rows
    assert not any("is_fraud" in r for r in rows)  # the label is never read for scoring
    assert not score_off and "cannot be scored" not in component_text(view)


def test_an_upload_lacking_a_column_is_named_and_cannot_be_scored(score_page, model):
    store = _upload(score_page, model.raw.drop(columns=["Amount (EUR)"]).head(300), "no-amount.csv")
    options, value = score_page.list_sources(store, None, None)
    assert value == f"upload:{store['id']}" and options[0]["label"].startswith("Uploaded: no-amount.csv (300 rows)")
    view, score_off = score_page.check_mapping(model.version, value, store)
    missing = component_text(find_component(view, "score-missing"))
    assert "lacks column 'Amount (EUR)' (for amount)" in missing and score_off
    result, scored = score_page.score(lambda _: None, 1, model.version, value, store, "csv")
    assert scored is None and "Amount (EUR)" in component_text(result) and "Traceback" not in component_text(result)


def test_a_forged_upload_id_reads_no_file(score_page, model):
    forged = {"id": "../../etc/passwd", "name": "x.csv", "columns": [], "rows": 1}
    view, score_off = score_page.check_mapping(model.version, "upload:../../etc/passwd", forged)
    assert "no longer available" in component_text(view) and score_off


def test_scoring_a_dataset_streams_progress_and_shows_distribution_top_rows_and_a_file(score_page, model, app_settings):
    updates = []
    result, scored = score_page.score(updates.append, 1, model.version, model.dataset.id, None, "csv")
    text = component_text(result)
    assert "Scored 4,000 rows" in text and model.version in text, text
    values = [u[0] for u in updates]
    assert values[0] == 0 and values[-1] == 100 and values == sorted(values) and len(values) >= 4
    # The histogram is built from binned counts of every row's score.
    fig = figures_in(result)[0]
    assert sum(fig.data[0].y) == 4000 and len(fig.data[0].x) == views.SCORE_BINS
    # The file is under cache/scored with a name the app chose, and holds every row with its score.
    path = context.settings().cache_folder / "scored" / f"{scored['id']}.csv"
    assert path.exists() and scored["fmt"] == "csv" and scored["name"] == model.dataset.name
    written = pd.read_csv(path)
    assert len(written) == 4000 and SCORE_COLUMN in written.columns
    expected = score_table(*_model(model), model.raw)
    assert abs(written[SCORE_COLUMN].to_numpy() - expected).max() < 1e-9
    # The top 50 rows, highest score first.
    table = find_component(result, "score-top")
    rows = table.children[1].children.children[1].children
    shown = [float(r.children[0].children) for r in rows]
    assert len(rows) == 50 and shown == sorted(shown, reverse=True) and shown[0] == pytest.approx(expected.max(), abs=1e-4)
    assert not score_page.enable_download(scored) and score_page.enable_download(None)


def test_the_download_is_the_scored_csv_with_formula_cells_escaped(score_page, model):
    _, scored = score_page.score(lambda _: None, 1, model.version, model.dataset.id, None, "csv")
    sent = score_page.download(1, scored)
    assert sent["filename"].endswith("-scored.csv") and "/" not in sent["filename"]
    content = base64.b64decode(sent["content"]).decode() if sent.get("base64") else sent["content"]
    frame = pd.read_csv(io.StringIO(content), dtype={"note": str})
    assert set(frame["note"]) == {"ok", "'=1+2", "'@SUM(A1)", "'-call back", "plain text"}
    assert not any(str(v).startswith(("=", "+", "-", "@")) for col in frame.columns if not pd.api.types.is_numeric_dtype(frame[col]) for v in frame[col])
    assert len(frame) == 4000 and SCORE_COLUMN in frame.columns


def test_parquet_output_and_forged_download_ids(score_page, model):
    _, scored = score_page.score(lambda _: None, 1, model.version, model.dataset.id, None, "parquet")
    sent = score_page.download(1, scored)
    assert sent["filename"].endswith("-scored.parquet")
    frame = pd.read_parquet(io.BytesIO(base64.b64decode(sent["content"])))
    assert frame["note"].iloc[1] == "=1+2" and len(frame) == 4000  # Parquet keeps the text as is
    for forged in ({"id": "../../secret_key", "fmt": "csv"}, {"id": scored["id"], "fmt": "sh"}, None):
        with pytest.raises(PreventUpdate):
            score_page.download(1, forged)


def test_an_unreadable_upload_is_an_alert(score_page, model):
    contents = "data:text/csv;base64," + base64.b64encode(b"").decode()
    store, message = score_page.upload_file(contents, "empty.csv")
    assert store is score_page.no_update and "Could not read empty.csv" in component_text(message)


def _model(model):
    entry = views.loaded_model(model.models_dir, model.version)
    return entry.model, entry.meta


def test_old_scored_files_are_removed_when_a_new_one_is_written(score_page, model):
    folder = context.settings().cache_folder / "scored"
    folder.mkdir(parents=True, exist_ok=True)
    old, fresh = folder / f"{'a' * 32}.csv", folder / f"{'b' * 32}.csv"
    old.write_text("x\n1\n")
    fresh.write_text("x\n1\n")
    stale = time.time() - views.KEEP_FILES_S - 60
    os.utime(old, (stale, stale))
    _, scored = score_page.score(lambda _: None, 1, model.version, model.dataset.id, None, "csv")
    assert not old.exists() and fresh.exists() and (folder / f"{scored['id']}.csv").exists()
