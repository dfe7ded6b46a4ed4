"""The Data and Mapping pages driven as a user would, in headless Chromium.

Each test brings in its own dataset under a unique name, so the tests do not depend on each
other or on the order they run in. Waits are on what the user sees; the state a test asserts
on is read in one `execute_script` snapshot. Set ``TXLAB_SCREENSHOTS=<folder>`` to save a
screenshot of the Data page after an upload and of the Mapping page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser_support import failed_requests

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "browser"
# 601 data lines, semicolon-delimited: "1.585,37 €" amounts, dd/mm/yyyy dates, zero-padded
# customer numbers, the header "Kommentar" twice, and file line 8 with one field too many.
MESSY = FIXTURES / "messy_export.csv"
MESSY_ROWS = 600
MESSY_RAGGED_LINE = 8
MESSY_FRAUD = 40

PAGE = 30  # seconds for a callback round trip on a slow shared machine
JOB = 120  # seconds for a background job (the simulator)

RESULT_JS = """
const all = (s, root) => [...(root || document).querySelectorAll(s)];
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
const column = name => {
  const heads = all('#data-preview thead th').map(th => th.innerText.trim());
  const i = heads.indexOf(name);
  return i < 0 ? null : all('#data-preview tbody tr').map(tr => tr.cells[i].innerText);
};
return {
  result: text('#data-result'),
  facts: all('#ingest-report .txlab-facts li').map(li => li.innerText.trim()),
  notes: all('#ingest-report .txlab-notes li').map(li => li.innerText.trim()),
  reportColumns: all('#ingest-columns tbody tr td:first-child').map(td => td.innerText.trim()),
  previewHeader: all('#data-preview thead th').map(th => th.innerText.trim()),
  customers: column('Kundennr'),
  amounts: column('Betrag'),
  navbar: text('#app-dataset-label'),
  datasets: text('#data-list'),
  uploadError: text('#data-upload-error'),
};
"""

MAPPING_JS = """
const rows = [...document.querySelectorAll('#mapping-fields tbody tr')];
const choice = {};
for (const tr of rows) {
  const field = tr.cells[0].querySelector('.txlab-col').innerText.trim();
  choice[field] = tr.cells[1].innerText.trim();
}
const text = s => { const e = document.querySelector(s); return e ? e.innerText : null; };
return {choice: choice, body: text('#mapping-body'), result: text('#mapping-result'),
        coercion: text('#mapping-coercion'), badge: text('#mapping-saved-badge'),
        navbar: text('#app-dataset-label')};
