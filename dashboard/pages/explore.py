"""Explore page: overview, columns, data quality, distributions, correlations, segments, time, tests.

Every section is one small callback: it opens the session's mapped dataset through the results
cache and calls one function of ``dashboard.explore_views`` (shared with the benchmark). All
controls are in the static layout; a first visit computes (spinner), later ones read the cache.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from core.errors import NotFoundError, TxlabError
from dashboard import context
from dashboard import explore_views as views
from dashboard.alerts import error_alert

dash.register_page(__name__, path="/explore", name="Explore", title="txlab · Explore", order=2)

DATASET = Input("app-dataset", "data")


def layout(**_query) -> html.Div:
    return html.Div(
        [
            html.H3("Explore"),
            html.P("What is in the mapped data, how fraud differs across it, and whether the differences are real.", className="text-muted"),
            html.Div(id="explore-status"),
            html.Div(
                [
                    _section("Overview", _loading("explore-overview")),
                    _section("Data quality", _loading("explore-quality")),
                    _section("Columns", [_inline("Sort", dcc.Dropdown(id="explore-columns-sort", options=_opts(views.SORTS), value="order", clearable=False)), _loading("explore-columns")]),
                    _section("Distributions", [_distribution_controls(), _loading("explore-dist")]),
                    _section("Correlations", [dbc.RadioItems(id="explore-corr-method", options=_opts(views.CORRELATION_METHODS), value="pearson", inline=True, className="mb-2"),
                                              _loading("explore-corr")]),
                    _section("Fraud by segment", [_inline("Segment", dcc.Dropdown(id="explore-segment-column", clearable=False)), _loading("explore-segment")]),
                    _section("Over time", _loading("explore-time")),
                    _section("Statistical tests", [_test_controls(), _loading("explore-test"), html.H5("Categorical column vs fraud (chi-square)", className="mt-4"),
                                                   _inline("Column", dcc.Dropdown(id="explore-chi-column", clearable=False)), _loading("explore-chi")]),
                ],
                id="explore-body",
                hidden=True,
            ),
        ]
    )


@callback(
    Output("explore-status", "children"),
    Output("explore-body", "hidden"),
    Output("explore-dist-column", "options"),
    Output("explore-dist-column", "value"),
    Output("explore-dist-log", "value"),
    Output("explore-test-column", "options"),
    Output("explore-test-column", "value"),
    Output("explore-test-by", "options"),
    Output("explore-test-by", "value"),
    Output("explore-chi-column", "options"),
    Output("explore-chi-column", "value"),
    Output("explore-segment-column", "options"),
    Output("explore-segment-column", "value"),
    DATASET,
)
def show_controls(dataset_id: str | None):
    """Say which dataset is explored (or why none is) and fill the dropdowns from its columns."""
    blank = (True, [], None, False, [], None, [], views.LABEL, [], None, [], None)
    if not dataset_id:
        return _pointer("No dataset chosen for this browser session. ", "Bring one in on the Data page", "/", "explore-no-dataset"), *blank
    try:
        results = views.open_dataset(dataset_id)
        c = views.controls(results)
    except NotFoundError as error:  # deleted, or not this user's
        return _pointer(f"{error} ", "Choose one on the Data page", "/", "explore-not-found", color="warning"), *blank
    except TxlabError as error:
        return _pointer(f"{error} ", "Open the Mapping page", "/mapping", "explore-not-mapped", color="warning"), *blank
    except Exception as error:  # noqa: BLE001 - every failure becomes an alert
        return error_alert(error, "Could not open the dataset"), *blank
    meta = context.workspace().get(dataset_id)
    status = html.P([html.Span("Dataset: ", className="text-muted"), html.Strong(meta.name), f" · {meta.mapped_rows or meta.rows:,} mapped rows"], id="explore-dataset")
    return (status, False, c.distribution, c.distribution_value, c.distribution_log, c.numeric, c.numeric_value, c.by, views.LABEL,
            c.categorical, c.categorical_value, c.segments, c.segment_value)


@callback(Output("explore-overview", "children"), DATASET)
def show_overview(dataset_id):
    return _render(dataset_id, "Could not summarise the dataset", views.overview_view)


@callback(Output("explore-quality", "children"), DATASET)
def show_quality(dataset_id):
    return _render(dataset_id, "Could not check data quality", views.quality_view)


@callback(Output("explore-columns", "children"), DATASET, Input("explore-columns-sort", "value"))
def show_columns(dataset_id, sort):
    return _render(dataset_id, "Could not summarise the columns", views.columns_view, sort)


@callback(
    Output("explore-dist", "children"),
    Output("explore-dist-log", "disabled"),
    Output("explore-dist-split", "disabled"),
    Output("explore-dist-norm", "options"),
    DATASET,
    Input("explore-dist-column", "value"),
    Input("explore-dist-log", "value"),
    Input("explore-dist-split", "value"),
    Input("explore-dist-norm", "value"),
)
def show_distribution(dataset_id, column, log_x, by_label, norm):
    """A histogram or category bars; the log, split and density controls only apply to numbers."""
    results = _open(dataset_id)
    try:
        numeric = views.is_numeric(results, column)
        view = views.distribution_view(results, column, log_x, by_label, norm == "density")
    except Exception as error:  # noqa: BLE001
        return error_alert(error, f"Could not draw {column}"), False, False, _norm_options()
    return view, not numeric, not numeric, _norm_options(disabled=not numeric)


@callback(Output("explore-corr", "children"), DATASET, Input("explore-corr-method", "value"))
def show_correlations(dataset_id, method):
    return _render(dataset_id, "Could not compute correlations", views.correlation_view, method)


@callback(Output("explore-segment", "children"), DATASET, Input("explore-segment-column", "value"))
def show_segments(dataset_id, column):
    return _render(dataset_id, f"Could not compare fraud by {column}", views.segment_view, column)


@callback(Output("explore-time", "children"), DATASET)
def show_time(dataset_id):
    return _render(dataset_id, "Could not profile the data over time", views.time_view)


@callback(
    Output("explore-test-groups", "hidden"),
    Output("explore-test-a", "options"),
    Output("explore-test-a", "value"),
    Output("explore-test-b", "options"),
    Output("explore-test-b", "value"),
    DATASET,
    Input("explore-test-by", "value"),
)
def show_groups(dataset_id, by):
    """Grouping by the label compares legit with fraud; by another column, the user picks two of its values."""
    results = _open(dataset_id)
    try:
        options, a, b = views.group_choices(results, by)
    except Exception:  # noqa: BLE001 - the test section shows the error
        options, a, b = [], None, None
    return not options, options, a, options, b


@callback(
    Output("explore-test", "children"),
    DATASET,
    Input("explore-test-column", "value"),
    Input("explore-test-by", "value"),
    Input("explore-test-a", "value"),
    Input("explore-test-b", "value"),
)
def show_test(dataset_id, column, by, a, b):
    return _render(dataset_id, f"Could not test {column}", views.test_view, column, by, a, b)


@callback(Output("explore-chi", "children"), DATASET, Input("explore-chi-column", "value"))
def show_chi_square(dataset_id, column):
    return _render(dataset_id, f"Could not test {column}", views.chi_view, column)


def _render(dataset_id: str | None, what: str, view, *args):
    """One section's view, or an alert in its place."""
    results = _open(dataset_id)
    try:
        return view(results, *args)
    except Exception as error:  # noqa: BLE001
        return error_alert(error, what)


