"""Every Plotly figure, built from small core results (bins, levels, days), never from rows.

One light template for all figures, titles that say what is shown, axis titles with units,
hover texts with the numbers behind each mark. Each figure stays far below 150 KB of JSON:
a histogram is a step line over its bin edges, categories are capped at the top N by core.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.eda import CategoryBars, CorrelationMatrix, Histogram, LabelAssociation, SegmentRates, TimeProfile
from core.stats import ChiSquareResult, NumericComparison

LEGIT, FRAUD, NEUTRAL, MUTED = "#4c78a8", "#e45756", "#72b7b2", "#adb5bd"
RATE = "#d62728"
SERIES_STYLE = {"all": ("All transactions", LEGIT), "legit": ("Legitimate", LEGIT), "fraud": ("Fraud", FRAUD)}
BOTTOM_LEGEND = dict(orientation="h", x=0, xanchor="left", y=-0.3, yanchor="top")
METHOD_TITLE = {"pearson": "Pearson correlation", "spearman": "Spearman rank correlation", "cramers_v": "Cramér's V"}

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=12, color="#212529"),
        title=dict(x=0.01, xanchor="left", font=dict(size=15)),
        colorway=[LEGIT, FRAUD, NEUTRAL, "#f58518", "#54a24b", "#b279a2"],
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=64, r=24, t=72, b=56),
        xaxis=dict(showgrid=False, linecolor=MUTED, ticks="outside", tickcolor=MUTED, zeroline=False, automargin=True),
        yaxis=dict(gridcolor="#e9ecef", linecolor=MUTED, zeroline=False, automargin=True),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        hoverlabel=dict(font_size=12),
        hovermode="closest",
    )
)


def empty_figure(message: str = "Nothing to show") -> go.Figure:
    """A blank figure carrying a message (no axes), for a section with nothing to draw yet."""
    fig = _figure(height=260)
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, margin=dict(t=24, b=24))
    fig.add_annotation(text=message, showarrow=False, font=dict(size=14, color="#6c757d"), x=0.5, y=0.5, xref="paper", yref="paper")
    return fig


def histogram_figure(hist: Histogram) -> go.Figure:
    """Binned distribution as filled steps; with a label split, legit and fraud overlaid."""
    fig = _figure(height=380)
    edges = list(hist.edges)
    for key, values in hist.series.items():
        name, color = SERIES_STYLE.get(key, (key, NEUTRAL))
        _add_steps(fig, edges, values, name, color, hist.density)
    unit = "per unit of log10" if hist.density and hist.log_x else ""
    scale = " (log scale)" if hist.log_x else ""
    notes = []
    if hist.n_missing:
        notes.append(f"{hist.n_missing:,} missing")
    if hist.n_excluded:
        notes.append(f"{hist.n_excluded:,} zero, negative or infinite not shown" if hist.log_x else f"{hist.n_excluded:,} infinite not shown")
    fig.update_layout(
        title=_title(f"Distribution of {hist.column}{scale}", " · ".join(notes)),
        xaxis=dict(title=hist.column, type="log" if hist.log_x else "linear"),
        yaxis=dict(title=f"Density {unit}".strip() if hist.density else "Transactions", rangemode="tozero"),
        showlegend=len(hist.series) > 1,
    )
    if not edges:
        fig.add_annotation(text="No values to show", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def category_figure(bars: CategoryBars) -> go.Figure:
    """Volume of the top levels as bars, their fraud rate (95% interval) as a line on the right axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    _apply_template(fig, height=400)
    fig.add_trace(
        go.Bar(x=bars.categories, y=bars.counts, name="Transactions", marker_color=LEGIT, opacity=0.75,
               hovertemplate="%{x}<br>%{y:,} transactions<extra></extra>"),
        secondary_y=False,
    )
    if any(r is not None for r in bars.fraud_rate):
        fig.add_trace(_rate_trace(bars, mode="lines+markers"), secondary_y=True)
        if bars.overall_rate is not None:  # a trace, not a shape: shapes on a secondary axis misplace their label
            fig.add_trace(go.Scatter(x=bars.categories, y=[bars.overall_rate] * len(bars.categories), mode="lines",
                                     line=dict(color=RATE, dash="dash", width=1), name=f"overall {bars.overall_rate:.2%}",
                                     hoverinfo="skip"), secondary_y=True)
        fig.update_yaxes(title_text="Fraud rate", tickformat=".1%", rangemode="tozero", showgrid=False, secondary_y=True)
    more = f"top {len(bars.categories) - (1 if bars.n_other_levels else 0)} of {bars.n_levels:,} values" if bars.n_other_levels else ""
    fig.update_layout(title=_title(f"{bars.column}: volume and fraud rate", more),
                      xaxis=dict(type="category", tickangle=-30 if len(bars.categories) > 8 else 0))
    fig.update_yaxes(title_text="Transactions", secondary_y=False, rangemode="tozero")
    return fig