"""


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def workspace(app_settings, txlab_app):
    from core.workspace import Workspace

    return Workspace(app_settings.data_dir)


def _unique(stem: str, suffix: str = ".csv") -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"


def _messy_copy(tmp_path: Path, stem: str) -> Path:
    path = tmp_path / _unique(stem)
    shutil.copyfile(MESSY, path)
    return path


def _open_data_page(dash_duo, txlab_app) -> None:
    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-upload input[type=file]", timeout=PAGE)
    # The dataset list is filled by a callback on load; it is there once the page is live.
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)


def _choose_file(dash_duo, path: Path) -> None:
    """What "choose one" in the drop zone does, minus the OS file dialog."""
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(path))


def _upload_and_wait(dash_duo, path: Path) -> dict:
    _choose_file(dash_duo, path)
    dash_duo.wait_for_contains_text("#data-result", f"Stored “{path.name}”", timeout=PAGE)
    dash_duo.wait_for_element("#data-preview", timeout=PAGE)
    return dash_duo.driver.execute_script(RESULT_JS)


def _snapshot(dash_duo) -> dict:
    return dash_duo.driver.execute_script(RESULT_JS)


def _by_name(workspace, name: str) -> list:
    return [m for m in workspace.list_datasets() if m.name == name]


def _set_number(dash_duo, selector: str, value: int | float) -> None:
    field = dash_duo.find_element(selector)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(value))
    until(lambda: field.get_attribute("value") == str(value), timeout=PAGE, msg=f"{selector} did not take {value}")


def _click(dash_duo, target) -> None:
    """Click like a user: bring the element into view first.

    Bootstrap's `scroll-behavior: smooth` makes selenium's own scroll-into-view asynchronous,
    so it would click where the element was before the page finished scrolling.
    """
    element = dash_duo.driver.find_element(*target) if isinstance(target, tuple) else dash_duo.find_element(target)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def _pattern_id(kind: str, index: str) -> tuple[str, str]:
    """A locator for a pattern-matching id: Dash renders it as its JSON, sorted keys, no spaces."""
    dom_id = json.dumps({"index": index, "type": kind}, separators=(",", ":"), sort_keys=True)
    return By.XPATH, f"//*[@id='{dom_id}']"


def _screenshot(dash_duo, name: str) -> None:
    folder = os.environ.get("TXLAB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        dash_duo.driver.save_screenshot(str(Path(folder) / name))


def _assert_clean(dash_duo) -> None:
    assert failed_requests(dash_duo) == []
    assert dash_duo.get_logs() == []


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_upload_a_messy_csv_and_see_what_was_read(dash_duo, txlab_app, workspace, tmp_path):
    path = _messy_copy(tmp_path, "messy")
    _open_data_page(dash_duo, txlab_app)

    seen = _upload_and_wait(dash_duo, path)
    _screenshot(dash_duo, "txlab_data.png")

    assert f"{MESSY_ROWS:,} rows" in seen["result"]
    assert "Delimiter: semicolon" in seen["facts"]
    assert "Decimal / thousands: , / ." in seen["facts"]
    assert f"Rows read: {MESSY_ROWS:,}" in seen["facts"]
    assert "Rows dropped (wrong number of fields): 1" in seen["facts"]
    assert f"Dropped line {MESSY_RAGGED_LINE}: it does not have as many fields as the header." in seen["notes"], seen["notes"]
    renamed = [m for n in seen["notes"] if (m := re.fullmatch(r"Header 'Kommentar' renamed to '(.+)'\.", n))]
    assert len(renamed) == 1, seen["notes"]
    new_name = renamed[0].group(1)
    assert new_name != "Kommentar"
    assert {"Kommentar", new_name} <= set(seen["previewHeader"])
    assert {"Kommentar", new_name} <= set(seen["reportColumns"])
    # Customer numbers stay text: the leading zeros a user typed are still there.
    assert seen["customers"] and seen["customers"][0] == "00076"
    assert all(re.fullmatch(r"\d{5}", c) for c in seen["customers"]), seen["customers"]
    assert seen["amounts"][0] == "1585.37"  # "1.585,37 €" read as a number
    assert seen["navbar"] == f"{path.name} · {MESSY_ROWS:,} rows"

    stored = _by_name(workspace, path.name)
    assert len(stored) == 1 and stored[0].rows == MESSY_ROWS
    _assert_clean(dash_duo)


@pytest.mark.browser
def test_accept_the_suggested_mapping_and_save_it(dash_duo, txlab_app, workspace, tmp_path):
    path = _messy_copy(tmp_path, "tomap")
    _open_data_page(dash_duo, txlab_app)
    _upload_and_wait(dash_duo, path)

    _click(dash_duo, "#data-next-mapping")
    dash_duo.wait_for_contains_text("#mapping-body", path.name, timeout=PAGE)
    assert dash_duo.driver.current_url.endswith("/mapping")
    seen = dash_duo.driver.execute_script(MAPPING_JS)
    assert path.name in seen["body"] and f"{MESSY_ROWS:,} rows" in seen["body"]
    assert seen["choice"]["amount"] == "Betrag" and seen["choice"]["label"] == "Betrug", seen["choice"]
    assert seen["badge"] is None  # nothing saved yet

    _click(dash_duo, "#mapping-save")
    dash_duo.wait_for_contains_text("#mapping-result", "Mapping saved", timeout=PAGE)
    seen = dash_duo.driver.execute_script(MAPPING_JS)
    assert f"{MESSY_ROWS:,} rows in, {MESSY_ROWS:,} rows kept." in seen["coercion"]
    assert f"{MESSY_FRAUD} positive labels" in seen["coercion"]
    dash_duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    _screenshot(dash_duo, "txlab_mapping.png")

    (meta,) = _by_name(workspace, path.name)
    assert meta.mapping["fields"]["amount"] == "Betrag" and meta.mapping["fields"]["label"] == "Betrug"

    # The session keeps its dataset across a reload, and the page says the mapping is saved.
    dash_duo.driver.refresh()
    dash_duo.wait_for_text_to_equal("#mapping-saved-badge", "mapping saved", timeout=PAGE)
    seen = dash_duo.driver.execute_script(MAPPING_JS)
    assert seen["choice"]["amount"] == "Betrag" and seen["choice"]["label"] == "Betrug"
    assert seen["result"] == ""  # a fresh visit shows no stale result
    _assert_clean(dash_duo)


@pytest.mark.browser
def test_generate_a_dataset_from_the_form(dash_duo, txlab_app, workspace):
    seed = 100_000 + uuid.uuid4().int % 900_000
    name = f"synthetic-2000-seed{seed}"
    _open_data_page(dash_duo, txlab_app)
    dash_duo.wait_for_text_to_equal("#app-dataset-label", "No dataset chosen", timeout=PAGE)

    _set_number(dash_duo, "#data-gen-rows", 2000)
    _set_number(dash_duo, "#data-gen-seed", seed)
    _set_number(dash_duo, "#data-gen-days", 20)
    _click(dash_duo, "#data-gen-button")

    dash_duo.wait_for_contains_text("#data-result", f"Stored “{name}”", timeout=JOB)
    dash_duo.wait_for_text_to_equal("#app-dataset-label", f"{name} · 2,000 rows", timeout=PAGE)
    dash_duo.wait_for_contains_text("#data-datasets", name, timeout=PAGE)
    until(lambda: dash_duo.find_element("#data-gen-button").is_enabled(), timeout=PAGE, msg="Generate stays disabled")
    seen = _snapshot(dash_duo)
    assert "2,000 rows" in seen["result"]
    assert "Rows read" not in seen["result"]  # no ingest report for a simulated table
    (meta,) = _by_name(workspace, name)
    assert meta.rows == 2000 and meta.source == "generated"
    row_text = dash_duo.driver.find_element(*_pattern_id("data-use", meta.id)).find_element(By.XPATH, "./ancestor::tr").text
    assert name in row_text and "in use" in row_text
    _assert_clean(dash_duo)


@pytest.mark.browser
def test_oversized_upload_says_why_and_stores_nothing(dash_duo, txlab_app, workspace, tmp_path, app_settings):
    big = tmp_path / _unique("big")
    line = b"TX000001;00042;Shop;12,50 \xe2\x82\xac;DE;web;0;13/01/2025\n"
    big.write_bytes(b"id;customer;shop;amount;country;channel;fraud;date\n" + line * (app_settings.max_upload_bytes // len(line) + 100))
    assert big.stat().st_size > app_settings.max_upload_bytes
    _open_data_page(dash_duo, txlab_app)

    _choose_file(dash_duo, big)
    dash_duo.wait_for_contains_text("#data-upload-error", "above the 2 MB upload limit", timeout=PAGE)
    seen = _snapshot(dash_duo)
    assert big.name in seen["uploadError"] and "data folder" in seen["uploadError"]

    # A file that fits still goes through afterwards, and the message goes away. Callbacks
    # answer in order, so once it is stored an upload of the big file would have arrived too.
    small = _messy_copy(tmp_path, "fits")
    seen = _upload_and_wait(dash_duo, small)
    assert seen["uploadError"] == ""
    assert big.name not in seen["result"] and big.name not in seen["datasets"]
    assert _by_name(workspace, big.name) == []
    assert len(_by_name(workspace, small.name)) == 1
    _assert_clean(dash_duo)


@pytest.mark.browser
def test_a_file_that_cannot_be_read_shows_a_readable_alert(dash_duo, txlab_app, workspace, tmp_path):
    empty = tmp_path / _unique("empty")
    empty.write_bytes(b"")
    binary = tmp_path / _unique("scan")
    binary.write_bytes(bytes(range(256)) * 64 + b"\x00\xff\xfe" * 1000)
    _open_data_page(dash_duo, txlab_app)

    for path, problem in ((empty, "empty"), (binary, None)):
        _choose_file(dash_duo, path)
        dash_duo.wait_for_contains_text("#data-result .alert-danger", f"Could not read {path.name}", timeout=PAGE)
        seen = _snapshot(dash_duo)
        message = seen["result"]
        assert "Traceback" not in message and "unexpected error" not in message, message
        # After "Could not read <name>." comes the reason, in words.
        reason = message.split(f"Could not read {path.name}.", 1)[1].strip()
        assert len(reason) > 10, message
        if problem:
            assert problem in reason.lower(), message
        assert "Stored" not in message and seen["navbar"] == "No dataset chosen"
        assert _by_name(workspace, path.name) == []
    _assert_clean(dash_duo)


@pytest.mark.browser
def test_delete_a_dataset_through_the_confirm_dialog(dash_duo, txlab_app, workspace, tmp_path):
    path = tmp_path / _unique("doomed")
    path.write_text("\n".join(MESSY.read_text(encoding="utf-8").splitlines()[:60]) + "\n", encoding="utf-8")
    _open_data_page(dash_duo, txlab_app)
    _upload_and_wait(dash_duo, path)
    (meta,) = _by_name(workspace, path.name)
    dash_duo.wait_for_text_to_equal("#app-dataset-label", f"{path.name} · {meta.rows:,} rows", timeout=PAGE)
    trash = _pattern_id("data-delete", meta.id)

    # Cancel first: nothing happens to the dataset.
    _click(dash_duo, trash)
    dash_duo.wait_for_contains_text("#data-delete-body", path.name, timeout=PAGE)
    _click(dash_duo, "#data-delete-cancel")
    dash_duo.wait_for_no_elements("#data-delete-modal", timeout=PAGE)
    assert len(_by_name(workspace, path.name)) == 1

    _click(dash_duo, trash)
    dash_duo.wait_for_contains_text("#data-delete-body", f"“{path.name}” ({meta.rows:,} rows)", timeout=PAGE)
    _click(dash_duo, "#data-delete-confirm")
    dash_duo.wait_for_contains_text("#data-result", f"Deleted “{path.name}”.", timeout=PAGE)
    dash_duo.wait_for_no_elements("#data-delete-modal", timeout=PAGE)
    until(lambda: not dash_duo.driver.find_elements(*trash), timeout=PAGE, msg="the deleted dataset is still listed")
    dash_duo.wait_for_text_to_equal("#app-dataset-label", "No dataset chosen", timeout=PAGE)
    seen = _snapshot(dash_duo)
    assert path.name not in (seen["datasets"] or "")
    assert _by_name(workspace, path.name) == []
    _assert_clean(dash_duo)


@pytest.mark.browser
def test_every_page_loads_without_errors(dash_duo, txlab_app):
    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-upload", timeout=PAGE)
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)
    assert dash_duo.driver.title == "txlab · Data"

    _click(dash_duo, "#nav-mapping")  # through the navbar, as a user would
    dash_duo.wait_for_contains_text("#mapping-no-dataset", "Data page", timeout=PAGE)  # only visible text counts
    until(lambda: dash_duo.driver.title == "txlab · Mapping", timeout=PAGE)

    dash_duo.wait_for_page(f"{dash_duo.server_url}/mapping", timeout=PAGE)  # typed into the address bar
    dash_duo.wait_for_contains_text("#mapping-no-dataset", "Data page", timeout=PAGE)

    dash_duo.wait_for_page(f"{dash_duo.server_url}/no-such-page", timeout=PAGE)
    dash_duo.wait_for_contains_text(".txlab-page", "Page not found", timeout=PAGE)
    assert dash_duo.find_element("#app-dataset-label").text == "No dataset chosen"  # the shell still works

    _assert_clean(dash_duo)
