"""core.export: spreadsheet formulas are defused in text cells only; writes are atomic."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.export import escape_cells, write_table


def sample() -> pd.DataFrame:
    return pd.DataFrame({
        "note": pd.Series(["=HYPERLINK(\"http://x\")", "+1", "-5", "@SUM(A1)", "\tTab", "\rCR", "plain", None],
                          dtype="str"),
        "amount": [-5.0, -1.5, 3.0, 0.0, -0.0, 2.0, np.nan, 1.0],
        "count": np.array([-5, 1, 2, 3, 4, 5, 6, 7], dtype=np.int64),
        "mixed": pd.Series(["=1+1", -3, 2.5, None, "ok", "-x", True, "a-b"], dtype=object),
    })


def test_formula_text_is_escaped_and_numbers_stay_numbers():
    frame = sample()
    out = escape_cells(frame)
    assert out["note"].tolist()[:7] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-5", "'@SUM(A1)", "'\tTab", "'\rCR",
                                        "plain"]
    assert pd.isna(out["note"].iloc[7])
    assert out["amount"].dtype == np.float64 and out["amount"].iloc[0] == -5.0
    assert out["count"].dtype == np.int64 and out["count"].iloc[0] == -5
    assert out["mixed"].tolist()[:3] == ["'=1+1", -3, 2.5] and out["mixed"].iloc[5] == "'-x"
    assert out["mixed"].iloc[7] == "a-b"
    pd.testing.assert_frame_equal(frame, sample())  # the input is left alone


def test_csv_output_is_escaped_and_numbers_read_back_as_numbers(tmp_path):
    path = tmp_path / "out.csv"
    write_table(sample(), path)
    back = pd.read_csv(path)
    assert back["note"].iloc[2] == "'-5" and back["note"].iloc[0].startswith("'=")
    assert back["amount"].iloc[0] == -5.0 and back["count"].iloc[0] == -5
    assert pd.api.types.is_numeric_dtype(back["amount"]) and pd.api.types.is_numeric_dtype(back["count"])


def test_parquet_keeps_values_and_types(tmp_path):
    path = tmp_path / "out.parquet"
    frame = sample().drop(columns=["mixed"])
    write_table(frame, path)
    back = pd.read_parquet(path)
    assert back["note"].iloc[0] == frame["note"].iloc[0]
    assert back["amount"].iloc[0] == -5.0


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "scores.csv"
    path.write_text("old\n")

    def broken(self, target, *args, **kwargs):
        with open(target, "w") as handle:
            handle.write("half a fi")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="No space"):
        write_table(sample(), path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_a_successful_write_replaces_the_file(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("old\n")
    write_table(pd.DataFrame({"a": [1, 2]}), path)
    assert pd.read_csv(path)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]