def segment_figure(seg: SegmentRates) -> go.Figure:
    """Fraud rate per segment with its 95% interval; red where the whole interval is above the overall rate."""
    fig = _figure(height=400)
    colors = [_segment_color(lo, hi, seg.overall_rate) for lo, hi in zip(seg.ci_low, seg.ci_high)]
    lift = seg.lift or [None] * len(seg.categories)
    custom = [[n, p, _pct(lo), _pct(hi), f"{l:.2f}×" if l is not None else "n/a"]
              for n, p, lo, hi, l in zip(seg.counts, seg.positives, seg.ci_low, seg.ci_high, lift)]
    fig.add_trace(
        go.Bar(
            x=seg.categories, y=seg.fraud_rate, marker_color=colors, name="Fraud rate",
            error_y=_error_bars(seg.fraud_rate, seg.ci_low, seg.ci_high),
            customdata=custom,
            hovertemplate="%{x}<br>fraud rate %{y:.2%} (95% CI %{customdata[2]}–%{customdata[3]})"
                          "<br>%{customdata[1]:,} of %{customdata[0]:,} transactions · lift %{customdata[4]}<extra></extra>",
        )
    )
    _overall_line(fig, seg.overall_rate)
    more = f"top {len(seg.categories) - (1 if seg.n_other_levels else 0)} of {seg.n_levels:,} by volume" if seg.n_other_levels else "by volume"
    fig.update_layout(
        title=_title(f"Fraud rate by {seg.column}", f"{more} · bars show 95% intervals · dashed: overall rate"),
        xaxis=dict(type="category", tickangle=-30 if len(seg.categories) > 8 else 0),
        yaxis=dict(title="Fraud rate", tickformat=".1%", rangemode="tozero"),
        showlegend=False,
    )
    return fig


def correlation_figure(matrix: CorrelationMatrix) -> go.Figure:
    """A k x k heatmap; diverging colours around 0 for correlations, sequential for Cramér's V."""
    k = len(matrix.columns)
    side = min(720, max(320, 60 + 44 * k))
    fig = _figure(height=side)
    cramers = matrix.method == "cramers_v"
    fig.add_trace(
        go.Heatmap(
            z=matrix.values, x=matrix.columns, y=matrix.columns,
            zmin=0 if cramers else -1, zmax=1, zmid=None if cramers else 0,
            colorscale="Blues" if cramers else "RdBu_r",
            texttemplate="%{z:.2f}" if k <= 15 else None,
            hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>",
            colorbar=dict(thickness=12, len=0.8),
            xgap=1, ygap=1,
        )
    )
    sample = " (seeded sample)" if matrix.sampled else ""
    fig.update_layout(
        title=_title(METHOD_TITLE.get(matrix.method, matrix.method), f"{matrix.n_used:,} rows{sample}"),
        xaxis=dict(type="category", tickangle=-30),
        yaxis=dict(type="category", autorange="reversed"),
    )
    return fig


def association_figure(items: Sequence[LabelAssociation]) -> go.Figure:
    """Each feature's association with the label, strongest on top; hover gives the measure and AUC."""
    items = [a for a in items if a.value is not None]
    fig = _figure(height=max(260, 80 + 28 * len(items)))
    fig.add_trace(
        go.Bar(
            y=[a.feature for a in items], x=[a.value for a in items], orientation="h",
            marker_color=[NEUTRAL if a.measure.startswith("Cram") else LEGIT for a in items],
            text=[f"{a.value:.3f}" for a in items], textposition="auto",
            customdata=[[a.measure, a.role, f"{a.auc:.3f}" if a.auc is not None else "n/a", a.n] for a in items],
            hovertemplate="%{y} (%{customdata[1]})<br>%{customdata[0]} = %{x:.3f}<br>single-feature AUC %{customdata[2]}"
                          "<br>%{customdata[3]:,} rows<extra></extra>",
        )
    )
    fig.update_layout(
        title=_title("Association with the label", "numbers: point-biserial r · categories: Cramér's V"),
        xaxis=dict(title="Strength (r or V)", zeroline=True, zerolinecolor=MUTED),
        yaxis=dict(type="category", autorange="reversed"),
        showlegend=False,
    )
    return fig


def daily_figure(profile: TimeProfile) -> go.Figure:
    """Volume, amount and fraud rate per day (or week/month on long spans), stacked on one time axis."""
    daily = profile.daily
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("Transactions", "Amount", "Fraud rate"))
    _apply_template(fig, height=560)
    dates = daily["date"]
    fig.add_trace(go.Bar(x=dates, y=daily["count"], marker_color=LEGIT, name="Transactions",
                         hovertemplate="%{x}<br>%{y:,} transactions<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=dates, y=daily["amount"], mode="lines", line=dict(color=NEUTRAL, width=1.5), name="Amount",
                             hovertemplate="%{x}<br>amount %{y:,.2f}<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Scatter(x=dates, y=daily["fraud_rate"], mode="lines", line=dict(color=RATE, width=1.5), name="Fraud rate",
                             customdata=daily.get("positives"),
                             hovertemplate="%{x}<br>fraud rate %{y:.2%} (%{customdata:,} fraud)<extra></extra>"), row=3, col=1)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(tickformat=".1%", row=3, col=1)
    missing = f"{profile.n_missing:,} rows without a time left out" if profile.n_missing else ""
    fig.update_layout(title=_title(f"Over time, per {profile.period}", missing), showlegend=False,
                      margin=dict(t=96))
    return fig


