"""The Profit & loss page driven as a user would, in headless Chromium.

A short fraud model is trained through core on a labelled dataset in the test session's folders
(the same helper as the Predict page tests) and made the active version. The browser session
picks that dataset with the Data page's "Use" button, opens Profit & loss from the navbar,
computes (a background job) and moves the threshold slider with the keyboard.
Set ``TXLAB_SCREENSHOTS=<folder>`` to save screenshots.
"""
from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.keys import Keys

from core.registry import ModelRegistry
from tests.browser_actions import click, screenshot, use_dataset, wait_for
from tests.browser_support import failed_requests
from tests.test_predict_page import train_version

JOB = 120  # seconds for the background job that scores the dataset
ROWS = 4000  # rows of the dataset train_version stores

SNAPSHOT_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
const button = s => { const e = document.querySelector(s); return e ? e.disabled : null; };
const figure = s => {
  const g = document.querySelector(s + ' .js-plotly-plot');
  if (!g || !g.data || !g.data.length) return null;
  const title = (g.layout || {}).title || {};
  return {title: title.text || null, subtitle: (title.subtitle || {}).text || null, z: g.data[0].z || null,
          points: (g.data[0].x || []).length, traces: g.data.map(t => t.name || null)};
};
const handle = document.querySelector('#money-threshold [role=slider]');
return {
  model: text('#money-model'),
  dataset: text('#money-dataset'),
  revenue: text('#money-revenue'),
  runOff: button('#money-run'),
  message: text('#money-message'),
  hint: text('#money-hint'),
  summary: text('#money-summary'),
  curve: figure('#money-curve'),
  confusion: figure('#money-confusion'),
  alerts: figure('#money-alerts'),
  comparison: text('#money-comparison-table'),
  slider: handle ? handle.getAttribute('aria-valuenow') : null,
  exact: (document.querySelector('#money-threshold-exact') || {}).value,
  exactInvalid: (document.querySelector('#money-threshold-exact') || {classList: {contains: () => null}}).classList.contains('is-invalid'),
  errors: [...document.querySelectorAll('.alert-danger')].map(e => e.innerText),
};
"""
SUMMARY = re.compile(r"P&L (?P<pnl>-?[\d,]+\.\d\d) at threshold (?P<threshold>[\d.]+) .*?best (?P<best_pnl>-?[\d,]+\.\d\d) "
                     r"at (?P<best_threshold>[\d.]+)\)\. (?P<alerts>[\d,]+) alerts, (?P<reviewed>[\d,]+) reviewed")


@pytest.fixture
def trained(app_settings, txlab_app):
    """A labelled, mapped dataset and a short model on it, the active version for this test."""
    version = train_version(app_settings.data_dir, app_settings.models_dir)
    ModelRegistry(app_settings.models_dir).set_active(version.version)
    return version


@pytest.mark.browser
def test_compute_profit_and_loss_then_move_the_threshold_with_the_keyboard(dash_duo, txlab_app, trained):
    dash_duo.start_server(txlab_app)
    _use_dataset(dash_duo, trained.dataset)

    # The pickers default to the active version and the session's dataset; nothing computed yet.
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: trained.version in (s["model"] or "") and trained.dataset.name in (s["dataset"] or "")
                     and s["revenue"] and s["runOff"] is False, "the pickers should show the active model and the session's dataset")
    assert "Compute" in (seen["hint"] or "") and seen["curve"] is None and not seen["errors"], seen

    # Compute in the background: the P&L curve, the confusion matrix and the summary appear.
    click(dash_duo, dash_duo.find_element("#money-run"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["summary"] and s["curve"] and s["confusion"], "the analysis should appear", JOB)
    assert seen["curve"]["title"] == "Profit and loss by decision threshold" and seen["curve"]["points"] > 1, seen
    assert seen["confusion"]["title"].startswith("Confusion matrix at ") and _cells(seen) == ROWS, seen
    assert "Approve everything" in seen["comparison"] and "Model at the best threshold" in seen["comparison"], seen
    assert seen["runOff"] is False and not seen["message"] and not seen["errors"], seen
    first = _summary(seen)
    assert seen["confusion"]["title"] == f"Confusion matrix at {first['threshold']}", seen
    # It starts exactly at the best threshold, and the typed-threshold field shows it.
    assert first["threshold"] == first["best_threshold"] and abs(float(seen["exact"]) - float(first["best_threshold"])) < 5e-5, seen
    screenshot(dash_duo, "txlab_money", at="#money-threshold")

    # Home: the lowest threshold (0.0001) alerts on (nearly) every transaction.
    _press(dash_duo, Keys.HOME)
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "at threshold 0.0001" in (s["summary"] or "") and s["slider"] == "-4"
                     and (s["confusion"] or {}).get("title") == "Confusion matrix at 0.0001", "Home should move the threshold to 0.0001")
    low = _summary(seen)
    assert _cells(seen) == ROWS and "Current 0.0001" in seen["curve"]["traces"] and not seen["errors"], seen

    # End: the highest threshold (1) declines (nearly) nothing.
    _press(dash_duo, Keys.END)
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "at threshold 1.0000" in (s["summary"] or "") and s["slider"] == "0"
                     and (s["confusion"] or {}).get("title") == "Confusion matrix at 1.0000", "End should move the threshold to 1")
    high = _summary(seen)
    assert _cells(seen) == ROWS and "Current 1.0000" in seen["curve"]["traces"] and not seen["errors"], seen
    assert _count(low["alerts"]) > _count(high["alerts"]) and low["pnl"] != high["pnl"], (low, high)
    assert _count(seen["confusion"]["z"][0][1] + seen["confusion"]["z"][1][1]) <= _count(high["alerts"]), seen  # declined ones were alerts

    # One arrow step (0.01 of log10) down from 1: the threshold 10^-0.01.
    _press(dash_duo, Keys.ARROW_LEFT)
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["slider"] == "-0.01" and f"at threshold {10 ** -0.01:.4f}" in (s["summary"] or "")
                     and (s["confusion"] or {}).get("title") == f"Confusion matrix at {10 ** -0.01:.4f}", "an arrow key should move the threshold one step")
    assert _count(_summary(seen)["alerts"]) >= _count(high["alerts"]) and not seen["errors"], seen
    assert abs(float(seen["exact"]) - 10 ** -0.01) < 1e-6, seen  # the typed field follows the slider
    screenshot(dash_duo, "txlab_money_moved", at="#money-threshold")

    # An exact threshold typed in (Enter): the views use it, and the slider moves to the nearest step.
    _type_threshold(dash_duo, "0.0372")
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "at threshold 0.0372" in (s["summary"] or "") and s["slider"] == "-1.43"
                     and (s["confusion"] or {}).get("title") == "Confusion matrix at 0.0372", "a typed threshold should be used exactly")
    assert not seen["exactInvalid"] and not seen["errors"], seen
    # Out of range: the field says so and the figures stay.
    _type_threshold(dash_duo, "1.5")
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["exactInvalid"], "a threshold above 1 should be marked invalid")
    assert "at threshold 0.0372" in seen["summary"] and _text(dash_duo, "#money-threshold-exact ~ .invalid-feedback").startswith("A threshold is"), seen

    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


# --- helpers -------------------------------------------------------------------------------


def _use_dataset(dash_duo, meta) -> None:
    """Pick the dataset on the Data page, as a user would, then open Profit & loss from the navbar."""
    use_dataset(dash_duo, meta, "nav-money", "#money-run")


def _type_threshold(dash_duo, text: str) -> None:
    field = dash_duo.find_element("#money-threshold-exact")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", field)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text, Keys.ENTER)


def _text(dash_duo, selector: str) -> str:
    return dash_duo.find_element(selector).text


def _press(dash_duo, key: str) -> None:
    """Focus the threshold slider's handle and press ``key`` on it."""
    handle = dash_duo.find_element("#money-threshold [role=slider]")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'}); arguments[0].focus();", handle)
    handle.send_keys(key)


def _summary(seen: dict) -> dict:
    found = SUMMARY.search(seen["summary"] or "")
    assert found, seen
    return found.groupdict()


def _count(text) -> int:
    return int(str(text).replace(",", ""))


def _cells(seen: dict) -> int:
    return sum(sum(row) for row in seen["confusion"]["z"])
