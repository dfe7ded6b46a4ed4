"""Ingestion speed and peak memory against the plain pandas readers, on generated 1M-row CSVs.

Run from the repository root:  .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--repeats 3]

Prints, for a clean file and for a messy European one (';', decimal comma, '1.234,56 €',
dd/mm/yyyy dates, leading-zero ids, missing markers, a few ragged rows): the median time of
``pandas.read_csv`` (C engine), ``pandas.read_csv(engine="pyarrow")``, ``core.ingest.read_table``
and ``core.datasets.import_table`` (read, then stored as a Parquet dataset: what the Data page does),
and the ratio of the stored ingest to the fastest plain reader; then the peak memory of that
ingest of the clean file (RSS growth in a fresh subprocess) against the file's size. Ends with one TARGETS line and
exits 1 when a target is missed. Files live in a temporary folder that is removed afterwards.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.datasets import import_table  # noqa: E402
from core.ingest import read_table  # noqa: E402
from core.workspace import Workspace  # noqa: E402

TARGET_RATIO = 3.0
TARGET_MEMORY = 4.0

_MEMORY_PROBE = """
import resource, sys, tempfile
import pandas as pd
from core.datasets import import_table
from core.workspace import Workspace
def status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key))
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak (VmHWM) to the current RSS, after the imports
    base, peak = status("VmRSS:"), lambda: status("VmHWM:")
except OSError:  # no /proc: ru_maxrss (may include memory inherited from the parent)
    import psutil
    base = psutil.Process().memory_info().rss
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
if sys.argv[2] == "ingest":
    import_table(Workspace(tempfile.mkdtemp()), sys.argv[1], name="clean.csv", origin="server-file")
else:
    frame = pd.read_csv(sys.argv[1])
