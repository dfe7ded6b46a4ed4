"""LAN mode in a real browser: log in, lose the session, land on the login page, come back, log out."""
from __future__ import annotations

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from core.accounts import AccountStore

PAGE = 30  # seconds: the machine is shared and slow at times


def _log_in(dash_duo, password: str) -> None:
    dash_duo.wait_for_element("#login-username", timeout=PAGE).send_keys("ana")
    dash_duo.find_element("#login-password").send_keys(password)
    dash_duo.find_element("#login-submit").click()


@pytest.mark.browser
def test_a_session_that_ends_sends_the_browser_to_login_and_back(dash_duo, txlab_app, lan_settings):
    store = AccountStore.for_state_folder(lan_settings.state_folder)
    store.add("ana", "correct horse", admin=True)
    dash_duo.start_server(txlab_app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url + "/data")
    until(lambda: "/login?next=/data" in dash_duo.driver.current_url, timeout=PAGE)
    _log_in(dash_duo, "correct horse")
    dash_duo.wait_for_text_to_equal("#app-user", "ana", timeout=PAGE)
    assert dash_duo.driver.current_url.endswith("/data")

    store.set_password("ana", "a new password")  # ends every open session of ana's
    dash_duo.find_element("#nav-models").click()
    until(lambda: "/login?next=%2Fmodels" in dash_duo.driver.current_url, timeout=PAGE)
    _log_in(dash_duo, "a new password")
    dash_duo.wait_for_text_to_equal("#app-user", "ana", timeout=PAGE)
    assert dash_duo.driver.current_url.endswith("/models")

    dash_duo.find_element("#app-logout").click()
    dash_duo.wait_for_element("#login-username", timeout=PAGE)
    dash_duo.driver.get(dash_duo.server.url + "/models")
    until(lambda: "/login?next=/models" in dash_duo.driver.current_url, timeout=PAGE)
    assert not dash_duo.driver.find_elements(By.CSS_SELECTOR, "#app-user")
    errors = [entry["message"] for entry in dash_duo.get_logs() or []]
    assert all("401" in message for message in errors), errors  # only the refused requests themselves
