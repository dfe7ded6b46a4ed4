"""Speed of the Explore page: each section's callback work, cold and warm, on 1M and 5M rows.

Run: ``.venv/bin/python benchmarks/explore.py [--rows 1000000 5000000] [--runs 3]``

For each size a dataset is simulated, mapped with the suggested mapping and stored in a
temporary workspace. Each Explore section is then timed as its page callback runs it (the
same ``dashboard.explore_views`` functions, opening the dataset through the results cache):

* cold: each section from its own empty results cache, in page order; the first section of a
  run also pays for reading the Parquet file (no frame in memory); median of ``--runs`` runs;
* warm: the same call again on the filled cache (median of ``--runs``);
* the whole page: every section in turn on one fresh cache (cold; sections share results such
  as the column roles), then again with no frame in memory (warm: answered from the cache alone).

It prints each figure's JSON size, and the cold times as multiples of a bare
``DataFrame.describe()`` on the same rows (the baseline: what "summarise a frame" costs in
pandas). The last line is ``TARGETS cold_1M_max_s=... (<=1) OK; warm_1M_max_s=... (<=0.2) OK;
cold_5M_max_s=... (<=5) OK; fig_max_kb=... (<=150) OK``; exit status 1 when one is missed.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from core.mapping import apply_mapping, suggest_mapping  # noqa: E402
from core.result_cache import FRAMES, DatasetResults, open_results  # noqa: E402
from core.synth import SynthConfig, generate  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from dashboard import explore_views as views  # noqa: E402
from dashboard.components import figures_in  # noqa: E402

TARGETS = {"cold_1M_max_s": 1.0, "warm_1M_max_s": 0.2, "cold_5M_max_s": 5.0, "fig_max_kb": 150.0}

# Each page callback's work with the inputs a user gives it; in page order (the first loads the frame).
SECTIONS: list[tuple[str, Callable[[DatasetResults], object]]] = [
    ("controls (dropdowns)", views.controls),
    ("overview", views.overview_view),
    ("quality warnings", views.quality_view),
    ("column table", lambda r: views.columns_view(r, "order")),
    ("histogram amount", lambda r: views.distribution_view(r, "amount")),
    ("histogram log+split+density", lambda r: views.distribution_view(r, "amount", True, True, True)),
    ("category bars merchant_category", lambda r: views.distribution_view(r, "merchant_category")),
    ("correlations pearson", lambda r: views.correlation_view(r, "pearson")),
    ("correlations spearman", lambda r: views.correlation_view(r, "spearman")),
    ("correlations cramers_v", lambda r: views.correlation_view(r, "cramers_v")),
    ("segments country", lambda r: views.segment_view(r, "country")),
    ("segments merchant_id", lambda r: views.segment_view(r, "merchant_id")),
    ("over time", views.time_view),
    ("test groups device_type", lambda r: views.group_choices(r, "device_type")),
    ("test amount legit vs fraud", lambda r: views.test_view(r, "amount")),
    ("test amount pos vs web", lambda r: views.test_view(r, "amount", "device_type", "pos", "web")),
    ("chi-square country", lambda r: views.chi_view(r, "country")),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"Explore sections: cold (own empty cache; the first also loads the frame) and warm; median of {args.runs} runs; {os.cpu_count()} CPUs")
    figures: dict[str, float] = {}
    worst: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="txlab-bench-") as folder:
        for rows in args.rows:
            workspace, dataset_id, describe_s = _dataset(Path(folder) / f"ws-{rows}", rows)
            cold, warm, sizes, page = _time_sections(workspace, dataset_id, Path(folder) / f"cache-{rows}", args.runs)
            _report(rows, cold, warm, sizes, page, describe_s)
            worst[("cold", rows)] = max(cold.values())
            worst[("warm", rows)] = max(warm.values())
            for name, kb in sizes.items():
                figures[name] = max(figures.get(name, 0.0), kb)
            FRAMES.clear()
            gc.collect()
    measured = {
        "cold_1M_max_s": worst.get(("cold", 1_000_000)),
        "warm_1M_max_s": worst.get(("warm", 1_000_000)),
        "cold_5M_max_s": worst.get(("cold", 5_000_000)),
        "fig_max_kb": max(figures.values()) if figures else None,
    }
    parts, ok = [], True
    for name, limit in TARGETS.items():
        value = measured[name]
        if value is None:
            parts.append(f"{name}=n/a (<={limit:g}) NOT MEASURED")
            ok = False
            continue
        hit = value <= limit
        ok &= hit
        parts.append(f"{name}={value:.{1 if name == 'fig_max_kb' else 2}f} (<={limit:g}) {'OK' if hit else 'MISSED'}")
    print("TARGETS " + "; ".join(parts))
    return 0 if ok else 1


def _dataset(folder: Path, rows: int) -> tuple[Workspace, str, float]:
    """A simulated dataset stored and mapped as the pages do it; and describe()'s time on it."""
    start = time.perf_counter()
    frame = generate(SynthConfig(rows=rows, seed=0))
    workspace = Workspace(folder)
    meta = workspace.add_dataset(frame, name=f"bench-{rows}", source="generated")
    mapping = suggest_mapping(frame).to_mapping()
    mapped, report = apply_mapping(frame, mapping)
    workspace.save_mapping(meta.id, mapping, mapped, report.to_dict())
    del frame
    describe_s = statistics.median(_timed(mapped.describe) for _ in range(3))
    print(f"\n{rows:,} rows: generated, mapped and stored in {time.perf_counter() - start:.1f} s "
          f"({len(mapped.columns)} mapped columns); DataFrame.describe() {describe_s * 1000:.0f} ms")
    del mapped
    gc.collect()
    return workspace, meta.id, describe_s