def _open(dataset_id: str | None):
    """The session's dataset results; no update without a mapped dataset (the status line says why)."""
    if not dataset_id:
        raise PreventUpdate
    try:
        return views.open_dataset(dataset_id)
    except TxlabError:
        raise PreventUpdate from None


def _pointer(text: str, link: str, href: str, id_: str, color: str = "info") -> dbc.Alert:
    return dbc.Alert([text, dcc.Link(link, href=href, className="alert-link"), "."], color=color, id=id_)


def _section(title: str, body) -> dbc.Card:
    return dbc.Card(dbc.CardBody([html.H4(title, className="card-title"), *(body if isinstance(body, list) else [body])]), className="mb-3 txlab-section")


def _loading(id_: str) -> dcc.Loading:
    # Keep the previous view visible (dimmed) under the spinner while a cold computation runs.
    return dcc.Loading(html.Div(id=id_), type="default", delay_show=300, overlay_style={"visibility": "visible", "opacity": 0.5})


def _inline(label: str, control) -> dbc.Row:
    return dbc.Row([dbc.Col(dbc.Label(label, className="mb-0"), width="auto"), dbc.Col(control, md=4)], className="g-2 align-items-center mb-2")


def _opts(labels: dict[str, str]) -> list[dict]:
    return [{"label": v, "value": k} for k, v in labels.items()]


def _norm_options(disabled: bool = False) -> list[dict]:
    return [{"label": "Counts", "value": "counts", "disabled": disabled}, {"label": "Density", "value": "density", "disabled": disabled}]


def _distribution_controls() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(dcc.Dropdown(id="explore-dist-column", clearable=False, placeholder="Column"), md=4),
            dbc.Col(dbc.Switch(id="explore-dist-log", label="Log axis", value=False), width="auto"),
            dbc.Col(dbc.Switch(id="explore-dist-split", label="Split by label", value=False), width="auto"),
            dbc.Col(dbc.RadioItems(id="explore-dist-norm", options=_norm_options(), value="counts", inline=True), width="auto"),
        ],
        className="g-3 align-items-center mb-2",
    )


def _test_controls() -> html.Div:
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([dbc.Label("Numeric column"), dcc.Dropdown(id="explore-test-column", clearable=False)], md=4),
                    dbc.Col([dbc.Label("Compare groups of"), dcc.Dropdown(id="explore-test-by", value=views.LABEL, clearable=False)], md=4),
                ],
                className="g-3",
            ),
            html.Div(
                dbc.Row(
                    [
                        dbc.Col([dbc.Label("Group a"), dcc.Dropdown(id="explore-test-a", clearable=False)], md=4),
                        dbc.Col([dbc.Label("Group b"), dcc.Dropdown(id="explore-test-b", clearable=False)], md=4),
                    ],
                    className="g-3 mt-1",
                ),
                id="explore-test-groups",
                hidden=True,
            ),
        ],
        className="mb-3",
    )
