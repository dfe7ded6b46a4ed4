"""The txlab command as a script would use it."""
import gzip
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from dashboard.cli import main


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "tx.csv"
    result = CliRunner().invoke(main, ["generate", "--rows", "5000", "--seed", "3", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_generate_writes_the_requested_rows_deterministically(runner, generated, tmp_path):
    again = tmp_path / "again.csv"
    result = runner.invoke(main, ["generate", "--rows", "5000", "--seed", "3", "--out", str(again)])
    assert result.exit_code == 0 and "5,000 rows" in result.output
    assert again.read_bytes() == generated.read_bytes()
    frame = pd.read_csv(generated)
    assert len(frame) == 5000
    assert {"user_id", "merchant_id", "amount", "is_fraud", "timestamp"} <= set(frame.columns)


def test_generate_writes_parquet_by_extension(runner, tmp_path):
    path = tmp_path / "tx.parquet"
    result = runner.invoke(main, ["generate", "--rows", "2000", "--days", "10", "--fraud-rate", "0.05", "--out", str(path)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(path)
    assert len(frame) == 2000 and 0.02 < frame["is_fraud"].mean() < 0.08


def test_generate_rejects_a_bad_option_with_a_one_line_message(runner, tmp_path):
    result = runner.invoke(main, ["generate", "--rows", "1000", "--fraud-rate", "2", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "fraud_rate" in result.stderr.replace("-", "_").lower() or "fraud rate" in result.stderr.lower()
    assert not (tmp_path / "x.csv").exists()


def test_inspect_json_reports_rows_columns_report_and_mapping(runner, generated):
    result = runner.invoke(main, ["inspect", str(generated), "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert {"rows", "columns", "report", "mapping"} <= set(payload)
    assert payload["rows"] == 5000
    mapping = payload["mapping"]
    assert mapping["amount"]["column"] == "amount"
    assert mapping["label"]["column"] == "is_fraud"
    assert mapping["user_id"]["column"] == "user_id"
    assert mapping["timestamp"]["column"] == "timestamp"
    assert all(0.0 <= m["confidence"] <= 1.0 for m in mapping.values())


def test_inspect_text_shows_every_field_with_a_reason(runner, generated):
    result = runner.invoke(main, ["inspect", str(generated)])
    assert result.exit_code == 0, result.stderr
    for field in ("amount", "label", "user_id", "merchant_id", "country", "device_type", "timestamp"):
        assert field in result.stdout


def test_inspect_reads_gzip_like_the_dashboard(runner, generated, tmp_path):
    path = tmp_path / "tx.csv.gz"
    path.write_bytes(gzip.compress(generated.read_bytes()))
    payload = json.loads(runner.invoke(main, ["inspect", str(path), "--json"]).stdout)
    assert payload["rows"] == 5000


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02binary\x00" * 10, b"a,b\n"])
def test_inspect_unreadable_file_exits_2_with_one_line(runner, tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = runner.invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("txlab: ")


def test_inspect_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(main, ["inspect", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_help_names_the_loopback_default(runner):
    result = runner.invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output and "--data-dir" in result.output and "--debug" in result.output
