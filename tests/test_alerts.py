"""Errors reach the page as readable alerts; tracebacks only with --debug."""
import pytest

from core.errors import IngestError
from core.settings import Settings
from dashboard import context
from dashboard.alerts import error_alert
from tests.conftest import component_text


@pytest.fixture
def debug(monkeypatch, tmp_path):
    def set_debug(on: bool) -> None:
        monkeypatch.setattr(context, "_settings", Settings(data_dir=tmp_path, debug=on))

    return set_debug


def _raise(error):
    try:
        raise error
    except Exception as caught:  # noqa: BLE001
        return caught


def test_expected_errors_show_their_message_and_no_traceback(debug):
    debug(False)
    text = component_text(error_alert(_raise(IngestError("line 3: unterminated quote")), "Could not read x.csv"))
    assert "Could not read x.csv" in text and "line 3: unterminated quote" in text
    assert "Traceback" not in text and "Debug info" not in text


def test_unexpected_errors_hide_their_details_unless_debugging(debug):
    debug(False)
    text = component_text(error_alert(_raise(KeyError("secret_internal_name"))))
    assert "unexpected error" in text and "secret_internal_name" not in text and "Traceback" not in text
    debug(True)
    text = component_text(error_alert(_raise(KeyError("secret_internal_name"))))
    assert "Debug info" in text and "Traceback" in text and "secret_internal_name" in text
