"""Recommend page: merchants for a user and merchants like a merchant, from learned embeddings.

Two embedding sources: the chosen fraud model's own merchant embeddings, and an implicit-feedback
model of the same dataset (merchant embeddings, a user as the mean of their merchants';
``core.recommend.softmax``) trained here as a background job. The job also evaluates both
against popularity (HR@10, NDCG@10 on each user's latest new merchant); the page recommends with
the better one unless told otherwise, and shows the table as the evidence.
"""
from __future__ import annotations

import time

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from core.recommend import build_recommender, recommend_for_user, recommender_folder, save_implicit, similar_merchants
from core.recommend.projection import merchant_map
from core.scoring import load_model
from dashboard import context, figures
from dashboard import recommend_views as views
from dashboard.alerts import error_alert, info_alert
from dashboard.training_views import GRAPH_CONFIG, version_options

dash.register_page(__name__, path="/recommend", name="Recommend", title="txlab · Recommend", order=6)

PROGRESS_POLL_MS = 500
_VERSION = Input("recommend-version", "value")
_SOURCE = Input("recommend-source", "value")
_TRAINED = Input("recommend-trained", "data")
_FILTERS = [Input("recommend-k", "value"), Input("recommend-max-fraud", "value"), Input("recommend-category", "value"),
            Input("recommend-country", "value")]


def layout(**_query) -> html.Div:
    infos = context.registry().list_versions()
    chosen = next((i.id for i in infos if i.active), infos[0].id if infos else None)
    return html.Div(
        [
            dcc.Store(id="recommend-trained"),  # when this page last trained a recommender (a time, no data)
            html.H3("Recommend"),
            html.P("Merchants a user has not tried yet, and merchants like a given one, ranked from learned embeddings. "
                   "The evaluation below shows which embeddings recommend better than simply suggesting the most popular merchants.",
                   className="text-muted"),
            dbc.Row([
                dbc.Col([dbc.Label("Model version"), dcc.Dropdown(id="recommend-version", options=version_options(infos), value=chosen,
                                                                  clearable=False, placeholder="No trained model")], md=6),
                dbc.Col([dbc.Label("Embeddings"), dcc.Dropdown(id="recommend-source", options=views.SOURCE_CHOICES, value=views.AUTO,
                                                               clearable=False)], md=6),
            ], className="g-2 mb-2"),
            dcc.Loading(html.Div(id="recommend-context"), type="default", delay_show=300),
            _section("Filters", [dbc.Row([
                dbc.Col([dbc.Label("How many (K)"), dbc.Input(id="recommend-k", type="number", min=1, max=100, step=1, value=10)], md=2),
                dbc.Col([dbc.Label("Max fraud rate (%)"), dbc.Input(id="recommend-max-fraud", type="number", min=0, max=100, step=0.1,
                                                                  placeholder="no limit")], md=3),
                dbc.Col([dbc.Label("Category"), dcc.Dropdown(id="recommend-category", placeholder="Any category")], md=4),
                dbc.Col([dbc.Label("Country"), dcc.Dropdown(id="recommend-country", placeholder="Any country")], md=3),
            ], className="g-2")]),
            dbc.Row([
                dbc.Col(_section("For a user", [
                    dcc.Dropdown(id="recommend-user", placeholder="Type to search a user id", searchable=True, className="mb-2"),
                    dcc.Loading(html.Div(id="recommend-user-results"), type="default", delay_show=300),
                ]), lg=6),
                dbc.Col(_section("Similar merchants", [
                    dcc.Dropdown(id="recommend-merchant", placeholder="Type to search a merchant id", searchable=True, className="mb-2"),
                    dcc.Loading(html.Div(id="recommend-merchant-results"), type="default", delay_show=300),
                ]), lg=6),
            ], className="g-3"),
            _section("Evaluation", [
                html.Div([dbc.Button([html.I(className="bi bi-play-fill me-1"), "Train implicit recommender"], id="recommend-train",
                                     color="primary", className="me-2"),
                          dbc.Button([html.I(className="bi bi-stop-fill me-1"), "Cancel"], id="recommend-cancel", color="outline-danger",
                                     className="me-2", disabled=True),
                          html.Span(id="recommend-train-progress", className="small text-muted")], className="mb-2"),
                html.Div(id="recommend-train-message"),
                html.Div(id="recommend-evaluation"),
            ]),
            _section("Merchant map", [
                dbc.RadioItems(id="recommend-map-color", options=[{"label": v, "value": k} for k, v in figures.MAP_COLOR_BY.items()],
                               value="category", inline=True, className="mb-2"),
                dcc.Loading(dcc.Graph(id="recommend-map", figure=figures.empty_figure("Choose a model version"), config=GRAPH_CONFIG,
                                      className="txlab-graph"), type="default", delay_show=300),
            ]),
        ]
    )


