"""Small view builders shared by pages: reports, previews and lists rendered from plain dicts."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

_KIND_BADGE = {"number": "primary", "id": "secondary", "datetime": "info", "text": "dark", "boolean": "warning"}
_MAX_CELL = 80


def ingest_report_view(report: dict) -> html.Div:
    """What the reader did to the file: format, dialect, renamed headers, dropped rows, per-column counts."""
    facts = [
        ("Format", report.get("format")),
        ("Encoding", _encoding_text(report)),
        ("Delimiter", _delimiter_text(report.get("delimiter"))),
        ("Decimal / thousands", f"{report.get('decimal') or '.'} / {report.get('thousands') or 'none'}"),
        ("Rows read", f"{report.get('rows', 0):,}"),
        ("Rows dropped (wrong number of fields)", f"{report.get('ragged_count', 0):,}"),
    ]
    items = [html.Li([html.Span(f"{k}: ", className="text-muted"), html.Span(str(v))]) for k, v in facts if v is not None]
    notes = list(report.get("notes") or [])
    if report.get("ragged_lines"):
        shown = ", ".join(str(n) for n in report["ragged_lines"])
        more = report.get("ragged_count", 0) - len(report["ragged_lines"])
        if report.get("ragged_count", 0) == 1:
            notes.append(f"Dropped line {shown}: it does not have as many fields as the header.")
        else:
            notes.append(f"Dropped lines {shown}{f' and {more:,} more' if more > 0 else ''}: they do not have as many fields as the header.")
    for original, new in report.get("renamed_headers") or []:
        notes.append(f"Header {original!r} renamed to {new!r}." if original else f"Blank header named {new!r}.")
    return html.Div(
        [
            html.H5("What was read", className="mt-3"),
            html.Ul(items, className="list-unstyled small mb-2 txlab-facts"),
            html.Ul([html.Li(n) for n in notes], className="small txlab-notes") if notes else None,
            _columns_table(report.get("columns") or []),
        ],
        className="txlab-report",
        id="ingest-report",
    )


def preview_table(records: list[dict], columns: list[str], caption: str = "First rows") -> html.Div:
    """A read-only preview; every value rendered as text, so a cell can never become markup."""
    header = html.Thead(html.Tr([html.Th(str(c), className="txlab-col") for c in columns]))
    body = html.Tbody([html.Tr([html.Td(_cell(row.get(c))) for c in columns]) for row in records])
    return html.Div(
        [html.H5(caption, className="mt-3"), html.Div(dbc.Table([header, body], size="sm", striped=True, hover=True, className="txlab-table"), className="table-responsive")],
        id="data-preview",
    )


def validation_messages(messages: list[dict]) -> list[dbc.Alert]:
    """Error and warning messages from a coercion report, most serious first."""
    order = {"error": 0, "warning": 1}
    color = {"error": "danger", "warning": "warning"}
    return [
        dbc.Alert(m["text"], color=color.get(m["level"], "info"), className="py-2 mb-2 txlab-validation", id={"type": "validation", "code": m["code"]})
        for m in sorted(messages, key=lambda m: order.get(m["level"], 2))
    ]


def components_in(component):
    """Every component of a tree, in page order (depth first)."""
    stack = [component]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif item is not None and not isinstance(item, (str, int, float, bool)):
            yield item
            stack.append(getattr(item, "children", None))


def find_component(component, id_):
    """The component with this id in a tree (``StopIteration`` when there is none)."""
    return next(c for c in components_in(component) if getattr(c, "id", None) == id_)


def figures_in(component) -> list:
    """Every figure in a component tree, in page order: what the page would send to the browser."""
    return [c.figure for c in components_in(component) if isinstance(c, dcc.Graph)]


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _columns_table(columns: list[dict]) -> dbc.Table:
    head = ["Column", "Kind", "Type", "Missing", "Blank", "NaN", "Inf", "Unparseable", "Notes"]
    rows = []
    for col in columns:
        notes = list(col.get("notes") or [])
        if col.get("examples"):
            notes.append("e.g. " + ", ".join(repr(e) for e in col["examples"][:3]))
        rows.append(
            html.Tr(
                [
                    html.Td(str(col.get("name")), className="txlab-col"),
                    html.Td(dbc.Badge(col.get("kind", "?"), color=_KIND_BADGE.get(col.get("kind"), "light"), text_color="dark" if col.get("kind") == "boolean" else None)),
                    html.Td(str(col.get("dtype", ""))),
                    *[html.Td(f"{int(col.get(k) or 0):,}", className="text-end") for k in ("missing", "blank", "nan", "inf", "unparseable")],
                    html.Td("; ".join(n.rstrip(".") for n in notes), className="small"),
                ]
            )
        )
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], size="sm", hover=True, className="txlab-table", id="ingest-columns")


def _encoding_text(report: dict) -> str | None:
    encoding = report.get("encoding")
    if encoding is None:
        return None
    return f"{encoding}{' (with BOM)' if report.get('bom') else ''}"


def _delimiter_text(delimiter: str | None) -> str | None:
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    return None if delimiter is None else names.get(delimiter, repr(delimiter))


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"
