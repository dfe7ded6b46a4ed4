"""Is the dashboard responsive while a model trains? Page requests timed during a training run.

Run: ``.venv/bin/python benchmarks/serve_while_training.py [--rows 300000] [--epochs 6]``

``txlab run`` serves a temporary workspace holding a simulated, mapped dataset. A training
run on it starts in a separate process (as the dashboard's background jobs run), and while it
is "running" the Data, Train and Models pages and Dash's layout route are requested in turn
every 0.2 s. Printed: how many requests, median / 95th percentile / max response time, and
the same figures with no training (before it starts). The last line is
``TARGETS max_response_s=... (<1) OK``; exit status 1 when a request took 1 s or more.
"""
from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.datasets import generate_dataset, map_dataset  # noqa: E402
from core.mapping import suggest_mapping  # noqa: E402
from core.runs import RunStore  # noqa: E402
from core.synth import SynthConfig  # noqa: E402
from core.train import TrainConfig  # noqa: E402
from core.training_job import run_training  # noqa: E402
from core.workspace import Workspace  # noqa: E402

PATHS = ("/", "/train", "/models", "/_dash-layout")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="txlab-bench-serve-") as tmp:
        data, models = Path(tmp) / "data", Path(tmp) / "models"
        workspace = Workspace(data)
        meta = generate_dataset(workspace, SynthConfig(rows=args.rows))
        map_dataset(workspace, meta.id, suggest_mapping(workspace.load_frame(meta.id)).to_mapping())
        port = _free_port()
        server = subprocess.Popen([str(Path(sys.executable).with_name("txlab")), "run", "--port", str(port),
                                   "--data-dir", str(data), "--models-dir", str(models)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base)
            idle = [_timed_get(base + path) for _ in range(5) for path in PATHS]
            job = multiprocessing.get_context("spawn").Process(
                target=_train, args=(data, models, meta.id, args.epochs), daemon=True)
            job.start()
            busy = _requests_while_training(base, models, job)
            job.join()
        finally:
            server.terminate()
            server.wait(10)
    print(f"served {len(idle)} requests idle, {len(busy)} while training ({args.rows:,} rows, {args.epochs} epochs)")
    for name, times in (("idle", idle), ("while training", busy)):
        print(f"  {name:<15} median {statistics.median(times) * 1e3:6.1f} ms   p95 {_p95(times) * 1e3:6.1f} ms   "
              f"max {max(times) * 1e3:6.1f} ms")
    worst = max(busy) if busy else float("nan")
    ok = bool(busy) and worst < 1.0
    print(f"TARGETS max_response_s={worst:.3f} (<1) {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def _train(data: Path, models: Path, dataset_id: str, epochs: int) -> None:
    run_training(workspace=Workspace(data), models_dir=models, dataset_id=dataset_id,
                 config=TrainConfig(epochs=epochs, patience=epochs))


def _requests_while_training(base: str, models: Path, job) -> list[float]:
    runs = RunStore(models)
    deadline = time.monotonic() + 120
    while not runs.running() and job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    times: list[float] = []
    i = 0
    while runs.running() and job.is_alive():
        times.append(_timed_get(base + PATHS[i % len(PATHS)]))
        i += 1
        time.sleep(0.2)
    return times


def _timed_get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return time.perf_counter() - start


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _timed_get(base + "/")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("txlab run did not answer within 60 s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


if __name__ == "__main__":
    sys.exit(main())