def hour_weekday_figure(profile: TimeProfile) -> go.Figure:
    """Volume (bars) and fraud rate (line, right axis) by hour of day and by day of week."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.64, 0.36], horizontal_spacing=0.1,
                        specs=[[{"secondary_y": True}, {"secondary_y": True}]],
                        subplot_titles=("By hour of day", "By day of week"))
    _apply_template(fig, height=360)
    for col, part, key in ((1, profile.hourly, "hour"), (2, profile.weekday, "day")):
        x = [f"{h:02d}" for h in part[key]] if key == "hour" else part[key]
        fig.add_trace(go.Bar(x=x, y=part["count"], marker_color=LEGIT, opacity=0.75, name="Transactions", showlegend=col == 1,
                             hovertemplate="%{x}<br>%{y:,} transactions<extra></extra>"), row=1, col=col, secondary_y=False)
        fig.add_trace(go.Scatter(x=x, y=part["fraud_rate"], mode="lines+markers", line=dict(color=RATE), marker=dict(size=5),
                                 name="Fraud rate", showlegend=col == 1,
                                 hovertemplate="%{x}<br>fraud rate %{y:.2%}<extra></extra>"), row=1, col=col, secondary_y=True)
    fig.update_xaxes(type="category")
    fig.update_yaxes(rangemode="tozero", secondary_y=False)
    fig.update_yaxes(tickformat=".1%", rangemode="tozero", showgrid=False, secondary_y=True)
    fig.update_layout(title=_title("Daily and weekly rhythm"), margin=dict(t=96), legend=BOTTOM_LEGEND)
    return fig


def comparison_figure(result: NumericComparison, hist: Histogram | None = None) -> go.Figure:
    """The two groups of a test side by side: their distributions (when given) and their centres.

    Left: the groups' density histograms with their medians. Right: each group's median and
    mean; group b's mean carries the 95% interval of the difference of means (Welch), so it
    clears group a's mean exactly when that interval excludes 0.
    """
    a, b = result.group_a, result.group_b
    if hist is not None and hist.edges:
        fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.12,
                            subplot_titles=(f"Distribution of {result.column}", "Median and mean"))
        names = {"legit": a, "fraud": b} if set(hist.series) == {"legit", "fraud"} else {}
        for key, values in hist.series.items():
            color = FRAUD if key == "fraud" else LEGIT
            _add_steps(fig, list(hist.edges), values, names.get(key, key), color, True, row=1, col=1, legend=True)
        for median, color in ((result.median_a, LEGIT), (result.median_b, FRAUD)):
            if _finite(median) and (not hist.log_x or median > 0):
                fig.add_vline(x=median, line=dict(color=color, dash="dash", width=1), row=1, col=1)
        fig.update_xaxes(title_text=result.column, type="log" if hist.log_x else "linear", row=1, col=1)
        fig.update_yaxes(title_text="Density", rangemode="tozero", row=1, col=1)
        where = dict(row=1, col=2)
    else:
        fig = make_subplots(rows=1, cols=1, subplot_titles=("Median and mean",))
        where = dict(row=1, col=1)
    _apply_template(fig, height=380)
    groups = [a, b]
    fig.add_trace(go.Scatter(x=[result.median_a, result.median_b], y=groups, mode="markers", name="Median",
                             marker=dict(symbol="diamond", size=11, color=[LEGIT, FRAUD]),
                             hovertemplate="%{y}<br>median %{x:,.4g}<extra></extra>"), **where)
    ci = None
    if all(_finite(v) for v in (result.diff_ci_low, result.diff_ci_high, result.mean_a, result.mean_b)):
        ci = dict(type="data", symmetric=False, array=[None, result.mean_a + result.diff_ci_high - result.mean_b],
                  arrayminus=[None, result.mean_b - (result.mean_a + result.diff_ci_low)], color="#495057", thickness=1.5, width=6)
    fig.add_trace(go.Scatter(x=[result.mean_a, result.mean_b], y=groups, mode="markers", name="Mean (95% CI of difference)",
                             marker=dict(symbol="circle-open", size=11, line=dict(width=2), color=[LEGIT, FRAUD]), error_x=ci,
                             hovertemplate="%{y}<br>mean %{x:,.4g}<extra></extra>"), **where)
    fig.update_yaxes(type="category", **where)
    fig.update_xaxes(title_text=result.column, **where)
    fig.update_layout(title=_title(f"{result.column}: {b} vs {a}", f"{result.n_a:,} vs {result.n_b:,} values · effect {result.effect}"),
                      margin=dict(t=96), legend=BOTTOM_LEGEND)
    return fig


def chi_square_figure(result: ChiSquareResult) -> go.Figure:
    """The cells that depart most from independence: adjusted residuals (|r| > 2 stands out)."""
    cells = list(result.top_cells)
    labels = [f"{c['row']} · {c['col']}" for c in cells]
    fig = _figure(height=max(260, 80 + 26 * len(cells)))
    fig.add_trace(go.Bar(
        y=labels, x=[c["residual"] for c in cells], orientation="h",
        marker_color=[FRAUD if _finite(c["residual"]) and c["residual"] > 0 else LEGIT for c in cells],
        customdata=[[c["observed"], c["expected"], c["contribution"]] for c in cells],
        hovertemplate="%{y}<br>observed %{customdata[0]:,} vs expected %{customdata[1]:,.1f}"
                      "<br>residual %{x:.2f} · adds %{customdata[2]:,.1f} to chi²<extra></extra>",
    ))
    for x in (-2, 2):
        fig.add_vline(x=x, line=dict(color=MUTED, dash="dot", width=1))
    fig.update_layout(title=_title(f"{result.column} × {result.by}: cells furthest from independence", "red: more than expected · blue: fewer"),
                      xaxis=dict(title="Adjusted residual", zeroline=True, zerolinecolor=MUTED),
                      yaxis=dict(type="category", autorange="reversed"), showlegend=False)
    return fig


# --- helpers ---------------------------------------------------------------------------------


def _figure(height: int) -> go.Figure:
    fig = go.Figure()
    _apply_template(fig, height)
    return fig


def _apply_template(fig: go.Figure, height: int) -> None:
    fig.update_layout(template=TEMPLATE, height=height)


def _title(text: str, subtitle: str = "") -> dict:
    return dict(text=text, subtitle=dict(text=subtitle, font=dict(size=12, color="#6c757d"))) if subtitle else dict(text=text)


def _add_steps(fig: go.Figure, edges: list[float], values: Sequence[float | None], name: str, color: str,
               density: bool, row: int | None = None, col: int | None = None, legend: bool = True) -> None:
    """One series of a histogram as a filled step line over its bin edges (works on log axes)."""
    if not edges:
        return
    y = [v or 0 for v in values]
    y = y + y[-1:]  # the last step spans the last bin
    custom = [[lo, hi] for lo, hi in zip(edges[:-1], edges[1:])] + [[edges[-2], edges[-1]]]
    amount = "%{y:.4g}" if density else "%{y:,}"
    trace = go.Scatter(
        x=edges, y=y, mode="lines", line=dict(shape="hv", color=color, width=1.5), fill="tozeroy",
        fillcolor=_alpha(color, 0.25), name=name, showlegend=legend, customdata=custom,
        hovertemplate=f"{name}<br>%{{customdata[0]:,.4g}} – %{{customdata[1]:,.4g}}<br>{amount}"
                      f"{' density' if density else ' transactions'}<extra></extra>",
    )
    if row is None:
        fig.add_trace(trace)
    else:
        fig.add_trace(trace, row=row, col=col)


def _rate_trace(bars: CategoryBars, mode: str) -> go.Scatter:
    custom = [[p if p is not None else 0, _pct(lo), _pct(hi)] for p, lo, hi in zip(bars.positives, bars.ci_low, bars.ci_high)]
    return go.Scatter(
        x=bars.categories, y=bars.fraud_rate, mode=mode, name="Fraud rate", line=dict(color=RATE), marker=dict(size=6),
        error_y=_error_bars(bars.fraud_rate, bars.ci_low, bars.ci_high), customdata=custom,
        hovertemplate="%{x}<br>fraud rate %{y:.2%} (95% CI %{customdata[1]}–%{customdata[2]})<br>%{customdata[0]:,} fraud<extra></extra>",
    )


def _error_bars(rates: Sequence[float | None], low: Sequence[float | None], high: Sequence[float | None]) -> dict:
    up = [h - r if h is not None and r is not None else None for r, h in zip(rates, high)]
    down = [r - lo if lo is not None and r is not None else None for r, lo in zip(rates, low)]
    return dict(type="data", symmetric=False, array=up, arrayminus=down, color="#495057", thickness=1.2, width=3)


def _overall_line(fig: go.Figure, rate: float | None) -> None:
    if rate is None:
        return
    fig.add_hline(y=rate, line=dict(color=RATE, dash="dash", width=1), annotation_text=f"overall {rate:.2%}",
                  annotation_position="top right", annotation_font=dict(size=11, color=RATE))


def _segment_color(low: float | None, high: float | None, overall: float | None) -> str:
    if overall is None or low is None or high is None:
        return NEUTRAL
    if low > overall:
        return FRAUD
    if high < overall:
        return LEGIT
    return MUTED


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _alpha(color: str, alpha: float) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# --- training and model versions -------------------------------------------------------------
# Built from a run's or a version's per-epoch history (a few dozen small dicts) and its baselines.

TRAIN_LOSS_COLOR, VAL_LOSS_COLOR = LEGIT, "#f58518"
AUC_COLOR, AP_COLOR = LEGIT, FRAUD
BASELINE_LABEL = {"hist_gradient_boosting": "gradient boosting", "logistic_regression": "logistic regression"}
BASELINE_DASH = ("dash", "dot", "dashdot", "longdash")
VERSION_COLORS = (LEGIT, "#f58518", "#54a24b", "#b279a2")


def training_loss_figure(history: Sequence[dict], epochs: int | None = None, title: str = "Loss per epoch") -> go.Figure:
    """Training and validation loss per epoch; a star on the best epoch (by validation AP).

    ``epochs`` fixes the x axis to the planned number of epochs, so a live graph does not rescale.
    """
    fig = _figure(height=340)
    x = _epochs(history)
    for key, name, color in (("train_loss", "Training loss", TRAIN_LOSS_COLOR), ("val_loss", "Validation loss", VAL_LOSS_COLOR)):
        fig.add_trace(go.Scatter(x=x, y=[_value(h, key) for h in history], mode="lines+markers", name=name,
                                 line=dict(color=color, width=2), marker=dict(size=6),
                                 hovertemplate=f"epoch %{{x}}<br>{name.lower()} %{{y:.4f}}<extra></extra>"))
    best = _best_epoch(history)
    if best is not None and _finite(_value(best, "val_loss")):
        fig.add_trace(go.Scatter(x=[best["epoch"]], y=[best["val_loss"]], mode="markers", name="Best epoch",
                                 marker=dict(symbol="star", size=13, color=VAL_LOSS_COLOR, line=dict(color="#212529", width=1)),
                                 hovertemplate="best epoch %{x}<br>validation loss %{y:.4f}<extra></extra>"))
    fig.update_layout(title=_title(title, _epoch_note(history, epochs)), xaxis=_epoch_axis(history, epochs),
                      yaxis=dict(title="Loss (log loss)", rangemode="tozero"), uirevision="training-loss")
    if not history:
        _waiting(fig)
    return fig


def training_metrics_figure(history: Sequence[dict], baselines: dict | None = None, epochs: int | None = None,
                            title: str = "Validation ROC AUC and average precision") -> go.Figure:
    """ROC AUC and average precision per epoch; each baseline's AUC and AP as dashed reference lines."""
    fig = _figure(height=340)
    x = _epochs(history)
    for key, name, color in (("roc_auc", "ROC AUC", AUC_COLOR), ("average_precision", "Average precision", AP_COLOR)):
        fig.add_trace(go.Scatter(x=x, y=[_value(h, key) for h in history], mode="lines+markers", name=name,
                                 line=dict(color=color, width=2), marker=dict(size=6),
                                 hovertemplate=f"epoch %{{x}}<br>{name} %{{y:.4f}}<extra></extra>"))
    axis = _epoch_axis(history, epochs)
    span = list(axis["range"])
    for i, (baseline, metrics) in enumerate(sorted((baselines or {}).items())):
        label = BASELINE_LABEL.get(baseline, baseline.replace("_", " "))
        dash = BASELINE_DASH[i % len(BASELINE_DASH)]
        for key, short, color in (("roc_auc", "AUC", AUC_COLOR), ("average_precision", "AP", AP_COLOR)):
            value = _value(metrics or {}, key)
            if not _finite(value):
                continue
            fig.add_trace(go.Scatter(x=span, y=[value, value], mode="lines", name=f"{label} {short} {value:.3f}",
                                     line=dict(color=color, dash=dash, width=1.2), opacity=0.8,
                                     hovertemplate=f"{label}<br>{short} {value:.4f}<extra></extra>"))
    fig.update_layout(title=_title(title, "dashed: baselines on the same split" if baselines else _epoch_note(history, epochs)),
                      xaxis=axis, yaxis=dict(title="Validation score", range=[0, 1.02]),
                      legend=BOTTOM_LEGEND, margin=dict(b=110), height=380, uirevision="training-metrics")
    if not history:
        _waiting(fig)
    return fig