@callback(Output("recommend-version", "value"), Input("app-dataset", "data"), State("recommend-version", "value"))
def follow_session_dataset(dataset_id: str | None, chosen: str | None):
    """Recommendations are for one dataset's users and merchants: prefer a version trained on the session's dataset."""
    version = views.version_for_dataset(context.registry().list_versions(), dataset_id, chosen)
    if version is None or version == chosen:
        raise PreventUpdate
    return version

@callback(
    Output("recommend-context", "children"),
    Output("recommend-category", "options"),
    Output("recommend-country", "options"),
    Output("recommend-evaluation", "children"),
    Output("recommend-train", "disabled"),
    _VERSION, _SOURCE, _TRAINED,
)
def show_context(version: str | None, source: str | None, _trained):
    """The model and dataset in use, the filter choices, and the stored evaluation."""
    if not version:
        return _no_model(), [], [], None, True
    try:
        ctx = _context(version)
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not prepare recommendations"), [], [], None, True
    shown = []
    try:
        _, name = ctx.source(source)
    except Exception as error:  # noqa: BLE001 - e.g. no implicit model yet: training it stays possible
        name = None
        shown.append(error_alert(error, "Those embeddings cannot be used"))
    categories = views.dropdown_options(ctx.info["category"]) if ctx.category_column else []
    return ([views.context_view(ctx, name), *shown], categories, views.dropdown_options(ctx.info["country"]),
            views.evaluation_table(ctx.evaluation), False)


@callback(Output("recommend-user", "options"), Input("recommend-user", "search_value"), _VERSION, State("recommend-user", "value"))
def user_options(search: str | None, version: str | None, selected: str | None):
    """The users matching what was typed (a few dozen at a time)."""
    if not version:
        return []
    try:
        return views.id_options(_context(version).interactions.users, search, selected)
    except Exception:  # noqa: BLE001 - show_context reports the problem
        return []


@callback(Output("recommend-merchant", "options"), Input("recommend-merchant", "search_value"), _VERSION, State("recommend-merchant", "value"))
def merchant_options(search: str | None, version: str | None, selected: str | None):
    if not version:
        return []
    try:
        return views.id_options(_context(version).interactions.merchants, search, selected)
    except Exception:  # noqa: BLE001
        return []


@callback(Output("recommend-user-results", "children"), Input("recommend-user", "value"), _VERSION, _SOURCE, *_FILTERS, _TRAINED)
def for_user(user_id: str | None, version: str | None, source: str | None, k, max_fraud, category, country, _trained):
    """Top-K merchants the user has not used, best first."""
    if not version:
        return None
    if not user_id:
        return html.P("Choose a user.", className="text-muted", id="recommend-user-hint")
    try:
        ctx = _context(version)
        embeddings, _ = ctx.source(source)
        result = recommend_for_user(embeddings, ctx.interactions, ctx.info, user_id, int(k or 10), views.filters_from(max_fraud, category, country))
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not recommend")
    return views.results_table(result, "recommend-user-table", "No merchant passes the filters.")


