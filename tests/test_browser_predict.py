"""The Predict and Score-a-file pages driven as a user would, in headless Chromium.

A short model is trained through core into the test session's models folder. One transaction
is scored with a merchant typed in that the model never saw, and its explanation chart shown;
then a file is uploaded on the Score page, scored in the background and downloaded.
Set ``TXLAB_SCREENSHOTS=<folder>`` to save screenshots.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from dashboard import predict_views
from tests.browser_actions import PAGE, click, screenshot, wait_for
from tests.browser_support import failed_requests
from tests.test_predict_page import train_version

NEW_MERCHANT = "M-brand-new"
SLOW_STEP_S = 2.0  # per progress report in the Cancel test

SNAPSHOT_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
const plot = s => document.querySelector(s + ' .js-plotly-plot');
const bars = s => { const g = plot(s); return g && g.data && g.data[0] ? (g.data[0].y || []).length : -1; };
const button = s => { const e = document.querySelector(s); return e ? e.disabled : null; };
return {
  form: document.querySelectorAll('#predict-form-fields .col-md-6').length,
  probability: text('#predict-probability'),
  decision: text('#predict-decision'),
  newValues: text('#predict-new-values'),
  baseline: text('#predict-baseline'),
  explanationBars: bars('#predict-explanation'),
  predictResult: text('#predict-result'),
  mapping: text('#score-mapping'),
  scoreOff: button('#score-start'),
  cancelOff: button('#score-cancel'),
  summary: text('#score-summary'),
  histogram: bars('#score-histogram'),
  topRows: document.querySelectorAll('#score-top tbody tr').length,
  progress: text('#score-progress-text'),
  downloadOff: button('#score-download-button'),
  result: text('#score-result'),
};
"""


@pytest.fixture
def trained(app_settings, txlab_app):
    return train_version(app_settings.data_dir, app_settings.models_dir)


@pytest.mark.browser
def test_score_one_row_with_explanation_then_score_and_download_a_file(dash_duo, txlab_app, trained, tmp_path):
    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)

    # Predict: the form comes from the version's schema; a typed merchant is accepted and flagged.
    dash_duo.wait_for_page(f"{dash_duo.server_url}/predict?version={trained.version}", timeout=PAGE)
    wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["form"] == 6, "the form should show the model's six fields")
    _type_new_value(dash_duo, "merchant_id", NEW_MERCHANT)
    click(dash_duo, dash_duo.find_element("#predict-score"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["explanationBars"] > 0, "a score with its explanation chart should appear")
    assert seen["probability"].endswith("%") and seen["decision"] in ("Flag as fraud", "Looks legitimate"), seen
    assert f"merchant_id “{NEW_MERCHANT}”" in (seen["newValues"] or ""), seen
    assert "log-odds" in seen["baseline"], seen
    screenshot(dash_duo, "txlab_predict")
    screenshot(dash_duo, "txlab_predict_explanation", at="#predict-baseline")

    # Score a file: upload, see the mapping, score in the background, download the escaped CSV.
    source = tmp_path / "to-score.csv"
    trained.raw.head(3000).to_csv(source, index=False)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/score?version={trained.version}", timeout=PAGE)
    dash_duo.wait_for_element("#score-upload input[type=file]", timeout=PAGE)
    dash_duo.find_element("#score-upload input[type=file]").send_keys(str(source))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "Amount (EUR)" in (s["mapping"] or "") and s["scoreOff"] is False,
                     "the upload's mapping should show and Score turn on")
    click(dash_duo, dash_duo.find_element("#score-start"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["summary"] and s["topRows"] == 50 and s["histogram"] > 0 and s["downloadOff"] is False,
                     "the scores should appear")
    assert "Scored 3,000 rows of “to-score.csv”" in seen["summary"] and seen["progress"] == "3,000 rows scored", seen
    screenshot(dash_duo, "txlab_score")
    screenshot(dash_duo, "txlab_score_result", at="#score-summary")
    click(dash_duo, dash_duo.find_element("#score-download-button"))
    target = Path(dash_duo.download_path) / "to-score-scored.csv"
    until(lambda: target.exists() and target.stat().st_size > 0, timeout=PAGE, msg="the scored CSV should be downloaded")
    time.sleep(0.2)  # let Chromium finish writing the file it just created
    downloaded = pd.read_csv(target, dtype={"note": str})
    assert len(downloaded) == 3000 and "fraud_score" in downloaded.columns
    assert "'=1+2" in set(downloaded["note"]) and "=1+2" not in set(downloaded["note"])

    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_cancel_stops_a_batch_score_and_keeps_no_file(dash_duo, txlab_app, trained, app_settings, tmp_path, monkeypatch):
    # Scoring 3,000 rows takes milliseconds: slow each progress report (the job process is forked
    # from this one, so the patch reaches it) so that Cancel lands while the job runs.
    real_score_table = predict_views.score_table

    def slow_score_table(model, meta, frame, on_progress=None, **options):
        def report(fraction: float) -> None:
            time.sleep(SLOW_STEP_S)
            if on_progress:
                on_progress(fraction)
        return real_score_table(model, meta, frame, on_progress=report, **options)

    monkeypatch.setattr(predict_views, "score_table", slow_score_table)
    scored_folder = Path(app_settings.cache_folder) / "scored"
    before = set(scored_folder.glob("*")) if scored_folder.exists() else set()
    source = tmp_path / "to-cancel.csv"
    trained.raw.head(3000).to_csv(source, index=False)

    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/score?version={trained.version}", timeout=PAGE)
    dash_duo.wait_for_element("#score-upload input[type=file]", timeout=PAGE)
    dash_duo.find_element("#score-upload input[type=file]").send_keys(str(source))
    wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["scoreOff"] is False, "Score should turn on for the upload")
    click(dash_duo, dash_duo.find_element("#score-start"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["scoreOff"] is True and s["cancelOff"] is False, "the job should start")
    click(dash_duo, dash_duo.find_element("#score-cancel"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["scoreOff"] is False and s["cancelOff"] is True, "Cancel should end the job")
    time.sleep(3 * SLOW_STEP_S)  # longer than the job had left: a result would have arrived by now
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: True, "")
    assert not seen["summary"] and seen["downloadOff"] is True and "rows scored" not in (seen["progress"] or ""), seen
    after = set(scored_folder.glob("*")) if scored_folder.exists() else set()
    assert after == before  # no scored file, whole or half-written
    assert dash_duo.get_logs() == []


# --- helpers -------------------------------------------------------------------------------


def _type_new_value(dash_duo, field: str, value: str) -> None:
    """Open a categorical field's dropdown, type a value it does not know and pick the offered "new" option."""
    dom_id = '{"name":"%s","type":"predict-cat"}' % field
    dropdown = dash_duo.driver.find_element(By.XPATH, f"//*[@id='{dom_id}']")
    click(dash_duo, dropdown)
    search = dash_duo.wait_for_element(".dash-dropdown-options input, .dash-dropdown-search input, input.dash-dropdown-search", timeout=PAGE)
    search.send_keys(value)
    label = f"{value} (new to the model)"

    def pick() -> bool:
        for option in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
            if option.text == label:
                option.click()
                return True
        return False

    until(pick, timeout=PAGE, msg=f"the dropdown should offer {label!r}")
    until(lambda: value in dropdown.text, timeout=PAGE, msg=f"{field} did not take {value!r}")
