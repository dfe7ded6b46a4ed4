"""Explore figures: each builds from a small core result, stays small, and shows what it says."""
from __future__ import annotations

import json
import math

import pytest

from core import eda, stats
from core.explore_frame import analysis_frame, column_roles
from core.mapping import apply_mapping, suggest_mapping
from core.synth import SynthConfig, generate
from dashboard import figures

MAX_KB = 150


@pytest.fixture(scope="module")
def frame():
    raw = generate(SynthConfig(rows=20_000, seed=11, days=30))
    mapping = suggest_mapping(raw).to_mapping()
    mapped, _ = apply_mapping(raw, mapping)
    out = analysis_frame(mapped, mapping)
    return out, column_roles(out, mapping)


def _kb(fig) -> float:
    return len(fig.to_json()) / 1024


def _title(fig) -> str:
    return fig.layout.title.text


def _check(fig, n_traces: int | None = None) -> dict:
    """Small, uses the shared template, and (optionally) holds exactly ``n_traces`` traces."""
    assert _kb(fig) <= MAX_KB
    assert fig.layout.template.layout.font.family == figures.TEMPLATE.layout.font.family
    if n_traces is not None:
        assert len(fig.data) == n_traces, [t.type for t in fig.data]
    return json.loads(fig.to_json())


def test_histogram_is_one_step_line_over_its_bin_edges(frame):
    f, _ = frame
    hist = eda.histogram(f, "amount", bins=40)
    fig = figures.histogram_figure(hist)
    _check(fig, 1)
    trace = fig.data[0]
    assert list(trace.x) == hist.edges and len(trace.y) == 41  # 40 bins: one step per bin plus the closing edge
    assert trace.line.shape == "hv" and sum(trace.y[:-1]) == len(f)  # every row counted once
    assert _title(fig) == "Distribution of amount" and fig.layout.yaxis.title.text == "Transactions"
    assert fig.layout.xaxis.type == "linear" and not fig.layout.showlegend


def test_split_log_density_histogram_overlays_fraud_on_a_log_axis(frame):
    f, _ = frame
    fig = figures.histogram_figure(eda.histogram(f, "amount", log_x=True, by_label=True, density=True))
    _check(fig, 2)
    assert [t.name for t in fig.data] == ["Legitimate", "Fraud"]
    assert fig.layout.xaxis.type == "log" and "log scale" in _title(fig)
    assert fig.layout.yaxis.title.text.startswith("Density") and fig.layout.showlegend


def test_histogram_notes_missing_and_excluded_values():
    hist = eda.Histogram("fee", [1.0, 10.0, 100.0], {"all": [3, 4]}, log_x=True, density=False, n_missing=5, n_excluded=2)
    fig = figures.histogram_figure(hist)
    assert "5 missing" in fig.layout.title.subtitle.text and "2 zero, negative or infinite" in fig.layout.title.subtitle.text
    empty = figures.histogram_figure(eda.Histogram("fee", [], {"all": []}, False, False, 7, 0))
    assert len(empty.data) == 0 and "No values" in empty.layout.annotations[0].text


def test_category_bars_put_the_fraud_rate_with_intervals_on_a_second_axis(frame):
    f, _ = frame
    bars = eda.category_bars(f, "merchant_id", top_n=10)
    fig = figures.category_figure(bars)
    data = _check(fig, 3)
    volume, rate, overall = fig.data
    assert volume.type == "bar" and list(volume.y) == bars.counts and len(volume.x) == 11  # top 10 + "other"
    assert rate.yaxis == "y2" and rate.error_y.array is not None and overall.yaxis == "y2"
    assert fig.layout.yaxis2.tickformat == ".1%" and fig.layout.xaxis.type == "category"
    assert "of" in fig.layout.title.subtitle.text  # says it shows the top levels only
    assert data["layout"]["yaxis2"]["overlaying"] == "y"


def test_category_bars_without_a_label_show_volume_only():
    bars = eda.CategoryBars("colour", ["red", "blue"], [5, 3], [None, None], [None, None], [None, None], [None, None])
    fig = figures.category_figure(bars)
    _check(fig, 1)


