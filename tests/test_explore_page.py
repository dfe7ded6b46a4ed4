"""Explore page callbacks called directly: what each returns is what the user would see."""
from __future__ import annotations

import pytest
from dash.exceptions import PreventUpdate

from core.mapping import apply_mapping, suggest_mapping
from core.result_cache import FRAMES
from core.synth import SynthConfig, generate
from core.workspace import Workspace
from dashboard.components import figures_in
from tests.conftest import component_text


@pytest.fixture(scope="module")
def explore(txlab_app):
    from dashboard.pages import explore

    return explore


@pytest.fixture(scope="module")
def datasets(app_settings, txlab_app):
    """One mapped and one unmapped dataset in the app's data folder."""
    workspace = Workspace(app_settings.data_dir)
    frame = generate(SynthConfig(rows=5000, seed=21, days=15))
    mapped_meta = workspace.add_dataset(frame, name="explore-mapped", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    mapped, report = apply_mapping(frame, mapping)
    workspace.save_mapping(mapped_meta.id, mapping, mapped, report.to_dict())
    raw_meta = workspace.add_dataset(frame, name="explore-raw", source="generated")
    return mapped_meta.id, raw_meta.id


@pytest.fixture(scope="module")
def timeless(app_settings, txlab_app):
    """A mapped dataset whose mapping leaves the timestamp out."""
    workspace = Workspace(app_settings.data_dir)
    frame = generate(SynthConfig(rows=3000, seed=22, days=10))
    meta = workspace.add_dataset(frame, name="explore-timeless", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    mapping.fields["timestamp"] = None
    mapped, report = apply_mapping(frame, mapping)
    workspace.save_mapping(meta.id, mapping, mapped, report.to_dict())
    return meta.id


def test_without_a_dataset_the_page_points_to_the_data_page(explore):
    status, hidden, *_ = explore.show_controls(None)
    assert hidden and "Data page" in component_text(status)
    with pytest.raises(PreventUpdate):
        explore.show_overview(None)


def test_an_unmapped_dataset_points_to_the_mapping_page(explore, datasets):
    _, raw = datasets
    status, hidden, *_ = explore.show_controls(raw)
    assert hidden and "no saved mapping" in component_text(status) and "Mapping page" in component_text(status)
    with pytest.raises(PreventUpdate):
        explore.show_distribution(raw, "amount", False, False, "counts")


def test_controls_offer_the_mapped_columns_by_role(explore, datasets):
    mapped, _ = datasets
    status, hidden, dist, dist_value, log, numeric, numeric_value, by, by_value, chi, chi_value, segments, segment = explore.show_controls(mapped)
    assert not hidden and "explore-mapped" in component_text(status)
    assert dist_value == "amount" and log is True  # amounts are skewed: log axis first
    assert [o["value"] for o in numeric] == ["amount"] and numeric_value == "amount"
    assert by[0]["value"] == "label" and by_value == "label" and "country" in [o["value"] for o in by]
    assert chi_value == "country" and segment == "country"
    assert "transaction_id" not in [o["value"] for o in dist]


def test_sections_render_figures_and_a_plain_reading(explore, datasets):
    mapped, _ = datasets
    view, log_disabled, split_disabled, norm = explore.show_distribution(mapped, "amount", True, True, "density")
    assert not log_disabled and not split_disabled and not any(o.get("disabled") for o in norm)
    (fig,) = figures_in(view)
    assert fig.layout.xaxis.type == "log" and [t.name for t in fig.data] == ["Legitimate", "Fraud"]
    view, log_disabled, _, norm = explore.show_distribution(mapped, "device_type", True, True, "density")
    assert log_disabled and all(o["disabled"] for o in norm)
    assert "fraud rate" in figures_in(view)[0].layout.title.text

    test = explore.show_test(mapped, "amount", "label", None, None)
    assert "fraudulent transactions" in component_text(test) and "Welch t-test" in component_text(test)
    hidden, options, a, _, b = explore.show_groups(mapped, "device_type")
    assert not hidden and a != b and {a, b} <= {o["value"] for o in options}
    assert f"device_type = {b}" in component_text(explore.show_test(mapped, "amount", "device_type", a, b))
    assert explore.show_groups(mapped, "label")[0] is True  # legit vs fraud: no groups to pick

    assert "chi-square" in component_text(explore.show_chi_square(mapped, "country"))
    assert "Over time" in figures_in(explore.show_time(mapped))[0].layout.title.text
    assert len(figures_in(explore.show_correlations(mapped, "cramers_v"))) == 2
    assert "Fraud rate by merchant_id" in figures_in(explore.show_segments(mapped, "merchant_id"))[0].layout.title.text
    assert "Rows" in component_text(explore.show_overview(mapped))
    assert "amount" in component_text(explore.show_columns(mapped, "missing"))
    assert component_text(explore.show_quality(mapped))


def test_without_a_timestamp_the_time_section_says_so(explore, timeless):
    view = explore.show_time(timeless)
    assert figures_in(view) == [] and "No timestamp is mapped" in component_text(view)
    assert "no timestamp mapped" in component_text(explore.show_overview(timeless))


def test_a_second_visit_is_answered_from_the_cache_without_loading_the_frame(explore, datasets):
    mapped, _ = datasets
    explore.show_segments(mapped, "device_type")
    FRAMES.clear()  # as in another worker process, or after a restart
    explore.show_segments(mapped, "device_type")
    assert FRAMES.keys() == []


def test_a_failing_section_shows_a_readable_alert(explore, datasets):
    mapped, _ = datasets
    view = explore.show_test(mapped, "amount", "device_type", "pos", "no-such-device")
    text = component_text(view)
    assert "Could not test amount" in text and "no-such-device" in text and "Traceback" not in text
