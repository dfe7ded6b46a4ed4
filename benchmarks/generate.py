"""Speed of the simulator: 1M rows generated and written as CSV and Parquet.

Run: ``.venv/bin/python benchmarks/generate.py [--rows 1000000] [--runs 3]``

Prints, for the median of ``--runs`` runs: generation time, CSV and Parquet write times and
file sizes; ``DataFrame.to_csv`` as the baseline the pyarrow CSV writer is compared with (same
process, same frame); and the wall time of the real command ``txlab generate --rows N --out
x.csv`` in a fresh process (imports included, which is what a user waits for). The last line is
``TARGETS generate_1M_csv_s=X.X (<=10) OK|MISSED``, taken from that command; exit status 1
when missed. Everything is written to a temporary folder that is removed afterwards.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.synth import SynthConfig, generate, write_dataset  # noqa: E402

TARGET_S = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = SynthConfig(rows=args.rows)

    with tempfile.TemporaryDirectory(prefix="txlab-bench-") as folder:
        tmp = Path(folder)
        gen, csv, parquet, frame = _in_process(config, tmp, args.runs)
        baseline = _timed(lambda: frame.to_csv(tmp / "baseline.csv", index=False, date_format="%Y-%m-%d %H:%M:%S"))
        csv_mb = (tmp / "data.csv").stat().st_size / 1e6
        parquet_mb = (tmp / "data.parquet").stat().st_size / 1e6
        fraud = float(frame["is_fraud"].mean())
        del frame
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        command, cold = _cold_command(args.rows, tmp, args.runs)

    n = f"{args.rows:,}"
    print(f"simulator: {n} rows, {args.runs} runs (median), fraud rate {fraud:.4f}, {os.cpu_count()} CPUs")
    print(f"  generate            {statistics.median(gen):6.2f} s   (runs: {_list(gen)})")
    print(f"  write CSV (pyarrow) {statistics.median(csv):6.2f} s   (runs: {_list(csv)})  {csv_mb:7.1f} MB")
    print(f"  write Parquet zstd  {statistics.median(parquet):6.2f} s   (runs: {_list(parquet)})  {parquet_mb:7.1f} MB")
    print(f"  DataFrame.to_csv    {baseline:6.2f} s   (baseline, 1 run: pyarrow writer is "
          f"{baseline / statistics.median(csv):.1f}x faster)")
    totals = [g + c for g, c in zip(gen, csv)]
    print(f"  generate + CSV      {statistics.median(totals):6.2f} s   in process")
    print(f"  peak memory         {peak_mb:6.0f} MB  (this process)")
    print(f"  `{command}`: {statistics.median(cold):.2f} s fresh process, imports included (runs: {_list(cold)})")
    figure = statistics.median(cold)
    ok = figure <= TARGET_S
    print(f"TARGETS generate_1M_csv_s={figure:.1f} (<={TARGET_S:g}) {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def _in_process(config: SynthConfig, tmp: Path, runs: int):
    """Generation and the two writers timed separately, ``runs`` times each."""
    gen, csv, parquet = [], [], []
    frame = None
    for _ in range(runs):
        frame = None  # free the previous frame before timing the next generation
        start = time.perf_counter()
        frame = generate(config)
        gen.append(time.perf_counter() - start)
        csv.append(_timed(lambda: write_dataset(frame, tmp / "data.csv")))
        parquet.append(_timed(lambda: write_dataset(frame, tmp / "data.parquet")))
    return gen, csv, parquet, frame


def _cold_command(rows: int, tmp: Path, runs: int) -> tuple[str, list[float]]:
    """Wall time of ``txlab generate`` in a new interpreter; falls back to core alone if the CLI fails."""
    out = tmp / "cli.csv"
    cli = [sys.executable, "-c", "from dashboard.cli import main; main()", "generate",
           "--rows", str(rows), "--out", str(out)]
    core_only = [sys.executable, "-c",
                 "import sys; from core.synth import SynthConfig, generate, write_dataset; "
                 "write_dataset(generate(SynthConfig(rows=int(sys.argv[1]))), sys.argv[2])",
                 str(rows), str(out)]
    for label, argv in ((f"txlab generate --rows {rows}", cli), ("python -c generate+write_dataset", core_only)):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                print(f"  ({label} failed: {done.stderr.strip().splitlines()[-1:]}; trying the next way)")
                break
        else:
            return label, times
    raise SystemExit("could not run the generator in a fresh process")


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
