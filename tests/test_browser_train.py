"""The Train and Models pages driven as a user would, in headless Chromium.

A simulated dataset is stored and mapped through core in the test session's data folder;
the browser session picks it on the Data page and opens Train from the navbar. One run is
watched live to the end and found on the Models page; a second is followed after a reload
and cancelled, while a second browser follows it. Set ``TXLAB_SCREENSHOTS=<folder>`` to save screenshots.
"""
from __future__ import annotations

import json
import shutil
import time
import uuid
from types import SimpleNamespace

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from core.mapping import apply_mapping, suggest_mapping
from core.runs import RunStore
from core.synth import SynthConfig, generate
from core.workspace import Workspace
from tests.browser_actions import PAGE, click, screenshot, use_dataset, wait_for
from tests.browser_support import chrome_options, external_requests, failed_requests

JOB = 120  # seconds for a short training run to finish

SNAPSHOT_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
const plot = s => document.querySelector(s + ' .js-plotly-plot');
const points = s => { const g = plot(s); return g && g.data && g.data[0] ? (g.data[0].x || []).length : -1; };
const button = s => { const e = document.querySelector(s); return e ? e.disabled : null; };
return {
  loss: points('#train-loss-graph'),
  metrics: points('#train-metrics-graph'),
  metricTraces: ((plot('#train-metrics-graph') || {}).data || []).map(t => t.name),
  result: text('#train-result'),
  job: text('#train-job-message'),
  stage: text('#train-stage'),
  progress: text('#train-progress-text'),
  logRows: document.querySelectorAll('#train-epoch-table tbody tr').length,
  trainOff: button('#train-start'),
  cancelOff: button('#train-cancel'),
  following: text('#train-follow-note'),
};
"""


@pytest.fixture
def mapped_dataset(app_settings, txlab_app):
    """A simulated dataset, big enough that an epoch at batch size 32 takes a few tenths of a second."""
    seed = uuid.uuid4().int % 1_000_000
    frame = generate(SynthConfig(rows=40_000, seed=seed, days=30))
    workspace = Workspace(app_settings.data_dir)
    meta = workspace.add_dataset(frame, name=f"train-{seed}", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    mapped, report = apply_mapping(frame, mapping)
    return workspace.save_mapping(meta.id, mapping, mapped, report.to_dict())


@pytest.fixture
def second_browser():
    """Another Chromium (another user's browser), offline like dash_duo's."""
    from selenium import webdriver

    options = chrome_options()
    profile = next(a for a in options.arguments if a.startswith("--user-data-dir=")).split("=", 1)[1]
    driver = webdriver.Chrome(options=options)
    try:
        yield SimpleNamespace(driver=driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.browser
def test_train_live_then_models_then_follow_and_cancel(dash_duo, txlab_app, mapped_dataset, app_settings, second_browser):
    dash_duo.start_server(txlab_app)
    _use_dataset(dash_duo, mapped_dataset)

    # A bad value is named inline and nothing starts.
    _type(dash_duo, "epochs", "0")
    until(lambda: "Epochs must be a whole number" in _feedback(dash_duo, "epochs"), timeout=PAGE)
    assert "Fix 1 setting" in dash_duo.find_element("#train-form-message").text

    # A short run, watched live: several epoch points arrive before it ends.
    _type(dash_duo, "epochs", "6")
    _type(dash_duo, "batch_size", "32")
    dash_duo.wait_for_text_to_equal("#train-form-message", "", timeout=PAGE)
    click(dash_duo, dash_duo.find_element("#train-start"))
    live = _watch_live_run(dash_duo)
    assert live["max_live_points"] >= 2, live
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "Training finished" in (s["result"] or ""), "the run should finish", JOB)
    assert seen["loss"] == seen["logRows"] >= 4 and seen["progress"] == f"{seen['loss']}/6 epochs"
    assert "gradient boosting AUC" in " ".join(seen["metricTraces"])  # baselines as reference lines
    assert not seen["trainOff"] and seen["cancelOff"] and not seen["job"]
    version = dash_duo.find_element("#train-result-version").text
    screenshot(dash_duo, "txlab_train")

    # The new version is on the Models page, chosen, with its curves.
    click(dash_duo, dash_duo.find_element("#train-models-link"))
    dash_duo.wait_for_contains_text("#models-versions", version, timeout=PAGE)
    dash_duo.wait_for_element("#models-detail-body .js-plotly-plot", timeout=PAGE)
    assert mapped_dataset.name in dash_duo.find_element("#models-versions").text
    screenshot(dash_duo, "txlab_models")

    # A second, long run: a reload follows it from its record, and Cancel stops it.
    click(dash_duo, dash_duo.find_element("#nav-train"))
    dash_duo.wait_for_contains_text("#train-dataset-name", mapped_dataset.name, timeout=PAGE)
    _type(dash_duo, "epochs", "200")
    _type(dash_duo, "patience", "200")  # early stopping must not end it before Cancel does
    _type(dash_duo, "batch_size", "32")
    click(dash_duo, dash_duo.driver.find_element(By.XPATH, _xpath("train-flag", "baselines")))
    click(dash_duo, dash_duo.find_element("#train-start"))
    wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["loss"] >= 1 and "/200 epochs" in (s["progress"] or ""), "the second run should show its first epoch", JOB)

    # Another browser, with no run of its own, opens Train and follows this one, saying whose it is.
    second_browser.driver.get(f"{dash_duo.server_url}/train")
    other = wait_for(second_browser, SNAPSHOT_JS, lambda s: s["loss"] >= 1 and s["following"], "another browser should follow the run", PAGE)
    assert f"Following local's run on “{mapped_dataset.name}”" in other["following"] and "/200 epochs" in other["progress"]
    dash_duo.driver.refresh()
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["loss"] >= 1 and s["cancelOff"] is False and "of 200" in (s["stage"] or ""),
                     "after a reload the page should follow the run", PAGE)
    before = seen["loss"]
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["loss"] > before, "the followed run should keep adding epochs", PAGE)
    assert not seen["following"]  # this browser's own run: no "following someone" banner
    screenshot(dash_duo, "txlab_train_follow")
    click(dash_duo, dash_duo.find_element("#train-cancel"))
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: "Training cancelled" in (s["result"] or ""), "the run should end cancelled", JOB)
    assert seen["cancelOff"] and seen["loss"] < 200
    wait_for(second_browser, SNAPSHOT_JS, lambda s: "Training cancelled" in (s["result"] or "") and s["cancelOff"], "the other browser should see the end", PAGE)
    assert second_browser.driver.get_log("browser") == []  # no console errors there either
    assert external_requests(second_browser.driver) == []
    runs = RunStore(app_settings.models_dir).list_runs()
    assert runs[0].status == "cancelled" and runs[0].version is None

    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_train_points_to_the_data_page_without_a_dataset(dash_duo, txlab_app):
    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/train", timeout=PAGE)
    dash_duo.wait_for_contains_text("#train-no-dataset", "Data page", timeout=PAGE)
    assert dash_duo.driver.title == "txlab · Train"
    assert dash_duo.find_element("#train-start").get_attribute("disabled") is not None
    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


# --- helpers -------------------------------------------------------------------------------


def _use_dataset(dash_duo, meta) -> None:
    """Pick the dataset on the Data page, as a user would, then open Train from the navbar."""
    use_dataset(dash_duo, meta, "nav-train", "#train-dataset-name")
    dash_duo.wait_for_contains_text("#train-dataset-name", meta.name, timeout=PAGE)
    until(lambda: dash_duo.find_element("#train-start").get_attribute("disabled") is None, timeout=PAGE)


def _xpath(kind: str, name: str) -> str:
    dom_id = json.dumps({"name": name, "type": kind}, separators=(",", ":"), sort_keys=True)
    return f"//*[@id='{dom_id}']"


def _type(dash_duo, name: str, value: str) -> None:
    element = dash_duo.driver.find_element(By.XPATH, _xpath("train-param", name))
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    dash_duo.clear_input(element)
    element.send_keys(value)
    until(lambda: element.get_attribute("value") == value, timeout=PAGE)


def _feedback(dash_duo, name: str) -> str:
    return dash_duo.driver.find_element(By.XPATH, _xpath("train-feedback", name)).text


def _snapshot(browser) -> dict:
    return browser.driver.execute_script(SNAPSHOT_JS)


def _watch_live_run(dash_duo) -> dict:
    """Poll the page while the run is in progress; the most epoch points the live graph showed before the result."""
    state = {"max_live_points": 0, "snapshots": 0}
    deadline = time.monotonic() + JOB
    while time.monotonic() < deadline:
        s = _snapshot(dash_duo)
        state["snapshots"] += 1
        if s["result"]:
            return state
        if s["trainOff"]:
            state["max_live_points"] = max(state["max_live_points"], s["loss"])
        time.sleep(0.1)
    pytest.fail(f"the run did not end; the page showed {_snapshot(dash_duo)}")
