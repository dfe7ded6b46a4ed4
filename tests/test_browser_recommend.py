"""The Recommend page driven as a user would, in headless Chromium.

A short fraud model is trained through core into the test session's models folder (the same
helper as the Predict page tests) and made the active version. The browser opens Recommend,
trains the implicit recommender with the page's button (a background job), sees the evaluation
against popularity, picks a user and gets merchants that user never used, and sees the merchant map.
Set ``TXLAB_SCREENSHOTS=<folder>`` to save screenshots.
"""
from __future__ import annotations


import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from core.recommend import load_implicit, recommender_folder
from core.recommend.sources import SOURCE_LABELS
from core.registry import ModelRegistry
from core.workspace import Workspace
from tests.browser_actions import PAGE, click, screenshot, wait_for
from tests.browser_support import failed_requests
from tests.test_predict_page import train_version

JOB = 120  # seconds for the recommender's background job (two implicit-model fits and an evaluation)
K = 10  # the page's default "How many"

SNAPSHOT_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
const button = s => { const e = document.querySelector(s); return e ? e.disabled : null; };
const rows = s => [...document.querySelectorAll(s + ' tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim()));
const figure = s => {
  const g = document.querySelector(s + ' .js-plotly-plot');
  if (!g || !g._fullData) return null;
  const title = (g.layout || {}).title || {};
  return {traces: g._fullData.length, points: g._fullData.reduce((n, t) => n + ((t.x || []).length), 0),
          title: title.text || null, subtitle: (title.subtitle || {}).text || null,
          annotations: ((g.layout || {}).annotations || []).map(a => a.text), noWebgl: !!g.querySelector('.no-webgl')};
};
return {
  context: text('#recommend-context-line'),
  source: text('#recommend-source-line'),
  noEvaluation: !!document.querySelector('#recommend-no-evaluation'),
  evaluation: rows('#recommend-evaluation-table'),
  inUse: [...document.querySelectorAll('#recommend-evaluation-table tbody tr')].filter(r => r.querySelector('.badge')).map(r => r.cells[0].innerText),
  trainOff: button('#recommend-train'),
  cancelOff: button('#recommend-cancel'),
  progress: text('#recommend-train-progress'),
  message: text('#recommend-train-message'),
  userHint: text('#recommend-user-hint'),
  user: text('#recommend-user'),
  userRows: rows('#recommend-user-table'),
  map: figure('#recommend-map'),
  errors: [...document.querySelectorAll('.alert-danger')].map(e => e.innerText),
};
"""


@pytest.fixture
def trained(app_settings, txlab_app):
    """A short fraud model on a planted dataset (400 users, 60 merchants), the active version for this test."""
    version = train_version(app_settings.data_dir, app_settings.models_dir)
    ModelRegistry(app_settings.models_dir).set_active(version.version)
    return version


@pytest.mark.browser
def test_train_the_implicit_recommender_then_recommend_new_merchants_to_a_user(dash_duo, txlab_app, trained, app_settings):
    frame = Workspace(app_settings.data_dir).load_mapped(trained.dataset.id)
    user = str(frame["user_id"].value_counts().index[0])  # the busiest user: the most merchants to leave out
    used = set(frame.loc[frame["user_id"] == user, "merchant_id"].astype(str))
    n_users, n_merchants = frame["user_id"].nunique(), frame["merchant_id"].nunique()
    assert len(used) < n_merchants - K  # enough merchants left to recommend K

    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/recommend", timeout=PAGE)

    # The active version and its dataset are named; no recommender was trained on this dataset yet.
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["context"] and s["noEvaluation"] and s["trainOff"] is False and s["map"] and s["map"]["points"] > 0,
                     "the page should show the model, no evaluation yet, and the fraud model's merchant map")
    assert trained.version in seen["context"] and trained.dataset.name in seen["context"], seen
    assert f"{n_users:,} users, {n_merchants:,} merchants" in seen["context"], seen
    assert "Fraud model embeddings" in seen["source"] and "no evaluation yet" in seen["source"], seen
    assert seen["cancelOff"] is True and seen["userHint"] == "Choose a user." and not seen["errors"], seen

    # Train the implicit recommender in the background: the evaluation table replaces the hint.
    click(dash_duo, dash_duo.find_element("#recommend-train"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "Implicit recommender saved" in (s["message"] or "") and len(s["evaluation"]) == 3, "the job should finish and show the evaluation", JOB)
    stored = load_implicit(recommender_folder(app_settings.models_dir, trained.dataset.id))
    chosen = SOURCE_LABELS[stored.info["evaluation"]["chosen"]]
    assert {row[0].replace("in use", "").strip() for row in seen["evaluation"]} == set(SOURCE_LABELS.values()), seen
    assert all(0 <= float(row[1]) <= 1 and 0 <= float(row[2]) <= 1 and int(row[3].replace(",", "")) > 0 for row in seen["evaluation"]), seen
    assert len(seen["inUse"]) == 1 and chosen in seen["inUse"][0], seen
    assert f"{chosen} recommends best" in seen["message"] and (seen["progress"] or "").startswith("Done in"), seen
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: chosen in (s["source"] or "") and s["map"] and chosen in (s["map"]["subtitle"] or ""),
                     "the page should switch to the embeddings the evaluation chose")
    assert "chosen: best HR@10" in seen["source"] and seen["trainOff"] is False and seen["cancelOff"] is True, seen
    assert seen["map"]["title"] == "Merchant embeddings (PCA)" and seen["map"]["points"] == n_merchants, seen
    assert f"{n_merchants:,} of {n_merchants:,} merchants" in seen["map"]["subtitle"] and not seen["map"]["annotations"], seen
    assert not seen["map"]["noWebgl"], seen  # drawn, not plotly's "WebGL is not supported" overlay

    # A user: K merchants, best first, none of which the user already used.
    _pick(dash_duo, "#recommend-user", user)
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: len(s["userRows"]) == K, f"{K} recommendations for {user} should appear")
    recommended = [row[1] for row in seen["userRows"]]
    assert [row[0] for row in seen["userRows"]] == [str(i) for i in range(1, K + 1)], seen
    assert len(set(recommended)) == K and not set(recommended) & used, (recommended, sorted(used))
    assert set(recommended) <= set(frame["merchant_id"].astype(str)), recommended
    scores = [float(row[2]) for row in seen["userRows"]]
    assert scores == sorted(scores, reverse=True), scores
    assert not seen["errors"], seen
    screenshot(dash_duo, "txlab_recommend")
    screenshot(dash_duo, "txlab_recommend_evaluation", at="#recommend-evaluation")

    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


# --- helpers -------------------------------------------------------------------------------


def _pick(dash_duo, selector: str, value: str) -> None:
    """Open a searchable dropdown, type ``value`` and click the option that reads exactly ``value``."""
    dropdown = dash_duo.find_element(selector)
    click(dash_duo, dropdown)
    search = dash_duo.wait_for_element(".dash-dropdown-options input, .dash-dropdown-search input, input.dash-dropdown-search", timeout=PAGE)
    search.send_keys(value)

    def pick() -> bool:
        for option in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
            if option.text.strip() == value:
                option.click()
                return True
        return False

    until(pick, timeout=PAGE, msg=f"{selector} should offer {value!r}")
    until(lambda: value in dash_duo.find_element(selector).text, timeout=PAGE, msg=f"{selector} did not take {value!r}")
