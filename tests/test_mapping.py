"""Tests for core.mapping: suggestions on real-world naming styles, coercion, validation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import MappingError
from core.mapping import (
    CoercionReport,
    FieldSuggestion,
    MappingSuggestion,
    ValidationMessage,
    apply_mapping,
    suggest_mapping,
)
from core.schema import FIELD_NAMES, ColumnMapping

FIXTURES = Path(__file__).parent / "fixtures" / "mapping"


def _read(name: str, raw: bool = False) -> pd.DataFrame:
    """Read a fixture; ``raw`` keeps every cell as text, like an untyped upload."""
    sep = ";" if name in ("european_export", "german_bank") else ","
    if raw:
        return pd.read_csv(FIXTURES / f"{name}.csv", sep=sep, dtype=str, keep_default_na=False)
    return pd.read_csv(FIXTURES / f"{name}.csv", sep=sep)


def _codes(messages: list[ValidationMessage], level: str | None = None) -> set[str]:
    return {m.code for m in messages if level is None or m.level == level}


# Expected column per canonical field (fields not listed must be None), and the transaction id.
EXPECTED = {
    "kaggle_creditcard": ({"amount": "Amount", "label": "Class", "timestamp": "Time"}, None),
    "paysim": ({"amount": "amount", "label": "isFraud", "user_id": "nameOrig",
                "merchant_id": "nameDest", "timestamp": "step"}, None),
    "sparkov_fraudtrain": ({"amount": "amt", "label": "is_fraud", "user_id": "cc_num",
                            "merchant_id": "merchant", "timestamp": "trans_date_trans_time"}, "trans_num"),
    "fraud_handbook": ({"amount": "TX_AMOUNT", "label": "TX_FRAUD", "user_id": "CUSTOMER_ID",
                        "merchant_id": "TERMINAL_ID", "timestamp": "TX_DATETIME"}, "TRANSACTION_ID"),
    "ieee_cis": ({"amount": "TransactionAmt", "label": "isFraud", "user_id": "card1",
                  "device_type": "DeviceType", "timestamp": "TransactionDT"}, "TransactionID"),
    "european_export": ({"amount": "Value (EUR)", "label": "Chargeback", "user_id": "Client ID",
                         "merchant_id": "Shop Name", "country": "Country", "device_type": "Channel",
                         "timestamp": "Date"}, "Reference"),
    "german_bank": ({"amount": "Betrag", "label": "Betrug", "user_id": "Kunden-Nr.", "merchant_id": "Händler",
                     "country": "Land", "device_type": "Kanal", "timestamp": "Buchungsdatum"}, None),
    "txlab_simulator": ({name: name for name in FIELD_NAMES if name != "label"} | {"label": "is_fraud"},
                        "transaction_id"),
    "value_only": ({"amount": "c5", "label": "c6", "timestamp": "c3", "country": "c4"}, None),
}


# ------------------------------------------------------------------------------------------
# Suggestions
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [False, True], ids=["typed", "raw-text"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_suggestion_finds_every_field_of_each_naming_style(name: str, raw: bool) -> None:
    expected, tx = EXPECTED[name]
    suggestion = suggest_mapping(_read(name, raw))
    got = {f: s.column for f, s in suggestion.fields.items()}
    assert got == {f: expected.get(f) for f in FIELD_NAMES}
    assert suggestion.transaction_id == tx
    assert list(suggestion.fields) == list(FIELD_NAMES)
    for s in suggestion.fields.values():
        assert 0.0 <= s.confidence <= 1.0 and s.reason
        assert (s.confidence > 0) == (s.column is not None)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_suggested_mapping_applies_cleanly_to_each_fixture(name: str) -> None:
    df = _read(name, raw=True)
    mapping = suggest_mapping(df).to_mapping()
    frame, report = apply_mapping(df, mapping)
    assert report.ok, report.messages
    assert report.rows_out == len(df) and report.label_unreadable == 0
    assert report.amount_unparseable == 0 and report.timestamp_unparseable == 0
    assert frame["amount"].dtype == np.float64 and frame["label"].dtype == np.int8
    assert pd.api.types.is_datetime64_any_dtype(frame["timestamp"])
    assert frame["amount"].notna().all() and frame["timestamp"].notna().all()
    assert 0 < report.positives < len(df)


def test_european_export_keeps_leading_zeros_and_reads_its_formats() -> None:
    df = _read("european_export", raw=True)
    frame, report = apply_mapping(df, suggest_mapping(df).to_mapping())
    assert frame["user_id"].iloc[0] == "000123" and frame["user_id"].str.startswith("0").all()
    assert frame["amount"].iloc[0] == 37.74 and frame["amount"].max() > 1000  # "1.234,56"-style values
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 13:22")
    assert report.positives == 4 and frame["country"].iloc[0] == "IT"


def test_features_are_sorted_into_numeric_categorical_and_left_out() -> None:
    kaggle = suggest_mapping(_read("kaggle_creditcard"))
    assert kaggle.extra_numeric == ["V1", "V2", "V3", "V4", "V5"] and kaggle.extra_categorical == []

    paysim = suggest_mapping(_read("paysim"))
    assert paysim.extra_categorical == ["type"]
    assert paysim.extra_numeric == ["oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest"]
    assert "isFlaggedFraud" in paysim.left_out  # a second fraud flag would leak the answer

    sparkov = suggest_mapping(_read("sparkov_fraudtrain"))
    for col in ("Unnamed: 0", "dob", "unix_time", "street"):
        assert col in sparkov.left_out, col
    assert {"category", "gender", "state"} <= set(sparkov.extra_categorical)
    assert {"lat", "long", "city_pop", "merch_lat", "merch_long"} <= set(sparkov.extra_numeric)

    txlab = suggest_mapping(_read("txlab_simulator"))
    assert txlab.extra_categorical == ["merchant_category"] and txlab.extra_numeric == []


def test_near_copies_of_the_label_or_an_id_and_other_time_columns_are_not_features() -> None:
    handbook = suggest_mapping(_read("fraud_handbook"))
    assert handbook.extra_numeric == [] and handbook.extra_categorical == []
    assert set(handbook.left_out) == {"TX_TIME_SECONDS", "TX_TIME_DAYS", "TX_FRAUD_SCENARIO"}
    assert "label" in handbook.left_out["TX_FRAUD_SCENARIO"]

    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 400)
    label = (rng.random(400) < 0.1).astype(int)
    df = pd.DataFrame({
        "customer_id": [f"C{u:03d}" for u in users],
        "account_no_hash": [f"h{u * 7919 % 1000:04d}" for u in users],  # same users, other code
        "review_outcome": np.where(label == 1, "rejected", "approved"),  # the answer, in words
        "amount": np.round(rng.lognormal(3, 1, 400), 2),
        "is_fraud": label,
        "segment": rng.choice(["retail", "business"], 400),
    })
    s = suggest_mapping(df)
    assert s.fields["user_id"].column == "customer_id"
    assert s.extra_categorical == ["segment"]
    assert "label" in s.left_out["review_outcome"] and "customer_id" in s.left_out["account_no_hash"]


def test_each_column_serves_at_most_one_field() -> None:
    df = pd.DataFrame({"fraud": [0, 1, 0, 0] * 10, "fraud_amount": [10.5, 99.0, 3.2, 8.8] * 10})
    s = suggest_mapping(df)
    used = [f.column for f in s.fields.values() if f.column]
    assert len(used) == len(set(used))
    assert s.fields["label"].column == "fraud" and s.fields["amount"].column == "fraud_amount"


def test_reason_names_the_column_and_what_the_values_look_like() -> None:
    s = suggest_mapping(_read("fraud_handbook"))
    amount = s.fields["amount"]
    assert "TX_AMOUNT" in amount.reason and "synonym of amount" in amount.reason
    assert "right-skewed" in amount.reason
    assert "%" in s.fields["label"].reason  # the positive share
    assert s.fields["country"].reason.startswith("no column")


def test_suggestion_is_json_safe_and_round_trips_to_a_mapping() -> None:
    s = suggest_mapping(_read("european_export", raw=True))
    data = json.loads(json.dumps(s.to_dict()))
    assert set(data) >= {"fields", "transaction_id", "extra_numeric", "extra_categorical"}
    assert set(data["fields"]) == set(FIELD_NAMES)
    assert set(data["fields"]["amount"]) == {"column", "confidence", "reason"}
    mapping = s.to_mapping()
    assert isinstance(mapping, ColumnMapping)
    assert mapping.fields["amount"] == "Value (EUR)" and mapping.transaction_id == "Reference"
    mapping.check_against(list(_read("european_export", raw=True).columns))


def test_suggestion_samples_long_tables_and_handles_empty_ones() -> None:
    big = pd.concat([_read("txlab_simulator")] * 500, ignore_index=True)  # 24k rows
    s = suggest_mapping(big, sample_rows=2_000)
    assert s.fields["amount"].column == "amount" and s.fields["label"].column == "is_fraud"
    empty = suggest_mapping(pd.DataFrame())
    assert all(f.column is None and f.confidence == 0.0 for f in empty.fields.values())
    assert isinstance(empty, MappingSuggestion) and isinstance(empty.fields["amount"], FieldSuggestion)


def test_suggestion_on_the_txlab_simulator_is_the_identity() -> None:
    synth = pytest.importorskip("core.synth")
    df = synth.generate(synth.SynthConfig(rows=3_000, seed=1))
    s = suggest_mapping(df)
    assert {f: x.column for f, x in s.fields.items()} == EXPECTED["txlab_simulator"][0]
    assert s.transaction_id == "transaction_id"


# ------------------------------------------------------------------------------------------
# Coercion
# ------------------------------------------------------------------------------------------

LABEL_SPELLINGS = [
    (["1", "0"], [1, 0]), ([1, 0], [1, 0]), ([1.0, 0.0], [1, 0]), (["1.0", "0.0"], [1, 0]),
    ([True, False], [1, 0]), (["true", "false"], [1, 0]), (["TRUE", "False"], [1, 0]),
    (["yes", "no"], [1, 0]), ([" Yes ", "NO "], [1, 0]), (["y", "n"], [1, 0]), (["Y", "N"], [1, 0]),
    (["fraud", "legit"], [1, 0]), (["FRAUD", "Legitimate"], [1, 0]), ([" Fraud", "legitimate "], [1, 0]),
]


@pytest.mark.parametrize("values, expected", LABEL_SPELLINGS, ids=[repr(v) for v, _ in LABEL_SPELLINGS])
def test_every_label_spelling_becomes_int8_zero_or_one(values: list, expected: list[int]) -> None:
    df = pd.DataFrame({"amt": [1.0, 2.0], "y": pd.Series(values, dtype=object if isinstance(values[0], str) else None)})
    frame, report = apply_mapping(df, ColumnMapping(fields={"amount": "amt", "label": "y"}))
    assert frame["label"].dtype == np.int8
    assert frame["label"].tolist() == expected
    assert report.label_unreadable == 0


def test_unreadable_labels_are_counted_shown_and_excluded() -> None:
    labels = ["0"] * 90 + ["1"] * 6 + ["?", "maybe", "", "?"]
    df = pd.DataFrame({"amount": np.arange(100, dtype=float), "label": labels})
    frame, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert report.rows_in == 100 and report.rows_out == 96 and len(frame) == 96
    assert report.label_unreadable == 4
    assert set(report.label_unreadable_examples) == {"?", "maybe", "(blank)"}
    assert "label_unreadable" in _codes(report.messages, "warning")
    assert report.positives == 6 and frame["amount"].tolist() == list(range(96))
    assert frame.index.equals(pd.RangeIndex(96))


def test_ids_keep_leading_zeros_and_lose_float_tails() -> None:
    df = pd.DataFrame({
        "amount": [1.0, 2.0, 3.0],
        "label": [0, 1, 0],
        "user": ["00123", " 0042", "7"],
        "merchant": [123.0, np.nan, 40.0],
        "country": ["DE", " FR ", ""],
        "device": ["web", "pos", None],
        "tx": [1001, 1002, 1003],
    })
    mapping = ColumnMapping(fields={"amount": "amount", "label": "label", "user_id": "user",
                                    "merchant_id": "merchant", "country": "country",
                                    "device_type": "device"}, transaction_id="tx")
    frame, _ = apply_mapping(df, mapping)
    assert frame["user_id"].tolist() == ["00123", "0042", "7"]
    assert frame["merchant_id"].iloc[[0, 2]].tolist() == ["123", "40"] and pd.isna(frame["merchant_id"].iloc[1])
    assert frame["country"].iloc[:2].tolist() == ["DE", "FR"] and pd.isna(frame["country"].iloc[2])
    assert frame["transaction_id"].tolist() == ["1001", "1002", "1003"]
    for col in ("user_id", "merchant_id", "country", "device_type", "transaction_id"):
        assert pd.api.types.is_string_dtype(frame[col]), col
    assert list(frame.columns) == ["transaction_id", "amount", "label", "user_id", "merchant_id",
                                   "country", "device_type"]


def test_amounts_in_many_formats_become_float64_and_bad_ones_are_reported() -> None:
    labels = ["0", "1", "0", "0", "0", "0", "0"]
    us = pd.DataFrame({"amount": ["$1,000.50", "(12.00)", "7", "abc", "", "3.5", "12 apples"], "label": labels})
    frame, report = apply_mapping(us, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert frame["amount"].dtype == np.float64
    assert frame["amount"].iloc[[0, 1, 2, 5]].tolist() == [1000.5, -12.0, 7.0, 3.5]
    assert frame["amount"].iloc[[3, 4, 6]].isna().all()
    assert report.amount_unparseable == 2 and set(report.amount_examples) == {"abc", "12 apples"}
    message = next(m for m in report.messages if m.code == "amount_unparseable")
    assert message.level == "warning" and "'abc'" in message.text and "2 amounts" in message.text

    eu = pd.DataFrame({"amount": ["1.000,50 €", "12,99", "0,5"], "label": ["0", "1", "0"]})
    frame, report = apply_mapping(eu, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert frame["amount"].tolist() == [1000.5, 12.99, 0.5] and report.amount_unparseable == 0


def test_timestamps_from_text_unix_seconds_and_time_steps() -> None:
    base = {"amount": [1.0, 2.0, 3.0], "label": [0, 1, 0]}
    cases = {
        "when": (["2024-01-02 10:00:00", "2024-01-02 11:30:00", "2024-01-03 00:00:00"], "2024-01-02 11:30:00"),
        "unix_time": ([1704189600, 1704195000, 1704240000], "2024-01-02 11:30:00"),
        "step": ([1, 2, 26], "1970-01-01 02:00:00"),  # PaySim: hours since the start
        "Time": ([0.0, 7.5, 100.0], "1970-01-01 00:00:07.5"),  # Kaggle: seconds since the start
        "date": ([20240101, 20240102, 20240103], "2024-01-02"),  # yyyymmdd numbers
        "day": (["20240101", "20240102", "20240103"], "2024-01-02"),
    }
    for column, (values, second) in cases.items():
        df = pd.DataFrame(base | {column: values})
        frame, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label",
                                                                "timestamp": column}))
        assert pd.api.types.is_datetime64_any_dtype(frame["timestamp"]), column
        assert frame["timestamp"].iloc[1] == pd.Timestamp(second), column
        assert report.timestamp_unparseable == 0 and report.timestamp_format, column


def test_unreadable_timestamps_are_reported_and_left_empty() -> None:
    df = pd.DataFrame({"amount": [1.0] * 4, "label": [0, 1, 0, 0],
                       "when": ["2024-01-01 10:00", "2024-01-02 11:00", "soon", ""]})
    frame, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label",
                                                            "timestamp": "when"}))
    assert report.timestamp_unparseable == 1 and frame["timestamp"].iloc[2:].isna().all()
    message = next(m for m in report.messages if m.code == "timestamp_unparseable")
    assert message.level == "warning" and "'soon'" in message.text


def test_an_empty_table_has_no_rows_to_train_on() -> None:
    df = pd.DataFrame({"amount": pd.Series([], dtype=float), "label": pd.Series([], dtype=int)})
    frame, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert frame.empty and "no_rows" in _codes(report.messages, "error")


def test_extras_keep_their_names_and_types() -> None:
    df = pd.DataFrame({"amount": [1.0, 2.0], "label": [0, 1], "score": ["1,5", "x"],
                       "mcc": [5411.0, 5812.0], "segment": ["a", "b"]})
    mapping = ColumnMapping(fields={"amount": "amount", "label": "label"},
                            extra_numeric=["score"], extra_categorical=["mcc", "segment"])
    frame, report = apply_mapping(df, mapping)
    assert list(frame.columns) == ["amount", "label", "score", "mcc", "segment"]
    assert frame["score"].dtype == np.float64 and frame["score"].iloc[0] == 1.5 and np.isnan(frame["score"].iloc[1])
    assert frame["mcc"].tolist() == ["5411", "5812"]
    assert "extra_unparseable" in _codes(report.messages, "warning")


def test_an_extra_named_like_a_canonical_field_is_refused() -> None:
    df = pd.DataFrame({"amt": [1.0], "label": [0], "country": ["DE"]})
    with pytest.raises(MappingError, match="country"):
        apply_mapping(df, ColumnMapping(fields={"amount": "amt", "label": "label"},
                                        extra_categorical=["country"]))


# ------------------------------------------------------------------------------------------
# Validation messages (each triggered by a minimal frame)
# ------------------------------------------------------------------------------------------

def _big(n: int = 1_000, positives: int = 50) -> pd.DataFrame:
    return pd.DataFrame({"amount": np.ones(n), "label": [1] * positives + [0] * (n - positives)})


def test_a_healthy_table_has_no_messages() -> None:
    frame, report = apply_mapping(_big(), ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert report.messages == [] and report.ok
    assert report.positives == 50 and report.positive_share == pytest.approx(0.05)
    json.dumps(report.to_dict())


def test_missing_required_field_is_an_error() -> None:
    _, report = apply_mapping(_big(), ColumnMapping(fields={"label": "label"}))
    assert not report.ok and "missing_field" in _codes(report.messages, "error")
    assert any("'amount'" in m.text for m in report.messages)


def test_label_with_three_values_is_not_binary() -> None:
    df = pd.DataFrame({"amount": np.ones(900), "label": ["low", "medium", "high"] * 300})
    _, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert not report.ok
    message = next(m for m in report.messages if m.code == "label_not_binary")
    assert message.level == "error"
    assert all(f"'{v}'" in message.text for v in ("low", "medium", "high"))

    df = pd.DataFrame({"amount": np.ones(900), "label": [0, 1, 2] * 300})
    _, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert "label_not_binary" in _codes(report.messages, "error")


def test_amount_that_never_parses_is_an_error() -> None:
    df = _big().assign(amount="unknown")
    _, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert "amount_unparseable" in _codes(report.messages, "error") and not report.ok
    assert report.amount_unparseable == len(df) and report.amount_examples == ["unknown"]


@pytest.mark.parametrize("n, positives", [(400, 40), (1_000, 20)], ids=["few-rows", "few-positives"])
def test_small_tables_are_too_small_to_train_reliably(n: int, positives: int) -> None:
    _, report = apply_mapping(_big(n, positives), ColumnMapping(fields={"amount": "amount", "label": "label"}))
    message = next(m for m in report.messages if m.code == "too_small")
    assert message.level == "warning" and "too small to train reliably" in message.text
    assert report.ok


@pytest.mark.parametrize("n, positives", [(100_000, 40), (1_000, 600)], ids=["rare", "majority"])
def test_extreme_positive_shares_are_extremely_imbalanced(n: int, positives: int) -> None:
    _, report = apply_mapping(_big(n, positives), ColumnMapping(fields={"amount": "amount", "label": "label"}))
    message = next(m for m in report.messages if m.code == "imbalanced")
    assert message.level == "warning" and "extremely imbalanced" in message.text


def test_missing_or_doubly_used_columns_raise_mapping_error() -> None:
    df = _big()
    with pytest.raises(MappingError, match="nope"):
        apply_mapping(df, ColumnMapping(fields={"amount": "nope", "label": "label"}))
    with pytest.raises(MappingError, match="used twice"):
        apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label"},
                                        extra_numeric=["amount"]))


def test_report_to_dict_is_json_safe() -> None:
    labels = ["0"] * 37 + ["1", "1", "?"]
    df = pd.DataFrame({"amount": ["1,5"] * 38 + ["x", "2,5"], "label": labels})
    _, report = apply_mapping(df, ColumnMapping(fields={"amount": "amount", "label": "label"}))
    assert isinstance(report, CoercionReport)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["rows_in"] == 40 and data["rows_out"] == 39 and data["ok"] is True
    assert data["amount_unparseable"] == 1 and data["amount_examples"] == ["x"]
    assert {m["code"] for m in data["messages"]} >= {"label_unreadable", "too_small"}
    assert all(set(m) == {"level", "code", "text"} for m in data["messages"])


def test_german_transaction_column_is_recognised_as_the_transaction_id():
    frame = pd.DataFrame(
        {
            "Transaktion": [f"TX{i:05d}" for i in range(200)],
            "Betrag": [float(i % 50 + 1) for i in range(200)],
            "Betrug": [int(i % 40 == 0) for i in range(200)],
        }
    )
    suggestion = suggest_mapping(frame)
    assert suggestion.transaction_id == "Transaktion"
    assert "Transaktion" not in suggestion.extra_categorical