print(peak() - base)
"""


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="txlab-bench-ingest-") as tmp:
        clean, messy = Path(tmp) / "clean.csv", Path(tmp) / "european.csv"
        started = time.perf_counter()
        write_clean_csv(clean, args.rows)
        write_european_csv(messy, args.rows)
        print(f"generated {args.rows:,} rows: clean {_mb(clean)} MB, european {_mb(messy)} MB "
              f"in {time.perf_counter() - started:.1f} s")
        clean_ratio = _report_timings("clean", clean, ",", args.repeats)
        _report_timings("european (messy)", messy, ";", args.repeats)
        memory_ratio = _report_memory(clean, args.repeats)
    ok_ratio, ok_memory = clean_ratio <= TARGET_RATIO, memory_ratio <= TARGET_MEMORY
    print(f"TARGETS ingest_ratio={clean_ratio:.2f} (<={TARGET_RATIO:g}) {'OK' if ok_ratio else 'MISSED'}; "
          f"peak_mem_ratio={memory_ratio:.2f} (<={TARGET_MEMORY:g}) {'OK' if ok_memory else 'MISSED'}")
    return 0 if ok_ratio and ok_memory else 1


def write_clean_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Ten columns of a tidy transaction log: ids, ISO timestamps, amounts, categories, a label."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, 365 * 86_400, rows)) + 1_704_067_200  # 2024
    table = pa.table({
        "transaction_id": np.arange(10_000_001, 10_000_001 + rows),
        "timestamp": pc.strftime(pa.array(seconds.astype("datetime64[s]")), format="%Y-%m-%dT%H:%M:%S"),
        "user_id": rng.integers(100_000, 999_999, rows),
        "merchant_id": rng.integers(1_000, 9_999, rows),
        "amount": np.round(rng.lognormal(3, 1, rows), 2),
        "country": rng.choice(np.array(["US", "GB", "DE", "FR", "NL", "ES"], dtype=object), rows),
        "device_type": rng.choice(np.array(["web", "mobile", "pos"], dtype=object), rows),
        "hour": rng.integers(0, 24, rows),
        "velocity_24h": rng.poisson(3, rows),
        "is_fraud": (rng.random(rows) < 0.01).astype(np.int64),
    })
    with path.open("wb") as fh:  # like pandas' to_csv: no quotes anywhere, the header included
        fh.write((",".join(table.column_names) + "\n").encode())
        pcsv.write_csv(table, fh, write_options=pcsv.WriteOptions(include_header=False, quoting_style="none"))


def write_european_csv(path: Path, rows: int, seed: int = 1) -> None:
    """A German-Excel export: ';', '1.234,56 €' amounts, '0,35' fees, dd/mm/yyyy HH:MM dates,
    zero-padded ids, some blank and 'N/A' amounts, and a few rows with a field too many or few."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, 365 * 86_400, rows) + 1_704_067_200
    cents = np.round(rng.lognormal(3, 1.5, rows) * 100).astype(np.int64)
    cents[rng.random(rows) < 0.02] *= -1
    amounts = np.array([_euro(c) for c in cents.tolist()], dtype=object)
    amounts[rng.random(rows) < 0.005] = ""
    amounts[rng.random(rows) < 0.002] = "N/A"
    fees = np.char.replace((rng.integers(0, 300, rows) / 100).astype(str), ".", ",")
    table = pa.table({
        "transaction_id": pc.utf8_lpad(pa.array(np.arange(1, rows + 1).astype(str)), width=9, padding="0"),
        "datum": pc.strftime(pa.array(seconds.astype("datetime64[s]")), format="%d/%m/%Y %H:%M"),
        "user_id": rng.integers(100_000, 999_999, rows),
        "merchant_id": rng.integers(1_000, 9_999, rows),
        "betrag": pa.array(amounts, pa.string()),
        "gebuehr": pa.array(fees.astype(object), pa.string()),
        "land": rng.choice(np.array(["DE", "AT", "CH", "FR", "NL"], dtype=object), rows),
        "geraet": rng.choice(np.array(["web", "mobil", "kasse"], dtype=object), rows),
        "betrug": (rng.random(rows) < 0.01).astype(np.int64),
    })
    pcsv.write_csv(table, path, write_options=pcsv.WriteOptions(delimiter=";", quoting_style="needed"))
    _insert_ragged_lines(path, every=rows // 5 or 1)


def _euro(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{part:02d} €"


def _insert_ragged_lines(path: Path, every: int) -> None:
    """After every ``every``-th line insert a row with too few or too many fields."""
    data = path.read_bytes()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)[every::every] + 1
    bad = (b"999;01/01/2024 00:00;1;2\n", b"1;2;3;4;5;6;7;8;9;10;11\n")
    pieces, last = [], 0
    for k, end in enumerate(ends.tolist()):
        pieces += [data[last:end], bad[k % 2]]
        last = end
    pieces.append(data[last:])
    path.write_bytes(b"".join(pieces))


def _report_timings(label: str, path: Path, sep: str, repeats: int) -> float:
    """Median seconds of each reader (interleaved runs, one warm-up) and ingest / fastest plain.

    The plain readers skip rows with too many fields (they would stop there otherwise).
    """
    readers = {
        "pandas.read_csv (C engine)": lambda: pd.read_csv(path, sep=sep, on_bad_lines="skip"),
        'pandas.read_csv (engine="pyarrow")': lambda: pd.read_csv(path, sep=sep, engine="pyarrow",
                                                                  on_bad_lines="skip"),
        "core.ingest.read_table": lambda: read_table(path),
        "core.datasets.import_table (+ Parquet)": lambda: import_table(workspace, path, name=path.name, origin="server-file"),
    }
    workspace = Workspace(path.parent / "workspace")
    times: dict[str, list[float]] = {k: [] for k in readers}
    for run in range(repeats + 1):
        for key, read in readers.items():
            started = time.perf_counter()
            read()
            if run:  # the first round warms the page cache and imports
                times[key].append(time.perf_counter() - started)
    medians = {k: statistics.median(v) for k, v in times.items()}
    plain = min(v for k, v in medians.items() if k.startswith("pandas"))
    ratio = medians["core.datasets.import_table (+ Parquet)"] / plain
    print(f"\n{label}: {path.stat().st_size / 1e6:.1f} MB, medians of {repeats} runs")
    for key, value in medians.items():
        print(f"  {key:40s} {value:7.3f} s")
    print(f"  read only / fastest plain reader         {medians['core.ingest.read_table'] / plain:7.2f}x")
    print(f"  stored dataset / fastest plain reader    {ratio:7.2f}x")
    return ratio


def _report_memory(path: Path, repeats: int) -> float:
    """Peak RSS growth while reading, in fresh subprocesses, relative to the CSV's size.

    Measured with /proc/self/status (VmHWM after resetting it): ``ru_maxrss`` would include the
    parent's memory, which a forked child inherits in its accounting.
    """
    size = path.stat().st_size
    ingest = statistics.median(_peak_bytes(path, "ingest") for _ in range(repeats))
    plain = _peak_bytes(path, "pandas")
    print(f"\npeak memory (RSS growth, fresh process), CSV {size / 1e6:.1f} MB")
    print(f"  pandas.read_csv (C engine)           {plain / 1e6:7.1f} MB  {plain / size:5.2f}x the CSV")
    print(f"  import_table, stored (median of {repeats})  {ingest / 1e6:7.1f} MB  {ingest / size:5.2f}x the CSV")
    return ingest / size


def _peak_bytes(path: Path, mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(path), mode], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f}"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per generated file")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per reader (median), at least 3")
    args = parser.parse_args(argv)
    args.repeats = max(3, args.repeats)
    return args


if __name__ == "__main__":
    sys.exit(main())