def test_segment_rates_mark_segments_whose_interval_clears_the_overall_rate(frame):
    f, _ = frame
    seg = eda.fraud_by_segment(f, "country", top_n=15)
    fig = figures.segment_figure(seg)
    _check(fig, 1)
    bar = fig.data[0]
    assert list(bar.y) == seg.fraud_rate and bar.error_y.arrayminus is not None
    for color, low, high in zip(bar.marker.color, seg.ci_low, seg.ci_high):
        if low > seg.overall_rate:
            assert color == figures.FRAUD
        elif high < seg.overall_rate:
            assert color == figures.LEGIT
    assert fig.layout.shapes[0].y0 == pytest.approx(seg.overall_rate)  # the dashed overall line


@pytest.mark.parametrize("method", ["pearson", "spearman", "cramers_v"])
def test_correlation_heatmap_is_square_and_on_the_right_scale(frame, method):
    f, roles = frame
    wanted = ("category", "label") if method == "cramers_v" else ("number", "label")
    columns = [c for c, r in roles.items() if r in wanted]
    matrix = eda.correlations(f, columns, method=method)
    fig = figures.correlation_figure(matrix)
    _check(fig, 1)
    heat = fig.data[0]
    assert heat.type == "heatmap" and list(heat.x) == columns and len(heat.z) == len(columns)
    assert (heat.zmin, heat.zmax) == ((0, 1) if method == "cramers_v" else (-1, 1))
    assert _title(fig) == figures.METHOD_TITLE[method]


def test_label_association_lists_features_strongest_first(frame):
    f, roles = frame
    items = eda.label_association(f, roles)
    fig = figures.association_figure(items)
    _check(fig, 1)
    bar = fig.data[0]
    assert bar.orientation == "h" and list(bar.y) == [a.feature for a in items if a.value is not None]
    assert fig.layout.yaxis.autorange == "reversed"  # the first (strongest) on top


def test_time_figures_have_daily_volume_amount_rate_and_the_hour_weekday_rhythm(frame):
    f, _ = frame
    profile = eda.time_profile(f)
    daily = figures.daily_figure(profile)
    _check(daily, 3)
    assert [len(t.x) for t in daily.data] == [len(profile.daily["date"])] * 3
    assert daily.layout.yaxis3.tickformat == ".1%"
    rhythm = figures.hour_weekday_figure(profile)
    _check(rhythm, 4)
    assert len(rhythm.data[0].x) == 24 and list(rhythm.data[2].x) == list(eda.WEEKDAYS)


def test_comparison_shows_both_groups_distributions_and_centres(frame):
    f, _ = frame
    result = stats.compare_groups(f, "amount")
    hist = eda.histogram(f, "amount", log_x=True, by_label=True, density=True)
    fig = figures.comparison_figure(result, hist)
    _check(fig, 4)
    assert [t.name for t in fig.data[:2]] == ["legitimate", "fraudulent"]
    medians, means = fig.data[2], fig.data[3]
    assert list(medians.x) == [result.median_a, result.median_b] and list(means.y) == ["legitimate", "fraudulent"]
    # Group b's mean carries the interval of the difference, shifted onto the mean of a.
    assert means.error_x.array[1] == pytest.approx(result.mean_a + result.diff_ci_high - result.mean_b)
    assert "fraudulent vs legitimate" in _title(fig)


def test_comparison_without_a_histogram_and_with_undefined_numbers():
    result = stats.compare_numeric([5.0] * 30, [5.0] * 30, "fee", "a", "b")  # constant: t and CI undefined
    rebuilt = stats.NumericComparison.from_dict(json.loads(json.dumps(result.to_dict())))
    assert math.isnan(rebuilt.diff_ci_low)
    fig = figures.comparison_figure(rebuilt)
    _check(fig, 2)
    assert fig.data[1].error_x.array is None


def test_chi_square_cells_are_coloured_by_direction(frame):
    f, _ = frame
    result = stats.chi_square(f, "country")
    fig = figures.chi_square_figure(result)
    _check(fig, 1)
    bar = fig.data[0]
    assert len(bar.y) == len(result.top_cells)
    for cell, color in zip(result.top_cells, bar.marker.color):
        assert color == (figures.FRAUD if cell["residual"] > 0 else figures.LEGIT)


def test_empty_figure_carries_its_message():
    fig = figures.empty_figure("Pick a column")
    _check(fig, 0)
    assert fig.layout.annotations[0].text == "Pick a column"
