"""Shared pytest configuration for txlab."""

from __future__ import annotations

import shutil

import pytest

from tests import browser_support

# =========================================================================================
# Browser tests (dash_duo + headless Chromium)
#
# - Every test that uses dash_duo / dash_br is marked `browser` automatically.
# - Chromium is Debian's, offline, with a fresh profile and a network log.
# - A browser test fails if its pages requested anything from a host other than
#   127.0.0.1/localhost (the offline guard below).
# - Each browser test's app server gets a port the OS reports free.
# See tests/README.md.
# =========================================================================================

BROWSER_FIXTURES = ("dash_duo", "dash_br", "dash_duo_mp")

_profiles: list[str] = []


def pytest_setup_options():
    """Hook from dash.testing: the Chrome options for each new dash_duo browser."""
    options = browser_support.chrome_options()
    _profiles.append(next(a for a in options.arguments if a.startswith("--user-data-dir=")))
    return options


def pytest_collection_modifyitems(items):
    for item in items:
        if any(name in item.fixturenames for name in BROWSER_FIXTURES):
            item.add_marker(pytest.mark.browser)


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser"):
        # dash.testing numbers ports from 58050 in every process, so two pytest runs on this
        # shared machine would start servers on the same ports (and the browser could even
        # load the other run's app). It reads this class attribute at each start.
        from dash.testing.application_runners import BaseDashRunner

        BaseDashRunner._next_port = browser_support.free_port()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """The offline guard: fail a browser test whose pages reached beyond this machine."""
    result = yield  # a test that already failed is reported as is
    browser = next(
        (item.funcargs[name] for name in BROWSER_FIXTURES if name in item.funcargs), None
    )
    if browser is not None and item.get_closest_marker("browser"):
        external = browser_support.external_requests(browser)
        if external:
            pytest.fail(
                "the page requested hosts other than 127.0.0.1/localhost "
                "(txlab must work offline):\n  " + "\n  ".join(external),
                pytrace=False,
            )
    return result


def pytest_sessionfinish(session):
    # Browsers have quit by now; remove the throwaway Chromium profiles.
    for arg in _profiles:
        shutil.rmtree(arg.split("=", 1)[1], ignore_errors=True)
    _profiles.clear()


# =========================================================================================
# Other fixtures
# =========================================================================================


@pytest.fixture(scope="session")
def app_settings(tmp_path_factory):
    """Settings for the one app a test session builds (Dash's page registry is process-wide)."""
    from core.settings import Settings

    root = tmp_path_factory.mktemp("txlab")
    return Settings(data_dir=root / "data", models_dir=root / "models", max_upload_mb=2)


@pytest.fixture(scope="session")
def txlab_app(app_settings):
    from dashboard.app import create_app

    return create_app(app_settings)


@pytest.fixture
def lan_settings(txlab_app, app_settings, tmp_path):
    """The test app switched to LAN mode (``auth`` on: every route needs a login) for one test.

    It gets its own empty data folder (accounts in ``data/.txlab/users.json``, none yet);
    the session's settings come back afterwards.
    """
    from dataclasses import replace

    from dashboard import context

    settings = replace(app_settings, auth="on", data_dir=tmp_path / "lan-data", models_dir=tmp_path / "lan-models")
    context.configure(settings)
    try:
        yield settings
    finally:
        context.configure(app_settings)


def component_text(component) -> str:
    """All the text a component tree renders, for asserting on what a user would read."""
    if component is None or isinstance(component, bool):
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(component_text(c) for c in component)
    return component_text(getattr(component, "children", None))