def versions_curves_figure(versions: Sequence[tuple[str, Sequence[dict]]]) -> go.Figure:
    """Two or more versions' curves overlaid: validation loss (left) and average precision (right)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=("Validation loss", "Average precision"))
    _apply_template(fig, height=360)
    for i, (label, history) in enumerate(versions):
        color = VERSION_COLORS[i % len(VERSION_COLORS)]
        dash = "solid" if i == 0 else BASELINE_DASH[(i - 1) % len(BASELINE_DASH)]
        x = _epochs(history)
        for col, key, what in ((1, "val_loss", "validation loss"), (2, "average_precision", "AP")):
            fig.add_trace(go.Scatter(x=x, y=[_value(h, key) for h in history], mode="lines+markers", name=label,
                                     legendgroup=label, showlegend=col == 1, line=dict(color=color, dash=dash, width=2),
                                     marker=dict(size=5), hovertemplate=f"{label}<br>epoch %{{x}}<br>{what} %{{y:.4f}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(title_text="Epoch", dtick=1 if max((len(h) for _, h in versions), default=0) <= 20 else None)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=_title("Curves compared"), margin=dict(t=96), legend=BOTTOM_LEGEND)
    return fig


def _epochs(history: Sequence[dict]) -> list[int]:
    return [int(h.get("epoch", i + 1)) for i, h in enumerate(history)]


def _value(row: dict, key: str) -> float | None:
    """A finite number, else None (a gap in the line): metrics are NaN where undefined."""
    value = row.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _best_epoch(history: Sequence[dict]) -> dict | None:
    marked = [h for h in history if h.get("best")]
    return marked[-1] if marked else None


def _epoch_axis(history: Sequence[dict], epochs: int | None) -> dict:
    """Room for every planned epoch when there are few (the live graph keeps its scale); else grow with the run."""
    done = max([*_epochs(history), 1])
    planned = int(epochs or 0)
    last = max(done, planned) if planned <= 30 else max(done, min(planned, max(10, math.ceil(done * 1.25))))
    return dict(title="Epoch", range=[0.5, last + 0.5], dtick=1 if last <= 20 else None, tick0=1)


def _epoch_note(history: Sequence[dict], epochs: int | None) -> str:
    if not history:
        return ""
    done = len(history)
    return f"{done} of {epochs} epochs" if epochs and epochs > done else f"{done} epochs"


def _waiting(fig: go.Figure) -> None:
    fig.add_annotation(text="Waiting for the first epoch", showarrow=False, font=dict(size=14, color="#6c757d"),
                       x=0.5, y=0.5, xref="paper", yref="paper")


# --- scoring: one row's explanation, a batch's score distribution ------------------------------------

RAISES, LOWERS = FRAUD, LEGIT


def attribution_figure(attributions: dict[str, float], probability: float, baseline_probability: float) -> go.Figure:
    """Signed horizontal bars, one per field or feature group: its contribution to the log-odds of fraud
    (red raises the score, blue lowers it). The largest effect is at the top (``attributions`` comes sorted by size)."""
    items = list(attributions.items())
    fig = _figure(height=max(220, 90 + 30 * len(items)))
    names = [str(k) for k, _ in reversed(items)]
    values = [float(v) for _, v in reversed(items)]
    fig.add_trace(go.Bar(
        x=values, y=names, orientation="h", marker_color=[RAISES if v > 0 else LOWERS for v in values],
        text=[f"{v:+.2f}" for v in values], textposition="outside", cliponaxis=False, name="Contribution",
        hovertemplate="%{y}: %{x:+.3f} log-odds<extra></extra>",
    ))
    fig.add_vline(x=0, line_color=MUTED, line_width=1)
    low, high = min([0.0, *values]), max([0.0, *values])
    pad = 0.18 * ((high - low) or 1.0)  # room for the value labels outside the bars
    fig.update_layout(
        title=_title("Why this score", f"from {baseline_probability:.1%} (baseline) to {probability:.1%} · red raises, blue lowers"),
        xaxis=dict(title="Contribution to the log-odds of fraud", zeroline=False, range=[low - (pad if low < 0 else 0), high + (pad if high > 0 else 0)]),
        yaxis=dict(type="category", automargin=True),
        showlegend=False, margin=dict(l=120, r=56, t=72, b=56), bargap=0.35,
    )
    if not items:
        fig.add_annotation(text="No field moved the score", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def score_distribution_figure(edges: Sequence[float], counts: Sequence[int], threshold: float | None = None) -> go.Figure:
    """Binned fraud scores (log count axis: most rows score near zero) with the decision threshold."""
    fig = _figure(height=340)
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    colors = [RAISES if threshold is not None and c >= threshold else LEGIT for c in centers]
    fig.add_trace(go.Bar(
        x=centers, y=list(counts), width=widths, marker_color=colors, marker_line_width=0, name="Rows",
        customdata=[[a, b] for a, b in zip(edges[:-1], edges[1:])],
        hovertemplate="score %{customdata[0]:.2f}–%{customdata[1]:.2f}<br>%{y:,} rows<extra></extra>",
    ))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color=RATE, line_width=1,
                      annotation_text=f"threshold {threshold:.2f}", annotation_position="top")
    total = sum(int(c) for c in counts)
    fig.update_layout(
        title=_title("Distribution of fraud scores", f"{total:,} rows · red: at or above the threshold"),
        xaxis=dict(title="Fraud score", range=[0, 1]),
        yaxis=dict(title="Rows (log scale)", type="log", dtick=1),
        showlegend=False, bargap=0.05,
    )
    return fig


# --- profit and loss ----------------------------------------------------------------------------
# Built from core.finance results: a ~200-point threshold curve, one outcome, per-day and per-segment sums.

PROFIT, LOSS, COST = "#54a24b", FRAUD, "#f58518"


def pnl_curve_figure(curve, current=None, currency: str = "") -> go.Figure:
    """P&L against the decision threshold; a star on the best threshold, a diamond on the current one,
    and the P&L of approving everything as a dashed line."""
    fig = _figure(height=380)
    money = f"%{{y:,.2f}}{currency}"
    fig.add_trace(go.Scatter(x=list(curve.thresholds), y=list(curve.pnl), mode="lines", name="Model", line=dict(color=LEGIT, width=2),
                             customdata=list(zip(curve.alerts, curve.tp)),
                             hovertemplate=f"threshold %{{x:.4f}}<br>P&L {money}<br>%{{customdata[0]:,}} alerts, %{{customdata[1]:,}} fraud caught<extra></extra>"))
    span = [1e-4, max(1.0, max(curve.thresholds, default=1.0))]
    fig.add_trace(go.Scatter(x=span, y=[curve.approve_all.pnl] * 2, mode="lines", name=f"Approve everything {curve.approve_all.pnl:,.0f}",
                             line=dict(color=MUTED, dash="dash", width=1.5), hovertemplate=f"approve everything<br>P&L {money}<extra></extra>"))
    best = curve.best
    fig.add_trace(go.Scatter(x=[min(best.threshold, span[1])], y=[best.pnl], mode="markers", name=f"Best {best.threshold:.4f}",
                             marker=dict(symbol="star", size=15, color=PROFIT, line=dict(color="#212529", width=1)),
                             hovertemplate=f"best threshold %{{x:.4f}}<br>P&L {money}<extra></extra>"))
    if current is not None:
        fig.add_trace(go.Scatter(x=[current.threshold], y=[current.pnl], mode="markers", name=f"Current {current.threshold:.4f}",
                                 marker=dict(symbol="diamond", size=12, color=COST, line=dict(color="#212529", width=1)),
                                 hovertemplate=f"current threshold %{{x:.4f}}<br>P&L {money}<extra></extra>"))
    # Fraud scores crowd near 0: a log axis (as the page's slider) from 0.0001 spreads them out.
    fig.update_layout(title=_title("Profit and loss by decision threshold", "decline scores at or above the threshold"),
                      xaxis=dict(title="Threshold (fraud score, log scale)", type="log", range=[-4, math.log10(span[1])]),
                      yaxis=dict(title=f"P&L{f' ({currency})' if currency else ''}"),
                      legend=BOTTOM_LEGEND, margin=dict(b=110), uirevision="money-curve")
    return fig


def confusion_figure(outcome) -> go.Figure:
    """The 2x2 confusion matrix of one threshold: rows actual, columns decision, counts and shares."""
    z = [[outcome.tn, outcome.fp], [outcome.fn, outcome.tp]]
    total = max(sum(map(sum, z)), 1)
    text = [[f"{v:,}<br>{v / total:.1%}" for v in row] for row in z]
    fig = _figure(height=300)
    fig.add_trace(go.Heatmap(z=z, x=["Approved", "Declined"], y=["Legitimate", "Fraud"], text=text, texttemplate="%{text}",
                             colorscale=[[0, "#f8f9fa"], [1, LEGIT]], showscale=False,
                             hovertemplate="%{y}, %{x}: %{z:,}<extra></extra>"))
    fig.update_layout(title=_title(f"Confusion matrix at {outcome.threshold:.4f}", f"{outcome.reviewed:,} declined after review"),
                      xaxis=dict(title="Decision", type="category"), yaxis=dict(title="Actual", type="category", autorange="reversed"))
    return fig


def alerts_per_day_figure(per_day) -> go.Figure:
    """Alerts per day at the threshold, split into reviewed and beyond capacity, with the capacity line."""
    fig = _figure(height=340)
    over = [a - r for a, r in zip(per_day.alerts, per_day.reviewed)]
    fig.add_trace(go.Bar(x=per_day.days, y=per_day.reviewed, name="Reviewed", marker_color=LEGIT,
                         hovertemplate="%{x}<br>%{y:,} alerts reviewed<extra></extra>"))
    fig.add_trace(go.Bar(x=per_day.days, y=over, name="Beyond capacity (approved unreviewed)", marker_color=FRAUD,
                         hovertemplate="%{x}<br>%{y:,} alerts beyond capacity<extra></extra>"))
    if per_day.capacity is not None and per_day.days:
        fig.add_trace(go.Scatter(x=[per_day.days[0], per_day.days[-1]], y=[per_day.capacity] * 2, mode="lines",
                                 name=f"Capacity {per_day.capacity:,}/day", line=dict(color="#212529", dash="dash", width=1.5),
                                 hovertemplate="capacity %{y:,} per day<extra></extra>"))
    note = (f"{per_day.days_over} of {len(per_day.days)} days over capacity, {per_day.unreviewed:,} alerts unreviewed"
            if per_day.capacity is not None else "unlimited capacity")
    fig.update_layout(title=_title("Alerts per day", note), barmode="stack", xaxis=dict(title="Day"),
                      yaxis=dict(title="Alerts", rangemode="tozero"), legend=BOTTOM_LEGEND, margin=dict(b=110))
    return fig


MONEY_BY_TITLE = {"country": "By country", "device_type": "By device", "merchant_id": "By merchant", "day": "Per day", "week": "Per week"}


def money_breakdown_figure(b) -> go.Figure:
    """Revenue kept (up), fraud loss and review/decline costs (down) per group, with the P&L as a marker."""
    fig = _figure(height=380)
    time_axis = b.by in ("day", "week")
    x = list(b.labels)
    for key, name, color, sign in (("revenue", "Revenue kept", PROFIT, 1), ("fraud_loss", "Fraud loss", LOSS, -1), ("cost", "Review and decline costs", COST, -1)):
        fig.add_trace(go.Bar(x=x, y=[sign * v for v in getattr(b, key)], name=name, marker_color=color,
                             customdata=b.transactions, hovertemplate=f"%{{x}}<br>{name.lower()} %{{y:,.2f}}<br>%{{customdata:,}} transactions<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=list(b.pnl), mode="lines+markers" if time_axis else "markers", name="P&L",
                             marker=dict(symbol="diamond", size=9, color="#212529"), line=dict(color="#212529", width=1.5),
                             hovertemplate="%{x}<br>P&L %{y:,.2f}<extra></extra>"))
    note = f"top {len(x) - 1} by money at stake, {b.folded:,} more in Other" if b.folded else ""
    fig.update_layout(title=_title(f"{MONEY_BY_TITLE.get(b.by, b.by)}: money at the chosen threshold", note), barmode="relative",
                      xaxis=dict(title="Week starting" if b.by == "week" else ("Day" if b.by == "day" else None), type="date" if time_axis else "category"),
                      yaxis=dict(title="Money"), legend=BOTTOM_LEGEND, margin=dict(b=110))
    return fig


# --- recommendations -------------------------------------------------------------------------
# Built from core.recommend.projection.MerchantMap (at most 2,000 sampled merchants).

MAP_COLOR_BY = {"category": "Category", "fraud_rate": "Fraud rate"}
CATEGORY_COLORS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac")


def merchant_map_figure(points, explained: tuple[float, float] = (0.0, 0.0), color_by: str = "category",
                        title: str = "Merchant embeddings (PCA)", subtitle: str = "") -> go.Figure:
    """Merchants as points on the first two principal components, coloured by category or fraud rate.

    ``points`` has merchant_id, x, y, category, country, fraud_rate, transactions; falls back to the
    fraud-rate colouring when no category is known.
    """
    fig = _figure(height=520)
    if points is None or len(points) == 0:
        fig = empty_figure("No merchant embeddings to show")
        fig.update_layout(title=_title(title))
        return fig
    hover = ("merchant %{customdata[0]}<br>category %{customdata[1]}<br>country %{customdata[2]}"
             "<br>fraud rate %{customdata[3]}<br>transactions %{customdata[4]:,}<extra></extra>")
    custom = [[m, c if c is not None else "—", k if k is not None else "—", _pct(r if _finite(r) else None), int(t)]
              for m, c, k, r, t in zip(points["merchant_id"], points["category"], points["country"], points["fraud_rate"], points["transactions"])]
    categories = points["category"].dropna()
    if color_by == "category" and len(categories):
        names = sorted({str(c) for c in categories})
        for i, name in enumerate(names):
            rows = [j for j, c in enumerate(points["category"]) if c is not None and str(c) == name]
            fig.add_trace(go.Scattergl(x=points["x"].iloc[rows], y=points["y"].iloc[rows], mode="markers", name=name,
                                       marker=dict(size=7, opacity=0.75, color=CATEGORY_COLORS[i % len(CATEGORY_COLORS)]),
                                       customdata=[custom[j] for j in rows], hovertemplate=hover))
    else:
        rates = [float(r) if _finite(r) else 0.0 for r in points["fraud_rate"]]
        fig.add_trace(go.Scattergl(x=points["x"], y=points["y"], mode="markers", name="Merchants", showlegend=False,
                                   marker=dict(size=7, opacity=0.8, color=rates, colorscale="Reds", cmin=0,
                                               colorbar=dict(title="Fraud rate", tickformat=".0%")),
                                   customdata=custom, hovertemplate=hover))
    fig.update_layout(title=_title(title, subtitle),
                      xaxis=dict(title=f"Component 1 ({explained[0]:.0%} of variance)", zeroline=False),
                      yaxis=dict(title=f"Component 2 ({explained[1]:.0%} of variance)", zeroline=False),
                      legend=BOTTOM_LEGEND, uirevision="merchant-map")
    return fig
