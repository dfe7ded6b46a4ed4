"""Markup in a file's name, its column names and its cells is shown as text, never run.

A colleague's CSV is untrusted: a column named ``<img src=x onerror=alert(1)>`` must appear
literally on the Data, Mapping and Explore pages, and no element or dialog may come of it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from selenium.common.exceptions import NoAlertPresentException

from core.datasets import map_dataset
from core.schema import ColumnMapping
from core.workspace import Workspace
from tests.browser_actions import PAGE, wait_for

HOSTILE_COLUMN = "<img src=x onerror=alert(1)>"
HOSTILE_CELL = "<script>alert(2)</script>"

SNAPSHOT_JS = """
const body = document.body.innerText;
return {
  shown: body.includes(arguments[0]),
  injected: [...document.querySelectorAll('img, script')].filter(e => (e.getAttribute('src') || '') === 'x' || (e.textContent || '').includes('alert(')).length,
  preview: !!document.querySelector('#data-preview'),
  columns: !!document.querySelector('#explore-columns table'),
  mapping: !!document.querySelector('#mapping-fields, #mapping-suggestions, #mapping-body'),
};
"""


def _hostile_csv(path) -> None:
    rng = np.random.default_rng(3)
    n = 400
    pd.DataFrame({
        "user": [f"u{i % 40}" for i in range(n)], "merchant": [f"m{i % 17}" for i in range(n)],
        "amount": rng.gamma(2.0, 30.0, n).round(2), "is_fraud": (rng.random(n) < 0.1).astype(int),
        HOSTILE_COLUMN: rng.choice([HOSTILE_CELL, "plain", "other"], n),
    }).to_csv(path, index=False)


@pytest.mark.browser
def test_markup_in_names_and_cells_is_shown_as_text(dash_duo, txlab_app, app_settings, tmp_path):
    path = tmp_path / "evil<b onmouseover=alert(3)>.csv"
    _hostile_csv(path)
    dash_duo.start_server(txlab_app)
    dash_duo.wait_for_element("#data-upload input[type=file]", timeout=PAGE)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(path))
    seen = wait_for(dash_duo, _snapshot(HOSTILE_COLUMN), lambda s: s["preview"] and s["shown"], "the preview should show the column name as text")
    assert seen["injected"] == 0, seen
    assert wait_for(dash_duo, _snapshot(path.name), lambda s: s["shown"], "the file name should be shown as text")["injected"] == 0

    workspace = Workspace(app_settings.data_dir)
    meta = next(m for m in workspace.list_datasets() if m.name == path.name)
    mapping = ColumnMapping(fields={"user_id": "user", "merchant_id": "merchant", "amount": "amount", "label": "is_fraud"},
                            extra_categorical=[HOSTILE_COLUMN])
    report, saved = map_dataset(workspace, meta.id, mapping)
    assert saved is not None, report

    dash_duo.wait_for_contains_text("#app-dataset-label", "evil", timeout=PAGE)  # the upload became the session's dataset
    dash_duo.find_element("#nav-mapping").click()
    seen = wait_for(dash_duo, _snapshot(HOSTILE_COLUMN), lambda s: s["shown"], "the Mapping page should list the column by its name")
    assert seen["injected"] == 0, seen
    dash_duo.find_element("#nav-explore").click()
    seen = wait_for(dash_duo, _snapshot(HOSTILE_COLUMN), lambda s: s["columns"] and s["shown"], "Explore's column table should name the column")
    assert seen["injected"] == 0, seen

    with pytest.raises(NoAlertPresentException):
        dash_duo.driver.switch_to.alert.text
    assert dash_duo.get_logs() == []


def _snapshot(text: str) -> str:
    """The snapshot script with ``text`` bound as its argument (wait_for passes none)."""
    return "return (function() {" + SNAPSHOT_JS.replace("arguments[0]", repr(text).replace("\\\\", "\\")) + "})();"
