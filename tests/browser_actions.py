"""What browser tests do on a page, as a user would: click, wait for the page to show something, pick a dataset.

Each test reads the page through one JavaScript snapshot (a dict of what it asserts on), so a
wait and its assertion see the same moment. ``browser`` is ``dash_duo`` or another object with
a selenium ``driver``.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from dash.testing import errors as dash_errors
from dash.testing.wait import until
from selenium.webdriver.common.by import By

PAGE = 30  # seconds for a callback round trip on a slow shared machine


def click(dash_duo, element) -> None:
    """Click like a user: bring the element into view first.

    Bootstrap's ``scroll-behavior: smooth`` makes selenium's own scroll-into-view asynchronous,
    so it would click where the element was before the page finished scrolling.
    """
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def wait_for(browser, script: str, condition: Callable[[dict], bool], msg: str, timeout: float = PAGE,
             poll: float = 0.2) -> dict:
    """Run ``script`` (returning a dict) until ``condition`` holds on it; return that snapshot.

    On time-out the test fails with ``msg``, the last snapshot and the console errors.
    """
    seen: dict = {}

    def check() -> bool:
        seen.update(browser.driver.execute_script(script))
        return bool(condition(seen))

    try:
        until(check, timeout=timeout, poll=poll)
    except dash_errors.TestingTimeoutError:
        logs = browser.get_logs() if hasattr(browser, "get_logs") else "n/a"
        pytest.fail(f"{msg}; the page showed {seen}; console errors: {logs}")
    return dict(seen)


def use_dataset(dash_duo, meta, nav_id: str, ready: str) -> None:
    """Pick a dataset on the Data page with its Use button, then open a page from the navbar and wait for ``ready``."""
    dash_duo.wait_for_element("#data-list > *", timeout=PAGE)
    dom_id = json.dumps({"index": meta.id, "type": "data-use"}, separators=(",", ":"), sort_keys=True)
    click(dash_duo, dash_duo.driver.find_element(By.XPATH, f"//*[@id='{dom_id}']"))
    dash_duo.wait_for_contains_text("#app-dataset-label", meta.name, timeout=PAGE)
    click(dash_duo, dash_duo.find_element(f"#{nav_id}"))
    dash_duo.wait_for_element(ready, timeout=PAGE)


def screenshot(dash_duo, name: str, at: str | None = None) -> None:
    """With ``TXLAB_SCREENSHOTS=<folder>``, save the page (from the top, or from the element ``at``) as ``name``.png."""
    folder = os.environ.get("TXLAB_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    if at:
        dash_duo.driver.execute_script(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start', behavior: 'instant'});", at)
    else:
        dash_duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    dash_duo.driver.save_screenshot(str(Path(folder) / f"{name}.png"))
