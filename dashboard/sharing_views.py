"""Owner and sharing cells for the Data and Models pages' tables, and reading a share switch's click.

A row's owner, or an admin, gets a "Shared" switch (a pattern-matching id ``{"type": <kind>,
"index": <item id>}``); anyone else sees the item only because it is shared, and is told by
whom. Admins, who see everyone's items, also get an Owner column. Without accounts (one local
user owns everything) neither column is drawn.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ctx, html
from dash.exceptions import PreventUpdate

from core.access import Principal, can_change
from dashboard import context


def table_viewer() -> Principal | None:
    """Whom a table's sharing columns are drawn for: the user when accounts are on, else None (no such columns)."""
    return context.principal() if context.settings().accounts_required else None


def show_owner(viewer: Principal | None) -> bool:
    """Whether a table needs an Owner column: only admins see other users' unshared items."""
    return viewer is not None and viewer.admin


def owner_cell(owner: str) -> html.Td:
    return html.Td(owner, className="txlab-owner")


def share_cell(kind: str, item_id: str, name: str, owner: str, shared: bool, viewer: Principal | None) -> html.Td:
    """A "Shared" switch for whoever may change the item; for others, who shared it with them."""
    if can_change(viewer, owner):
        switch = dbc.Switch(id={"type": kind, "index": item_id}, value=bool(shared), label=f"Share {name} with everyone",
                            label_class_name="visually-hidden", class_name="mb-0")
        return html.Td(switch, title="Shared with everyone" if shared else "Only you (and admins) see it")
    return html.Td(html.Span([html.I(className="bi bi-people me-1"), f"shared by {owner}"], className="small text-muted"))


def share_request() -> tuple[str, bool]:
    """``(item id, wanted shared state)`` of the switch that fired this callback.

    A callback that fired because a table was drawn (no switch clicked) is stopped here.
    """
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or "index" not in trigger or not ctx.triggered:
        raise PreventUpdate
    value = ctx.triggered[0].get("value")
    if value is None:
        raise PreventUpdate
    return str(trigger["index"]), bool(value)