@callback(Output("recommend-merchant-results", "children"), Input("recommend-merchant", "value"), _VERSION, _SOURCE, *_FILTERS, _TRAINED)
def like_merchant(merchant_id: str | None, version: str | None, source: str | None, k, max_fraud, category, country, _trained):
    """The merchants whose embeddings are closest (cosine) to the chosen one."""
    if not version:
        return None
    if not merchant_id:
        return html.P("Choose a merchant.", className="text-muted", id="recommend-merchant-hint")
    try:
        ctx = _context(version)
        embeddings, _ = ctx.source(source)
        result = similar_merchants(embeddings, ctx.interactions, ctx.info, merchant_id, int(k or 10), views.filters_from(max_fraud, category, country))
    except Exception as error:  # noqa: BLE001
        return error_alert(error, "Could not find similar merchants")
    return views.results_table(result, "recommend-merchant-table", "No merchant passes the filters.")


@callback(Output("recommend-map", "figure"), _VERSION, _SOURCE, Input("recommend-map-color", "value"), _TRAINED)
def show_map(version: str | None, source: str | None, color_by: str, _trained):
    """Sampled merchants on the first two principal components of the embeddings in use."""
    if not version:
        return figures.empty_figure("No trained model yet")
    try:
        ctx = _context(version)
        embeddings, name = ctx.source(source)
        projected = merchant_map(embeddings.aligned(ctx.interactions), ctx.info)
    except Exception as error:  # noqa: BLE001
        return figures.empty_figure(f"No map: {error}" if isinstance(error, ValueError) else "No map (see the server log)")
    subtitle = f"{views.SOURCE_LABELS[name]} · {len(projected.points):,} of {projected.total:,} merchants"
    return figures.merchant_map_figure(projected.points, projected.explained, color_by, subtitle=subtitle)


@callback(
    Output("recommend-trained", "data"),
    Output("recommend-train-message", "children"),
    Input("recommend-train", "n_clicks"),
    State("recommend-version", "value"),
    background=True,
    interval=PROGRESS_POLL_MS,
    progress=[Output("recommend-train-progress", "children")],
    running=[(Output("recommend-train", "disabled"), True, False), (Output("recommend-cancel", "disabled"), False, True),
             (Output("recommend-train-message", "children"), None, None)],
    cancel=[Input("recommend-cancel", "n_clicks")],  # ends the job's process; nothing is saved before the end
    prevent_initial_call=True,
)
def train_recommender(set_progress, n_clicks, version: str | None):
    """Evaluate the sources against popularity, fit the implicit model on every interaction, save it."""
    if not n_clicks:
        raise PreventUpdate
    if not version:
        return dash.no_update, _no_model()
    registry = context.registry()
    try:
        version_id, model, meta = load_model(registry, version)
        workspace = context.workspace()
        workspace.check_change(meta["dataset_id"], "train a recommender for")  # one per dataset: its owner's
        frame = workspace.load_mapped(meta["dataset_id"])
        build = build_recommender(frame, fraud_model=model, dataset_id=meta["dataset_id"], on_progress=lambda text: set_progress((text,)))
        build.model.info["fraud_model_version"] = version_id
        save_implicit(build.model, recommender_folder(registry.models_dir, meta["dataset_id"]))
    except Exception as error:  # noqa: BLE001
        set_progress(("",))
        return dash.no_update, error_alert(error, "Could not train the recommender")
    chosen = build.evaluation.row(build.evaluation.chosen)
    set_progress((f"Done in {sum(build.timings.values()):.1f} s.",))
    return time.time(), info_alert(f"Implicit recommender saved for {meta.get('dataset_name') or meta['dataset_id']}: "
                                   f"{views.SOURCE_LABELS[chosen.source]} recommends best (HR@10 {chosen.hit_rate:.3f}).")


def _context(version: str) -> views.RecommendContext:
    return views.load_context(context.registry(), context.workspace(), version)


def _no_model() -> dbc.Alert:
    return dbc.Alert(["No trained model yet: recommendations come from a model's embeddings. ", dcc.Link("Train one", href="/train"), "."],
                     color="info", id="recommend-no-model", className="mb-2")


def _section(title: str, body: list) -> dbc.Card:
    return dbc.Card(dbc.CardBody([html.H4(title, className="card-title mb-2"), *body]), className="mb-3 txlab-section")
