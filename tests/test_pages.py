"""Page callbacks called directly: what each returns is what the user would see."""
import base64

import pytest
from dash.exceptions import PreventUpdate

from core.synth import SynthConfig, generate, write_dataset
from core.schema import FIELDS
from dashboard import context
from tests.conftest import component_text


@pytest.fixture(scope="module")
def pages(txlab_app):
    from dashboard.pages import data, mapping

    return data, mapping


def _upload(text: bytes, name: str = "file.csv") -> tuple[str, str]:
    return "data:text/csv;base64," + base64.b64encode(text).decode(), name


MESSY = (
    "Transaction ID;Customer Ref;Shop;Betrag;Land;Gerät;Betrug;Datum\n"
    + "".join(
        f"T{i:04d};{i % 37:05d};S{i % 11};\"{i % 90 + 1}.{i % 100:02d},{i % 7}0 €\";DE;{'mobile' if i % 3 else 'web'};{'ja' if i % 40 == 0 else 'nein'};{1 + i % 28:02d}/03/2026\n"
        for i in range(600)
    )
).encode("utf-8")


def test_upload_stores_the_dataset_and_shows_what_was_read(pages, txlab_app):
    data, _ = pages
    view, created = data.upload_file(*_upload(MESSY, "export.csv"))
    text = component_text(view)
    assert created.startswith("ds-")
    assert "600 rows" in text and "semicolon" in text
    assert "Customer Ref" in text and "00001" in text  # preview keeps leading zeros


def test_upload_errors_become_alerts_that_name_the_problem(pages):
    data, _ = pages
    view, created = data.upload_file(*_upload(b"", "empty.csv"))
    assert created is data.no_update
    assert "empty" in component_text(view).lower()
    assert "Traceback" not in component_text(view)


def test_upload_above_the_cap_is_refused_on_the_server(pages, app_settings):
    data, _ = pages
    big = b"a,b\n" + b"1,2\n" * (app_settings.max_upload_bytes // 4 + 10)
    view, created = data.upload_file(*_upload(big))
    assert created is data.no_update
    assert "upload limit" in component_text(view)


def test_generate_form_validates_fields_before_simulating(pages):
    data, _ = pages
    view, created = data.generate(1, None, 0, 0.01, 30, None, None)
    assert created is data.no_update and "Rows is required" in component_text(view)
    view, created = data.generate(1, 2000, 1, 0.9, 30, None, None)
    assert created is data.no_update and "fraud" in component_text(view).lower()


def test_generate_stores_a_simulated_dataset(pages):
    data, _ = pages
    view, created = data.generate(1, 3000, 7, 0.02, 20, None, None)
    assert created.startswith("ds-") and "3,000 rows" in component_text(view)
    with pytest.raises(PreventUpdate):
        data.generate(None, 3000, 7, 0.02, 20, None, None)


def test_server_file_loads_by_listed_name_only(pages, app_settings, tmp_path):
    data, _ = pages
    write_dataset(generate(SynthConfig(rows=1500, seed=2, days=10)), app_settings.data_dir / "server.csv")
    names = [o["value"] for o in data.list_server_files(None)]
    assert "server.csv" in names
    view, created = data.load_server_file(1, "server.csv")
    assert created.startswith("ds-") and "1,500 rows" in component_text(view)
    view, created = data.load_server_file(1, "../../etc/passwd")
    assert created is data.no_update and "No file named" in component_text(view)


def _trigger(prop_id: str) -> None:
    """Set what Dash's ctx reports as the input that fired, for a callback called directly."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))


def test_mapping_page_suggests_checks_and_saves(pages, txlab_app):
    data, mapping = pages
    _, dataset_id = data.generate(1, 3000, 11, 0.02, 20, None, None)
    no_dataset_hidden, form_hidden, intro, _, values, confidences, reasons, *_ = mapping.show_mapping_form(dataset_id)
    assert (no_dataset_hidden, form_hidden) == (True, False)
    assert "3,000 rows" in component_text(intro) and "mapping saved" not in component_text(intro)
    fields = [f.name for f in FIELDS]
    assert values[fields.index("amount")] == "amount" and values[fields.index("label")] == "is_fraud"
    assert all(reasons) and "%" in component_text(confidences[fields.index("amount")])

    ids = [{"type": "mapping-field", "field": f} for f in fields]
    _trigger("mapping-check.n_clicks")
    result, intro = mapping.check_or_save(1, None, values, ids, [], [], "transaction_id", dataset_id)
    assert "Checked (not saved yet)" in component_text(result) and intro is mapping.no_update
    assert context.workspace().get(dataset_id).mapping is None

    _trigger("mapping-save.n_clicks")
    result, intro = mapping.check_or_save(None, 1, values, ids, [], [], "transaction_id", dataset_id)
    assert "Mapping saved" in component_text(result) and "mapping saved" in component_text(intro)
    meta = context.workspace().get(dataset_id)
    assert meta.mapping["fields"]["label"] == "is_fraud" and meta.mapped_rows == 3000
    assert mapping.show_mapping_form(dataset_id)[4] == values  # the saved mapping comes back


def test_mapping_without_required_fields_is_not_saved(pages):
    data, mapping = pages
    _, dataset_id = data.generate(1, 2000, 12, 0.02, 20, None, None)
    _trigger("mapping-save.n_clicks")
    ids = [{"type": "mapping-field", "field": f} for f in ("amount", "label")]
    result, _ = mapping.check_or_save(None, 1, ["amount", mapping._NONE], ids, [], [], None, dataset_id)
    text = component_text(result)
    assert "Not saved" in text and "label" in text
    assert context.workspace().get(dataset_id).mapping is None


def test_mapping_a_column_twice_is_refused_by_name(pages):
    data, mapping = pages
    _, dataset_id = data.generate(1, 2000, 13, 0.02, 20, None, None)
    _trigger("mapping-save.n_clicks")
    ids = [{"type": "mapping-field", "field": f} for f in ("amount", "label")]
    result, _ = mapping.check_or_save(None, 1, ["amount", "is_fraud"], ids, ["amount"], [], None, dataset_id)
    assert "'amount' is used twice" in component_text(result)


def test_mapping_page_without_a_dataset_points_to_the_data_page(pages):
    _, mapping = pages
    for dataset_id in (None, "ds-000000000000", "../etc"):
        no_dataset_hidden, form_hidden, *_ = mapping.show_mapping_form(dataset_id)
        assert (no_dataset_hidden, form_hidden) == (False, True)
