"""The Explore page driven as a user would, in headless Chromium.

The dataset is simulated and mapped through core in the test session's data folder; the
browser session picks it with the Data page's "Use" button and opens Explore from the navbar.
Set ``TXLAB_SCREENSHOTS=<folder>`` to save a screenshot of the page.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from core.mapping import apply_mapping, suggest_mapping
from core.synth import SynthConfig, generate
from core.workspace import Workspace
from tests.browser_actions import PAGE, use_dataset, wait_for
from tests.browser_support import failed_requests


SNAPSHOT_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
const titles = s => [...document.querySelectorAll(s + ' .js-plotly-plot .gtitle')].map(e => e.textContent);
const shown = s => { const e = document.querySelector(s); return !!e && !e.closest('[hidden]'); };
return {
  dataset: text('#explore-dataset'),
  overview: text('#explore-overview'),
  quality: text('#explore-quality'),
  columns: text('#explore-columns'),
  dist: titles('#explore-dist'),
  corr: titles('#explore-corr'),
  segment: titles('#explore-segment'),
  time: titles('#explore-time'),
  test: titles('#explore-test'),
  chi: titles('#explore-chi'),
  reading: text('#explore-test .txlab-reading'),
  testTable: text('#explore-test .txlab-test-table'),
  chiReading: text('#explore-chi .txlab-reading'),
  groupsShown: shown('#explore-test-a'),
  logDisabled: document.querySelector('#explore-dist-log').disabled,
  alerts: [...document.querySelectorAll('#explore-body .alert-danger')].map(e => e.innerText),
};
"""


@pytest.fixture
def mapped_dataset(app_settings, txlab_app):
    """A simulated dataset with its suggested mapping saved, under a name unique to this test."""
    seed = uuid.uuid4().int % 1_000_000
    frame = generate(SynthConfig(rows=20_000, seed=seed, days=30))
    workspace = Workspace(app_settings.data_dir)
    meta = workspace.add_dataset(frame, name=f"explore-{seed}", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    mapped, report = apply_mapping(frame, mapping)
    workspace.save_mapping(meta.id, mapping, mapped, report.to_dict())
    return meta


def _use_dataset(dash_duo, meta) -> None:
    """Pick the dataset on the Data page, as a user would, then open Explore from the navbar."""
    use_dataset(dash_duo, meta, "nav-explore", "#explore-dataset")
    dash_duo.wait_for_contains_text("#explore-dataset", meta.name, timeout=PAGE)


def _choose(dash_duo, selector: str, label: str) -> None:
    element = dash_duo.find_element(selector)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    dash_duo.select_dcc_dropdown(selector, value=label)
    until(lambda: label in dash_duo.find_element(selector).text, timeout=PAGE, msg=f"{selector} did not take {label!r}")


def _snapshot(dash_duo) -> dict:
    return dash_duo.driver.execute_script(SNAPSHOT_JS)


def _screenshot(dash_duo, name: str) -> None:
    """The top of the page, then each section on its own (``name-1.png``, ...)."""
    folder = os.environ.get("TXLAB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        dash_duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
        dash_duo.driver.save_screenshot(str(Path(folder) / f"{name}.png"))
        for i, section in enumerate(dash_duo.driver.find_elements(By.CSS_SELECTOR, "#explore-body .txlab-section"), start=1):
            dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'start', behavior: 'instant'});", section)
            section.screenshot(str(Path(folder) / f"{name}-{i}.png"))


@pytest.mark.browser
def test_explore_a_mapped_dataset_and_switch_column_and_groups(dash_duo, txlab_app, mapped_dataset):
    dash_duo.start_server(txlab_app)
    _use_dataset(dash_duo, mapped_dataset)

    seen = wait_for(
        dash_duo, SNAPSHOT_JS,
        lambda s: s["dist"] and s["test"] and s["time"] and s["corr"] and s["segment"] and s["chi"] and s["reading"] and "Rows" in (s["overview"] or ""),
        "every section should render",
    )
    assert "20,000" in seen["overview"] and "Fraud rate" in seen["overview"]
    assert "amount" in seen["columns"] and "merchant_category" in seen["columns"]
    assert seen["quality"]  # the warnings, or a line saying there are none
    assert seen["dist"] == ["Distribution of amount (log scale)"] and not seen["logDisabled"]  # skewed: log axis first
    assert seen["corr"] == ["Pearson correlation", "Association with the label"]
    assert seen["segment"] == ["Fraud rate by country"]
    assert seen["time"] == ["Over time, per day", "Daily and weekly rhythm"]
    # The plain-language reading of legit vs fraud comes first, with the numbers behind it.
    assert "fraudulent transactions" in seen["reading"] and "Mann-Whitney" in seen["reading"], seen["reading"]
    assert seen["test"][0] == "amount: fraudulent vs legitimate"
    assert "Welch t-test" in seen["testTable"] and "95% CI" in seen["testTable"]
    assert "'country' and fraud" in seen["chiReading"] and not seen["groupsShown"]
    _screenshot(dash_duo, "txlab_explore")

    # Another column: categorical, so bars with the fraud rate and no log axis.
    _choose(dash_duo, "#explore-dist-column", "merchant_category (category)")
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["dist"] == ["merchant_category: volume and fraud rate"], "the histogram should switch to merchant_category")
    assert seen["logDisabled"]

    # Other groups: two devices instead of legit vs fraud; the reading follows.
    _choose(dash_duo, "#explore-test-by", "device_type")
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["groupsShown"] and "device_type = " in (s["reading"] or ""), "the test should compare two device types")
    first = seen["test"][0]
    assert first.startswith("amount: device_type = ") and " vs device_type = " in first
    b_before = first.split(" vs ")[0].removeprefix("amount: ")
    options = dash_duo.find_element("#explore-test-b")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", options)
    dash_duo.select_dcc_dropdown("#explore-test-b", index=3)
    seen = wait_for(dash_duo, SNAPSHOT_JS, lambda s: s["test"] and not s["test"][0].startswith(f"amount: {b_before} vs"), "a new group b should be tested")
    assert "device_type = " in seen["reading"] and seen["alerts"] == []

    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_explore_points_to_the_data_page_without_a_dataset(dash_duo, txlab_app):
    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)
    dash_duo.wait_for_page(f"{dash_duo.server_url}/explore", timeout=PAGE)
    dash_duo.wait_for_contains_text("#explore-no-dataset", "Data page", timeout=PAGE)
    assert dash_duo.driver.title == "txlab · Explore"
    assert not dash_duo.find_element("#explore-body").is_displayed()
    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []
