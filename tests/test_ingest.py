"""core.ingest.read_table: every bad input gets a named error; every messy format parses exactly.

Messy files are built here from text so each test shows the bytes it feeds in.
"""
from __future__ import annotations

import gzip
import io
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import IngestError
from core.ingest import ColumnReport, IngestLimits, IngestReport, read_table
from core.settings import Settings


def _read(text: str | bytes, name: str = "data.csv", **kwargs):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return read_table(data, name=name, **kwargs)


def _column(report: IngestReport, name: str) -> ColumnReport:
    return next(c for c in report.columns if c.name == name)


@pytest.fixture
def small_pieces(monkeypatch):
    """Stream files through many tiny pieces so multi-piece paths run on small fixtures."""
    monkeypatch.setattr("core.ingest.source.HEAD_BYTES", 256)
    monkeypatch.setattr("core.ingest.pieces.PIECE_BYTES", 64)
    monkeypatch.setattr("core.ingest.kinds.PROFILE_BYTES", 200)
    monkeypatch.setattr("core.ingest.lines.READ_BYTES", 64)


# === errors ====================================================================================


def test_empty_file_is_refused():
    with pytest.raises(IngestError, match=r"data\.csv is empty \(0 bytes\)"):
        _read(b"")


def test_blank_lines_only_are_refused():
    with pytest.raises(IngestError, match="only blank lines"):
        _read("\n  \n\n")


def test_header_only_is_refused():
    with pytest.raises(IngestError, match="header line but no data rows"):
        _read("a,b,c\n")
    with pytest.raises(IngestError, match="header line but no data rows"):
        _read("a,b,c\n\n   \n")


def test_nul_bytes_are_binary_content():
    with pytest.raises(IngestError, match=r"binary data.*NUL byte at offset 8, line 3"):
        _read(b"a,b\n1,2\n\x00\x01\x02,3\n")


def test_excel_workbook_is_named():
    with pytest.raises(IngestError, match=r"book\.xlsx is a ZIP archive \(an Excel \.xlsx workbook\?\)"):
        _read(b"PK\x03\x04rest-of-zip", name="book.xlsx")


def test_unterminated_quote_names_the_line_where_it_starts():
    text = 'id,comment\n1,"fine"\n2,"also, fine"\n3,"never closed\n4,more\n5,text\n'
    with pytest.raises(IngestError, match=r"line 4: a quoted field starts here.*never closed"):
        _read(text)


def test_unterminated_quote_after_stray_literal_quotes():
    text = 'id,size\n1,12" screen\n2,"open\n3,x\n'
    with pytest.raises(IngestError, match=r"line 3: a quoted field"):
        _read(text)


def test_unterminated_quote_in_a_streamed_file(tmp_path, small_pieces):
    path = tmp_path / "big.csv"
    path.write_text("id,comment\n" + "".join(f"{i},ok\n" for i in range(1, 200)) + '200,"oops\n201,x\n')
    with pytest.raises(IngestError, match=r"big\.csv: line 201: a quoted field"):
        read_table(path)


def test_too_many_columns():
    header = ",".join(f"c{i}" for i in range(6))
    with pytest.raises(IngestError, match="header has 6 columns, more than the limit of 5"):
        _read(header + "\n" + ",".join("1" * 6) + "\n", limits=IngestLimits(max_columns=5))


def test_gzip_bomb_stops_at_the_limit():
    payload = gzip.compress(b"a,b\n" + b"1,2\n" * 500_000)  # 2 MB of text from a few KB
    with pytest.raises(IngestError, match=r"decompresses to more than 1 MB.*refusing"):
        _read(payload, name="bomb.csv.gz", limits=IngestLimits(max_decompressed_bytes=1024**2))


def test_truncated_gzip_is_refused():
    payload = gzip.compress(b"a,b\n" + b"1,2\n" * 1000)
    with pytest.raises(IngestError, match="truncated"):
        _read(payload[: len(payload) // 2], name="cut.csv.gz")


def test_unreadable_parquet():
    with pytest.raises(IngestError, match=r"x\.parquet: not a readable Parquet file"):
        _read(b"PAR1 this is not really parquet PAR1", name="x.parquet")
    with pytest.raises(IngestError, match=r"y\.parquet: not a readable Parquet file.*PAR1"):
        _read("a,b\n1,2\n", name="y.parquet")


def test_parquet_too_wide_and_too_large():
    buf = io.BytesIO()
    pq.write_table(pa.table({f"c{i}": [1, 2] for i in range(4)}), buf)
    with pytest.raises(IngestError, match="4 columns, more than the limit of 3"):
        _read(buf.getvalue(), name="w.parquet", limits=IngestLimits(max_columns=3))
    with pytest.raises(IngestError, match="uncompressed, more than the limit"):
        _read(buf.getvalue(), name="w.parquet", limits=IngestLimits(max_decompressed_bytes=10))


def test_unknown_encoding():
    rng = np.random.default_rng(0)
    noise = bytes(rng.choice([b for b in range(1, 256) if b not in (10, 13)], 3000).astype(np.uint8))
    with pytest.raises(IngestError, match="unknown text encoding"):
        _read(b"a,b\n" + noise)


def test_missing_file(tmp_path):
    with pytest.raises(IngestError, match=r"nope\.csv: file not found"):
        read_table(tmp_path / "nope.csv")


def test_name_is_never_opened(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("x\nsecret\n")
    frame, report = _read("a\n1\n", name=str(secret))
    assert frame["a"].tolist() == [1] and report.source_name == str(secret)


def test_every_row_ragged_is_refused():
    with pytest.raises(IngestError, match=r"no data row has the 3 fields of the header \(line 2 has 2\)"):
        _read("a,b,c\n1,2\n3,4\n")


# === encodings =================================================================================


def test_utf8_with_bom():
    frame, report = _read("\ufeffname,amount\nJosé,1.5\n".encode("utf-8"))
    assert list(frame.columns) == ["name", "amount"]
    assert frame["name"].tolist() == ["José"]
    assert report.encoding == "utf-8" and report.bom is True


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_with_bom(codec):
    text = "name;city\nJosé;Zürich\nZoë;Köln\n"
    data = text.encode(codec) if codec == "utf-16" else b"\xfe\xff" + text.encode(codec)
    frame, report = _read(data)
    assert frame["name"].tolist() == ["José", "Zoë"] and frame["city"].tolist() == ["Zürich", "Köln"]
    assert report.encoding.startswith("utf-16") and report.bom is True and report.delimiter == ";"


def test_cp1252_is_guessed_and_reported():
    frame, report = _read("name,note\nJosé,€ 5 — ‘quoted’\nOrléans,ok\n".encode("cp1252"))
    assert frame["name"].tolist() == ["José", "Orléans"]
    assert frame["note"].tolist()[0] == "€ 5 — ‘quoted’"
    assert report.encoding == "cp1252" and any("not UTF-8" in n for n in report.notes)


def test_latin1_e_acute_is_decoded():
    frame, report = _read("ville,code\nMontréal,1\nQuébec,2\n".encode("latin-1"))
    assert frame["ville"].tolist() == ["Montréal", "Québec"]
    assert report.encoding == "cp1252"


def test_non_western_8bit_text_uses_charset_detection():
    frame, report = _read("город,сумма\nМосква и область,10\nСанкт-Петербург,20\n".encode("cp1251"))
    assert frame["город"].tolist() == ["Москва и область", "Санкт-Петербург"]
    assert report.encoding == "cp1251"


# === dialects ==================================================================================


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(delimiter):
    text = delimiter.join(["id", "city", "amount"]) + "\n"
    text += delimiter.join(["1", "Paris", "2.5"]) + "\n" + delimiter.join(["2", "Lyon", "3"]) + "\n"
    frame, report = _read(text)
    assert report.delimiter == delimiter
    assert frame["city"].tolist() == ["Paris", "Lyon"] and frame["amount"].tolist() == [2.5, 3.0]


def test_quoted_fields_with_delimiters_newlines_and_escaped_quotes():
    text = 'id,comment,amount\n1,"a, b",1\n2,"two\nlines",2\n3,"say ""hi""",3\n'
    frame, report = _read(text)
    assert frame["comment"].tolist() == ["a, b", "two\nlines", 'say "hi"']
    assert report.ragged_count == 0 and report.rows == 3


def test_excel_sep_line_sets_the_delimiter():
    frame, report = _read("sep=|\na|b\n1,5|x\n")
    assert report.delimiter == "|" and frame["a"].tolist() == [1.5]
    assert any("sep=|" in n for n in report.notes)


# === numbers ===================================================================================


def test_decimal_comma_file():
    frame, report = _read("id;betrag;gebuehr\n1;1.234,56 €;0,35\n2;12,50 €;1,5\n3;-0,99 €;2\n")
    assert frame["betrag"].tolist() == [1234.56, 12.5, -0.99]
    assert frame["gebuehr"].tolist() == [0.35, 1.5, 2.0]
    assert report.decimal == "," and report.thousands == "."


def test_decimal_point_and_decimal_comma_columns_in_one_comma_separated_file():
    rows = "".join(f'{i},1.5,"0,{i % 10}",0\n' for i in range(1, 51))
    frame, report = _read("id,amount,rate,label\n" + rows)
    assert frame["amount"].tolist() == [1.5] * 50
    assert frame["rate"].tolist()[:3] == [0.1, 0.2, 0.3]
    assert report.delimiter == ","


def test_money_cells():
    text = 'amount,price\n"$1,000.50",1.000,50 €\n(12.00),"2,5"\n"¥3,000",7\n'
    frame, _ = _read(text.replace("1.000,50 €", '"1.000,50 €"'))
    assert frame["amount"].tolist() == [1000.5, -12.0, 3000.0]
    assert frame["price"].tolist() == [1000.5, 2.5, 7.0]


def test_nan_inf_blank_counts_per_column():
    text = "id,x,label\n1,1.5,a\n2,,b\n3,NaN,\n4,inf,NULL\n5,-inf,c\n6,  ,d\n7,oops,e\n"
    text += "".join(f"{i},{i},f\n" for i in range(8, 16))
    frame, report = _read(text)
    x = _column(report, "x")
    assert x.kind == "number" and x.blank == 2 and x.nan == 1 and x.inf == 2 and x.unparseable == 1
    assert x.missing == 4
    assert frame["x"].iloc[3] == math.inf and frame["x"].iloc[4] == -math.inf
    assert any("oops" in n for n in x.notes)
    label = _column(report, "label")
    assert label.blank == 1 and label.nan == 1 and frame["label"].isna().sum() == 2


def test_numbers_read_natively_and_counted():
    frame, report = _read("a,b\n1,0.5\n2,\n3,NaN\n")
    assert frame["a"].dtype == "int64" and frame["a"].tolist() == [1, 2, 3]
    b = _column(report, "b")
    assert b.dtype == "float64" and b.blank == 1 and b.nan == 1 and b.missing == 2


def test_column_messy_after_the_profiled_rows_is_reread_as_numbers(small_pieces):
    rows = "".join(f"{i},{i}.5\n" for i in range(1, 60)) + "60,$1,000.00\n".replace("$1,000.00", '"$1,000.00"')
    frame, report = _read("id,amount\n" + rows)
    assert frame["amount"].iloc[-1] == 1000.0 and frame["amount"].iloc[0] == 1.5
    assert any("read as text and parsed as numbers" in n for n in _column(report, "amount").notes)


# === ids =======================================================================================


def test_leading_zeros_survive_in_id_columns():
    frame, report = _read("code,amount\n00123,1\n00456,2\n07890,3\n")
    assert frame["code"].tolist() == ["00123", "00456", "07890"]
    assert _column(report, "code").kind == "id" and _column(report, "code").dtype == "str"


@pytest.mark.parametrize("name", ["user_id", "id", "num", "cc_num", "nameOrig", "TERMINAL_ID", "customerId"])
def test_id_names_keep_numbers_as_text(name):
    frame, report = _read(f"{name},amount\n4532015112830366,1\n0042,2\n")
    assert frame[name].tolist() == ["4532015112830366", "0042"]
    assert _column(report, name).kind == "id"


def test_excel_scientific_ids_are_reported_as_lossy():
    frame, report = _read("card_id,amount\n2.29E+15,1\n4.53E+15,2\n")
    col = _column(report, "card_id")
    assert col.kind == "id" and frame["card_id"].tolist() == ["2.29E+15", "4.53E+15"]
    assert any("precision was lost in the source" in n for n in col.notes)


def test_long_integer_codes_become_ids_without_an_id_name():
    rows = "".join(f"{4000000000000000 + i * 7919},{i}\n" for i in range(30))
    frame, report = _read("card,amount\n" + rows)
    assert _column(report, "card").kind == "id" and frame["card"].iloc[1] == "4000000000007919"
    assert _column(report, "amount").kind == "number"


def test_counts_named_num_something_stay_numbers():
    _, report = _read("num_transactions,amount\n3,1\n4,2\n")
    assert _column(report, "num_transactions").kind == "number"


# === dates =====================================================================================


def test_iso_dates():
    frame, report = _read("ts,amount\n2024-01-05T10:00:00,1\n2024-01-06 11:30:00,2\n,3\n")
    assert frame["ts"].tolist()[:2] == [pd.Timestamp("2024-01-05 10:00"), pd.Timestamp("2024-01-06 11:30")]
    assert pd.isna(frame["ts"].iloc[2])
    col = _column(report, "ts")
    assert col.kind == "datetime" and col.blank == 1 and "ISO 8601" in col.notes[0]


def test_eu_dates_resolved_and_reported():
    frame, report = _read("date,amount\n01/04/2024,1\n25/03/2024,2\n")
    assert frame["date"].tolist() == [pd.Timestamp("2024-04-01"), pd.Timestamp("2024-03-25")]
    note = _column(report, "date").notes[0]
    assert "day-first (EU)" in note and "25/03/2024" in note


def test_us_dates_resolved_and_reported():
    frame, report = _read("date,amount\n04/01/2024 10:00,1\n03/25/2024 11:00,2\n")
    assert frame["date"].tolist() == [pd.Timestamp("2024-04-01 10:00"), pd.Timestamp("2024-03-25 11:00")]
    assert "month-first (US)" in _column(report, "date").notes[0]


def test_ambiguous_dates_in_a_semicolon_file_are_day_first():
    frame, report = _read("datum;betrag\n01/02/2024;1\n03/04/2024;2\n")
    assert frame["datum"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-03")]
    assert "assumed day-first" in _column(report, "datum").notes[0]


def test_unix_seconds_column():
    frame, report = _read("unix_time,amount\n1700000000,1\n1700000060,2\n")
    assert frame["unix_time"].tolist() == [pd.Timestamp("2023-11-14 22:13:20"), pd.Timestamp("2023-11-14 22:14:20")]
    assert "Unix seconds" in _column(report, "unix_time").notes[0]


def test_unparseable_dates_are_counted():
    _, report = _read("date,amount\n2024-01-05,1\nnot a date,2\n2024-01-07,3\n")
    col = _column(report, "date")
    assert col.unparseable == 1 and col.missing == 1 and "not a date" in " ".join(col.notes)


# === headers and ragged rows ===================================================================


def test_duplicate_and_blank_headers_are_renamed_and_reported():
    frame, report = _read("amount,amount,,id, \n1,2,3,4,5\n")
    assert list(frame.columns) == ["amount", "amount_2", "column_3", "id", "column_5"]
    assert report.renamed_headers == [("amount", "amount_2"), ("", "column_3"), ("", "column_5")]
    assert _column(report, "amount_2").original == "amount"


def test_rename_does_not_collide_with_an_existing_name():
    frame, _ = _read("a,a,a_2\n1,2,3\n")
    assert list(frame.columns) == ["a", "a_3", "a_2"]


def test_ragged_rows_are_dropped_with_their_line_numbers():
    text = "a,b,c\n1,2,3\n4,5\n\n6,7,8,9\n10,11,12\n13,\"x\ny\",14\n15,16\n"
    frame, report = _read(text)
    assert frame["a"].tolist() == [1, 10, 13]
    assert report.ragged_lines == [3, 5, 9] and report.ragged_count == 3
    assert "Dropped 3 row(s)" in report.summary_lines()[1]


def test_ragged_lines_are_capped_but_counted():
    text = "a,b\n" + "1,2\n" * 5 + "3\n" * 30
    _, report = _read(text, limits=IngestLimits(max_listed_lines=4))
    assert report.ragged_count == 30 and report.ragged_lines == [7, 8, 9, 10]


def test_streamed_file_reports_ragged_lines(tmp_path, small_pieces):
    lines = ["id,amount"] + [f"{i},{i}.5" for i in range(1, 101)]
    lines[40] = "40,1,extra"
    lines[77] = "77"
    path = tmp_path / "stream.csv"
    path.write_text("\n".join(lines) + "\n")
    frame, report = read_table(path)
    assert report.ragged_lines == [41, 78] and len(frame) == 98


def test_streamed_file_with_late_quotes_and_non_utf8(tmp_path, small_pieces):
    body = "".join(f"{i},plain\n" for i in range(1, 80)) + '80,"quoted, with comma"\n81,café\n'
    path = tmp_path / "late.csv"
    path.write_bytes(("id,text\n" + body).encode("cp1252"))
    frame, report = read_table(path)
    assert frame["text"].tolist()[-2:] == ["quoted, with comma", "café"]
    assert report.encoding == "cp1252" and report.rows == 81


def test_streamed_file_with_a_late_nul_byte(tmp_path, small_pieces):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"id,text\n" + b"".join(b"%d,x\n" % i for i in range(1, 100)) + b"100,\x00\n")
    with pytest.raises(IngestError, match=r"NUL byte at offset \d+, line 101"):
        read_table(path)


# === formats ===================================================================================


def test_gzip_csv(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"id,amount\n007,1.5\n008,2\n"))
    frame, report = read_table(path)
    assert report.format == "csv.gz" and frame["id"].tolist() == ["007", "008"]
    frame, report = _read(gzip.compress(b"a\n1\n") + gzip.compress(b"2\n"), name="multi.gz")
    assert frame["a"].tolist() == [1, 2]


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "t.parquet"
    table = pa.table({
        "user_id": pa.array([1, 2, None], pa.int64()),
        "amount": [1.5, float("nan"), float("inf")],
        "ts": pa.array([1_700_000_000_000_000, None, 0], pa.timestamp("us")),
        "flag": [True, None, False],
        "price": ["$1,000.50", "(2.00)", ""],
        "country": ["NA", "FR", None],
    })
    pq.write_table(table, path)
    frame, report = read_table(path)
    assert report.format == "parquet" and report.rows == 3
    assert frame["user_id"].tolist()[:2] == ["1", "2"] and _column(report, "user_id").kind == "id"
    assert _column(report, "amount").nan == 1 and _column(report, "amount").inf == 1
    assert frame["ts"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20")
    assert frame["flag"].dtype == "boolean" and frame["flag"].tolist()[0] is True
    assert frame["price"].tolist()[:2] == [1000.5, -2.0]
    assert frame["country"].tolist()[:2] == ["NA", "FR"]


def test_parquet_content_wins_over_a_csv_name():
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2]}), buf)
    frame, report = _read(buf.getvalue(), name="looks.csv")
    assert report.format == "parquet" and frame["a"].tolist() == [1, 2]