def _time_sections(workspace: Workspace, dataset_id: str, cache_root: Path, runs: int):
    """Per section: cold from its own empty cache (the frame is read by the first section of a run),
    then warm (the same call again). Then the whole page, one section after another, cold and warm."""
    cold: dict[str, list[float]] = {name: [] for name, _ in SECTIONS}
    warm: dict[str, list[float]] = {name: [] for name, _ in SECTIONS}
    page: dict[str, list[float]] = {"cold": [], "warm": []}
    sizes: dict[str, float] = {}
    for run in range(runs):
        FRAMES.clear()
        gc.collect()
        for i, (name, section) in enumerate(SECTIONS):
            with open_results(cache_root / f"run{run}-{i}") as cache:
                cold[name].append(_timed(lambda: section(DatasetResults(workspace, cache, dataset_id))))
                out: list = []
                warm[name].append(_timed(lambda: out.append(section(DatasetResults(workspace, cache, dataset_id)))))
            for j, fig in enumerate(figures_in(out[0])):
                sizes[f"{name} #{j + 1}"] = len(fig.to_json()) / 1024
        FRAMES.clear()
        with open_results(cache_root / f"page{run}") as cache:
            page["cold"].append(_timed(lambda: [s(DatasetResults(workspace, cache, dataset_id)) for _, s in SECTIONS]))
            FRAMES.clear()  # warm means a filled results cache: no frame needed, even in another worker process
            page["warm"].append(_timed(lambda: [s(DatasetResults(workspace, cache, dataset_id)) for _, s in SECTIONS]))
    median = statistics.median
    return {k: median(v) for k, v in cold.items()}, {k: median(v) for k, v in warm.items()}, sizes, {k: median(v) for k, v in page.items()}


def _report(rows: int, cold: dict[str, float], warm: dict[str, float], sizes: dict[str, float], page: dict[str, float], describe_s: float) -> None:
    print(f"  {'section (page callback)':34s} {'cold s':>8s} {'x describe':>10s} {'warm ms':>8s}  figures (KB)")
    for name, _ in SECTIONS:
        figs = ", ".join(f"{kb:.1f}" for key, kb in sizes.items() if key.rsplit(" #", 1)[0] == name) or "-"
        print(f"  {name:34s} {cold[name]:8.3f} {cold[name] / describe_s:10.1f} {warm[name] * 1000:8.1f}  {figs}")
    print(f"  {'whole page, sections in turn':34s} {page['cold']:8.3f} {page['cold'] / describe_s:10.1f} {page['warm'] * 1000:8.1f}  "
          "(one cache; warm with no frame in memory)")


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
