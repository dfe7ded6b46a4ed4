"""core.parsing: messy numbers, dates and yes/no cells read to exact values, with unparseable masks."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.parsing import (
    infer_number_format,
    parse_boolean,
    parse_datetime,
    parse_numeric,
)


def _num(cells, **kwargs):
    values, bad = parse_numeric(pd.Series(cells, dtype="str"), **kwargs)
    return values.tolist(), bad.tolist()


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("$1,000.50", 1000.5),
        ("(12.00)", -12.0),
        ("-3", -3.0),
        ("1e5", 100000.0),
        ("2.5E-3", 0.0025),
        ("12%", 0.12),
        ("  7 ", 7.0),
        ("USD 5", 5.0),
        ("5 eur", 5.0),
        ("£3.50", 3.5),
        ("¥1,000", 1000.0),
        ("12-", -12.0),
        ("-$7.50", -7.5),
        ("+4", 4.0),
        ("\u22122", -2.0),
    ],
)
def test_parse_numeric_us_style_cells(cell, expected):
    values, bad = _num([cell, "1,234.00"])
    assert values[0] == pytest.approx(expected)
    assert bad == [False, False]


def test_parse_numeric_european_cells_infer_decimal_comma():
    values, bad = _num(["1.000,50 €", "12,5", "3", "1.234.567,89", "-0,75 €"])
    assert values == [1000.5, 12.5, 3.0, 1234567.89, -0.75]
    assert bad == [False] * 5


def test_parse_numeric_spaces_and_apostrophes_as_group_separators():
    assert _num(["1 000,50", "2\u00a0500,00"])[0] == [1000.5, 2500.0]
    assert _num(["1'000.50", "12'345.00"])[0] == [1000.5, 12345.0]


def test_parse_numeric_blank_and_missing_markers_are_missing_not_unparseable():
    values, bad = _num(["", "  ", "NaN", "NULL", "N/A", "-", "None", "4"])
    assert all(math.isnan(v) for v in values[:7]) and values[7] == 4.0
    assert bad == [False] * 8


def test_parse_numeric_flags_text_that_is_not_a_number():
    values, bad = _num(["abc", "12abc", "1.2.3", "5"])
    assert math.isnan(values[0]) and math.isnan(values[1]) and math.isnan(values[2])
    assert bad == [True, True, True, False]


def test_parse_numeric_keeps_infinity():
    values, bad = _num(["inf", "-inf", "Infinity", "1"])
    assert values[:3] == [math.inf, -math.inf, math.inf]
    assert bad == [False] * 4


def test_parse_numeric_explicit_separators_reject_wrong_grouping():
    values, bad = _num(["1,00", "1,000.5", "12"], decimal=".", thousands=",")
    assert math.isnan(values[0]) and values[1:] == [1000.5, 12.0]
    assert bad == [True, False, False]


def test_parse_numeric_explicit_decimal_comma_without_thousands():
    values, bad = _num(["12,5", "3"], decimal=",", thousands="")
    assert values == [12.5, 3.0] and bad == [False, False]


def test_parse_numeric_rejects_impossible_separators():
    with pytest.raises(ValueError, match="decimal"):
        parse_numeric(pd.Series(["1"]), decimal=";")
    with pytest.raises(ValueError, match="thousands"):
        parse_numeric(pd.Series(["1"]), decimal=",", thousands=",")


def test_parse_numeric_passes_numbers_through_and_keeps_index_and_name():
    s = pd.Series([1, 2, 3], index=[10, 11, 12], name="amount")
    values, bad = parse_numeric(s)
    assert values.dtype == "float64" and values.tolist() == [1.0, 2.0, 3.0]
    assert values.index.tolist() == [10, 11, 12] and values.name == "amount" and not bad.any()
    values, _ = parse_numeric(pd.Series(["1", "x"], index=[5, 6], name="a", dtype=object))
    assert values.index.tolist() == [5, 6] and values.name == "a"


def test_parse_numeric_handles_object_and_missing_cells():
    values, bad = parse_numeric(pd.Series(["$2.00", None, np.nan, 3], dtype=object))
    assert values[0] == 2.0 and math.isnan(values[1]) and math.isnan(values[2]) and values[3] == 3.0
    assert not bad.any()


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["$1,000.50", "20.00"], (".", ",")),
        (["1.000,50 €", "12,5"], (",", ".")),
        (["12,5", "3,25"], (",", None)),
        (["1,000", "25,000"], (".", ",")),
        (["1.5", "2"], (".", None)),
        (["1'000.50"], (".", "'")),
    ],
)
def test_infer_number_format(cells, expected):
    assert infer_number_format(pd.Series(cells)) == expected


# --- dates -------------------------------------------------------------------------------------


def _dates(cells, **kwargs):
    values, bad, description = parse_datetime(pd.Series(cells, dtype="str"), **kwargs)
    return [None if pd.isna(v) else str(v) for v in values], bad.tolist(), description


def test_parse_datetime_iso_variants():
    values, bad, description = _dates(["2024-01-05", "2024-01-06T10:00:00", "2024-01-07 10:00:00.250", ""])
    assert values == ["2024-01-05 00:00:00", "2024-01-06 10:00:00", "2024-01-07 10:00:00.250000", None]
    assert bad == [False] * 4
    assert description == "ISO 8601"


def test_parse_datetime_iso_with_offsets_converted_to_utc():
    values, bad, description = _dates(["2024-01-05T10:00:00Z", "2024-01-05T10:00:00+02:00"])
    assert values == ["2024-01-05 10:00:00", "2024-01-05 08:00:00"]
    assert "UTC" in description and bad == [False, False]


def test_parse_datetime_day_first_is_resolved_from_a_day_above_12():
    values, bad, description = _dates(["01/04/2024 09:00", "25/03/2024 10:00", "bad"])
    assert values == ["2024-04-01 09:00:00", "2024-03-25 10:00:00", None]
    assert bad == [False, False, True]
    assert description == "day-first (EU) %d/%m/%Y %H:%M"


def test_parse_datetime_month_first_is_resolved_from_a_day_above_12():
    values, _, description = _dates(["04/01/2024", "03/25/2024"])
    assert values == ["2024-04-01 00:00:00", "2024-03-25 00:00:00"]
    assert description == "month-first (US) %m/%d/%Y"


def test_parse_datetime_order_decided_by_values_beyond_the_sample():
    cells = ["01/02/2024"] * 30_000 + ["13/02/2024"]
    values, bad, description = _dates(cells)
    assert description.startswith("day-first")
    assert values[0] == "2024-02-01 00:00:00" and values[-1] == "2024-02-13 00:00:00" and not any(bad)


def test_parse_datetime_ambiguous_order_is_assumed_and_said_so():
    values, _, description = _dates(["01/02/2024", "03/04/2024"])
    assert values == ["2024-01-02 00:00:00", "2024-03-04 00:00:00"]
    assert "ambiguous" in description and "month-first" in description
    values, _, description = _dates(["01/02/2024"], dayfirst=True)
    assert values == ["2024-02-01 00:00:00"] and "assumed day-first" in description


def test_parse_datetime_rejects_impossible_dates():
    values, bad, _ = _dates(["31/02/2024", "29/02/2024", "13/01/2024", "30/13/2024"])
    assert values == [None, "2024-02-29 00:00:00", "2024-01-13 00:00:00", None]
    assert bad == [True, False, False, True]


def test_parse_datetime_two_digit_years_dots_and_am_pm():
    values, _, description = _dates(["01.02.24 10:00", "25.12.23 09:30:15"])
    assert values == ["2024-02-01 10:00:00", "2023-12-25 09:30:15"]
    assert description.startswith("day-first (EU) %d.%m.%y")
    values, _, _ = _dates(["1/5/2024 1:30 PM", "1/13/2024 11:00 AM"])
    assert values == ["2024-01-05 13:30:00", "2024-01-13 11:00:00"]


def test_parse_datetime_year_first_slashes():
    values, _, description = _dates(["2024/01/05", "2024/1/6 10:00"])
    assert values == ["2024-01-05 00:00:00", "2024-01-06 10:00:00"]
    assert description.startswith("year-first")


def test_parse_datetime_unix_seconds_and_milliseconds_from_numbers():
    values, bad, description = parse_datetime(pd.Series([1_700_000_000, 1_700_000_060]))
    assert description == "Unix seconds" and not bad.any()
    assert values.tolist() == [pd.Timestamp("2023-11-14 22:13:20"), pd.Timestamp("2023-11-14 22:14:20")]
    values, bad, description = parse_datetime(pd.Series([1.7e12, np.nan]))
    assert description == "Unix milliseconds" and values[0] == pd.Timestamp("2023-11-14 22:13:20")
    assert pd.isna(values[1]) and not bad.any()


def test_parse_datetime_unix_seconds_from_digit_strings():
    values, _, description = _dates(["1700000000", "1700000001"])
    assert description == "Unix seconds" and values[0] == "2023-11-14 22:13:20"


def test_parse_datetime_numbers_outside_epoch_range_are_unparseable():
    _, bad, _ = parse_datetime(pd.Series([1.7e9, 5.0]))
    assert bad.tolist() == [False, True]


def test_parse_datetime_textual_months_fall_back_to_pandas():
    values, _, description = _dates(["5 Jan 2024", "Jan 6, 2024"])
    assert values == ["2024-01-05 00:00:00", "2024-01-06 00:00:00"]
    assert description.startswith("mixed")


def test_parse_datetime_returns_microsecond_datetimes_and_keeps_index():
    values, bad, _ = parse_datetime(pd.Series(["2024-01-05"], index=[7], name="ts"))
    assert str(values.dtype) == "datetime64[us]" and values.index.tolist() == [7] and values.name == "ts"
    assert bad.index.tolist() == [7]


# --- booleans ----------------------------------------------------------------------------------


def test_parse_boolean_words_and_digits():
    values, bad = parse_boolean(pd.Series(["yes", "No", "TRUE", "f", "1", "0", "maybe", "", None], dtype=object))
    assert values.dtype == "boolean"
    assert values.tolist()[:6] == [True, False, True, False, True, False]
    assert values.isna().tolist()[6:] == [True, True, True]
    assert bad.tolist() == [False] * 6 + [True, False, False]