# === the report ================================================================================


def test_report_is_json_safe_and_summarised():
    rows = "".join(f"{i:03d},${i},{i}\n" for i in range(3, 20))
    frame, report = _read("id,amount,amount\n001,$5,1\n002,x,2\n003\n" + rows)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["renamed_headers"] == [["amount", "amount_2"]]
    assert data["ragged_lines"] == [4] and data["columns"][1]["unparseable"] == 1
    lines = report.summary_lines()
    assert lines[0].startswith("data.csv: csv, 19 rows x 3 columns; encoding utf-8; delimiter ','")
    assert any(line.startswith("amount: number (float64)") for line in lines)


def test_limits_from_settings():
    limits = IngestLimits.from_settings(Settings(max_columns=7, max_decompressed_mb=3))
    assert limits.max_columns == 7 and limits.max_decompressed_bytes == 3 * 1024**2


def test_path_source_and_big_file_streaming_match_bytes_source(tmp_path, small_pieces):
    text = "id,ts,amount,country\n" + "".join(
        f"{i:05d},2024-01-{1 + i % 28:02d}T10:00:00,{i * 1.25},{'FR' if i % 3 else 'NA'}\n" for i in range(300))
    path = tmp_path / "same.csv"
    path.write_text(text)
    from_path, _ = read_table(path)
    from_bytes, _ = _read(text)
    pd.testing.assert_frame_equal(from_path, from_bytes)
    assert from_path["id"].iloc[7] == "00007" and from_path["country"].iloc[0] == "NA"


