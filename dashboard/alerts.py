"""Readable alerts for the pages: the message a user can act on, the traceback only in debug."""
from __future__ import annotations

import logging
import traceback

import dash_bootstrap_components as dbc
from dash import html

from dashboard import context

log = logging.getLogger(__name__)


def error_alert(error: BaseException, what: str = "That did not work") -> dbc.Alert:
    """An alert for a failed action. Expected errors show their message; others a generic line.

    The traceback goes to the log always, and into the page only when the app runs with --debug.
    """
    if isinstance(error, ValueError):  # TxlabError and core's argument checks: meant for the user
        message = str(error)
        log.info("%s: %s", what, message)
    else:
        message = f"An unexpected error occurred ({type(error).__name__}). The details are in the server log."
        log.exception("%s", what, exc_info=error)
    body = [html.Strong(f"{what}. "), html.Span(message, className="txlab-error-message")]
    if context.settings().debug:
        trace = "".join(traceback.format_exception(error))
        body.append(html.Details([html.Summary("Debug info"), html.Pre(trace, className="small mb-0")], className="mt-2"))
    return dbc.Alert(body, color="danger", dismissable=True, className="txlab-alert")


def info_alert(children, color: str = "success") -> dbc.Alert:
    return dbc.Alert(children, color=color, dismissable=True, className="txlab-alert")