# === more dialect and number corners ==========================================================


def test_old_mac_line_endings():
    frame, report = _read(b"a,b\r1,2\r3,4\r")
    assert frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    assert any("carriage returns" in n for n in report.notes)


def test_crlf_line_endings_with_ragged_rows_and_quoted_newlines():
    frame, report = _read(b'a,b\r\n1,"x\r\ny"\r\n2\r\n3,4\r\n')
    assert frame["b"].tolist() == ["x\r\ny", "4"] and report.ragged_lines == [4]


def test_european_file_reads_dot_groups_as_thousands():
    frame, report = _read("id;preis\n1;1.250\n2;12.500\n3;7\n")
    assert frame["preis"].tolist() == [1250.0, 12500.0, 7.0]
    assert any("thousands separator" in n for n in _column(report, "preis").notes)


def test_us_thousands_are_not_read_as_decimal_commas():
    frame, _ = _read('id,amount\n1,"1,000"\n2,"25,000"\n')
    assert frame["amount"].tolist() == [1000.0, 25000.0]


def test_unix_milliseconds_column_is_a_date_not_an_id():
    rows = "".join(f"{1_700_000_000_000 + i * 1000},{i}\n" for i in range(30))
    frame, report = _read("created_at,amount\n" + rows)
    assert _column(report, "created_at").kind == "datetime"
    assert frame["created_at"].iloc[1] == pd.Timestamp("2023-11-14 22:13:21")


def test_streamed_file_with_a_quoted_header_and_quoted_fields(tmp_path, small_pieces):
    rows = "".join(f'{i},"text, {i}","line\nbreak"\n' for i in range(1, 60))
    path = tmp_path / "quoted.csv"
    path.write_text('"id","note","memo"\n' + rows)
    frame, report = read_table(path)
    assert len(frame) == 59 and frame["note"].iloc[58] == "text, 59" and frame["memo"].iloc[0] == "line\nbreak"
    assert report.ragged_count == 0


def test_streamed_file_column_messy_beyond_the_head(tmp_path, small_pieces):
    rows = "".join(f"{i},{i}.25\n" for i in range(1, 80)) + "80,N/A\n81,\n"
    path = tmp_path / "late.csv"
    path.write_text("id,amount\n" + rows)
    frame, report = read_table(path)
    amount = _column(report, "amount")
    assert frame["amount"].iloc[0] == 1.25 and math.isnan(frame["amount"].iloc[79])
    assert amount.nan == 1 and amount.blank == 1 and amount.unparseable == 0
