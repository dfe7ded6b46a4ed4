"""Many users at once: logged-in users browse Explore and score rows on Predict while a model trains.

Run: ``.venv/bin/python benchmarks/load.py [--users 20] [--seconds 60] [--rows 200000] [--workers 1] [--think 0.5]``

Set-up (not timed): a temporary data folder gets a simulated dataset of ``--rows`` rows, mapped,
and a short model trained on it; both are shared, so every user may explore and score with them.
``--users`` accounts are made (not admins), then the real server starts as a user would start it:
``txlab run --auth on`` on loopback (waitress; ``--workers`` above 1: gunicorn). One training run
(``txlab train``, 500 epochs, in its own process, restarted if it ever ends) keeps the CPU busy for
the whole measurement.

Each simulated user is one thread with its own cookie session. It logs in through the login form
(CSRF token and all), then until time is up repeats what a person does: open Explore (the page,
Dash's layout, the page content, then every callback the page fires on load, with the dataset id
as the ``app-dataset`` store value), change the distribution column and the correlation method,
go to Predict (page content, version list, form) and score a few rows, each with a different
amount and category; between actions it waits ``--think`` seconds on average. Callback request
bodies are built from the server's own ``/_dash-dependencies``, as the browser builds them.

A request is an error unless it answers HTTP 200 with what the page expects (e.g. a probability
for a score); a callback that answers with a red error alert counts as an error too. Printed: per
endpoint, requests, errors, median and 95th percentile latency; requests per second overall; the
first few errors and any traceback in the server log. The last line is ``TARGETS errors=0 (==0) OK;
p95_ms ...`` (p95 per endpoint for information); exit status 1 when any request failed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.accounts import AccountStore  # noqa: E402
from core.datasets import generate_dataset, map_dataset  # noqa: E402
from core.mapping import suggest_mapping  # noqa: E402
from core.registry import ModelRegistry  # noqa: E402
from core.runs import RunStore  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.synth import SynthConfig  # noqa: E402
from core.train import TrainConfig  # noqa: E402
from core.training_job import run_training  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from dashboard.explore_views import CORRELATION_METHODS, SORTS  # noqa: E402
from dashboard.predict_views import CAT, NUM, TIME  # noqa: E402

TXLAB = Path(sys.executable).with_name("txlab")
PASSWORD = "load-test-password"
TIMEOUT_S = 120  # one request; a slower answer counts as an error
SCORES_PER_VISIT = 3
SHOW_ERRORS = 5
TRAIN_EPOCHS = 500  # the most TrainConfig allows; with patience as large, the run never stops early

#: The callbacks a user fires, by their first output (without an ``@`` suffix), and the name shown.
PAGES = "_pages_content.children"
EXPLORE_ON_LOAD = {
    "explore-status.children": "explore controls",
    "explore-overview.children": "explore overview",
    "explore-quality.children": "explore quality",
    "explore-columns.children": "explore columns",
    "explore-dist.children": "explore distribution",
    "explore-corr.children": "explore correlations",
    "explore-segment.children": "explore segments",
    "explore-time.children": "explore time",
    "explore-test-groups.hidden": "explore test groups",
    "explore-test.children": "explore test",
    "explore-chi.children": "explore chi-square",
}
PREDICT_VERSIONS = "predict-version.options"
PREDICT_FORM = "predict-form.children"
PREDICT_SCORE = "predict-result.children"
NAMES = {PAGES: "page content", **EXPLORE_ON_LOAD, PREDICT_VERSIONS: "predict versions",
         PREDICT_FORM: "predict form", PREDICT_SCORE: "predict score"}


class CheckFailed(Exception):
    """A response that arrived but is not what the page expects."""


# --- measurements -------------------------------------------------------------------------------


@dataclass
class Stats:
    """Requests, latencies and errors per endpoint, shared by every user thread."""

    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, seconds: float | None, problem: str | None = None) -> None:
        """One request: its latency (None when no answer came) and what was wrong with it, if anything."""
        with self._lock:
            self.requests[endpoint] += 1
            if seconds is not None:
                self.latencies[endpoint].append(seconds)
            if problem is not None:
                self.errors[endpoint] += 1
                if len(self.first_errors) < SHOW_ERRORS:
                    self.first_errors.append(f"{endpoint}: {problem}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# --- Dash callbacks as the browser sends them -------------------------------------------------------


def split_outputs(output: str) -> list[tuple[str, str]]:
    """``(id, property)`` of each output in a dependency's output string (``..a.p...b.q..`` or ``a.p``)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [tuple(part.rsplit(".", 1)) for part in parts]


def _clean(prop: str) -> str:
    return prop.split("@", 1)[0]  # allow_duplicate outputs carry an "@hash" suffix


@dataclass
class Component:
    """A component with a pattern-matching id (a Predict form field) and its current props."""

    id: dict
    props: dict


class Callbacks:
    """The app's server-side callbacks from ``/_dash-dependencies``, and request bodies built from them."""

    def __init__(self, dependencies: list[dict]) -> None:
        self.by_key: dict[str, dict] = {}
        for dep in dependencies:
            if dep.get("clientside_function"):
                continue
            first_id, first_prop = split_outputs(dep["output"])[0]
            self.by_key.setdefault(f"{first_id}.{_clean(first_prop)}", dep)
        missing = [key for key in NAMES if key not in self.by_key]
        if missing:
            raise SystemExit(f"the app has no callback for {missing}: update benchmarks/load.py")

    def body(self, key: str, values: dict[tuple[str, str], object], components: list[Component]) -> dict:
        """The JSON the renderer posts to fire callback ``key`` with these input and state values.

        ``values`` holds plain ids' props; an ``ALL`` wildcard is sent as the list of matching
        ``components`` (``{id, property, value}`` each), as the renderer does.
        """
        dep = self.by_key[key]
        outputs = [self._spec(i, p, None, components, with_value=False) for i, p in split_outputs(dep["output"])]
        inputs = [self._spec(s["id"], s["property"], values, components) for s in dep["inputs"]]
        state = [self._spec(s["id"], s["property"], values, components) for s in dep.get("state", [])]
        first = dep["inputs"][0]
        return {
            "output": dep["output"],
            "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": inputs,
            "state": state,
            "changedPropIds": [f"{first['id']}.{first['property']}"],
        }

    @staticmethod
    def _spec(id_: str, prop: str, values: dict | None, components: list[Component], with_value: bool = True) -> dict | list[dict]:
        """One input, state or output as the renderer sends it: a dict, or a list of them for a wildcard."""
        if not id_.startswith("{"):
            spec = {"id": id_, "property": prop}
            if with_value:
                spec["value"] = values.get((id_, prop))
            return spec
        pattern = json.loads(id_)
        fixed = {k: v for k, v in pattern.items() if not isinstance(v, list)}
        matching = [c for c in components if all(c.id.get(k) == v for k, v in fixed.items())]
        specs = []
        for c in matching:
            spec = {"id": c.id, "property": prop}
            if with_value:
                spec["value"] = c.id if prop == "id" else c.props.get(prop)
            specs.append(spec)
        return specs


def walk(tree):
    """Every component dict in a serialised layout (children and component-valued props included)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "props" in node and "type" in node:
                yield node
                stack.extend(node["props"].values())
            else:
                stack.extend(node.values())


def find(tree, id_) -> dict | None:
    """The props of the component with id ``id_`` in ``tree``, or None."""
    return next((node["props"] for node in walk(tree) if node["props"].get("id") == id_), None)


def alert_text(tree) -> str | None:
    """The text of the first red alert in ``tree`` (the page shows an error), or None.

    Yellow alerts are content (a test's caveats, a value new to the model); a dataset that cannot be
    explored is caught by the controls check, which wants the "Dataset: ..." line.
    """
    for node in walk(tree):
        if node["type"] == "Alert" and node["props"].get("color") == "danger":
            return "".join(texts(node))[:300] or "an alert"
    return None


def texts(node):
    """The strings a component shows, in order."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for child in node:
            yield from texts(child)
    elif isinstance(node, dict) and "props" in node:
        yield from texts(node["props"].get("children"))


# --- one simulated user ---------------------------------------------------------------------------


class User:
    """One person in a browser: a cookie session, the page state the browser would hold, a think time."""

    def __init__(self, name: str, base: str, callbacks: Callbacks, dataset_id: str, stats: Stats, think_s: float, seed: int) -> None:
        self.name, self.base, self.callbacks, self.stats = name, base, callbacks, stats
        self.think_s = think_s
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.values: dict[tuple[str, str], object] = {("app-dataset", "data"): dataset_id}
        self.components: list[Component] = []
        self.dist_columns: list[str] = []

    def run(self, deadline: float) -> None:
        """Log in, then browse and score until ``deadline``; a failed login ends this user."""
        if not self.log_in():
            return
        while time.monotonic() < deadline:
            self.visit_explore()
            self.pause()
            self.play_with_explore()
            self.pause()
            if time.monotonic() >= deadline:
                break
            if self.visit_predict():
                for _ in range(SCORES_PER_VISIT):
                    self.pause()
                    self.score_a_row()
            self.pause()

    def pause(self) -> None:
        time.sleep(self.rng.uniform(0, 2 * self.think_s))

    # -- requests --

    def request(self, endpoint: str, method: str, path: str, check, **kwargs) -> object | None:
        """Send one request, time it, and record it; ``check(response)`` returns what the caller needs
        or raises ``CheckFailed``. Returns None for any failure."""
        start = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as error:
            self.stats.record(endpoint, None, f"no answer ({type(error).__name__}: {error})")
            return None
        elapsed = time.perf_counter() - start
        try:
            if response.status_code != 200:
                raise CheckFailed(f"HTTP {response.status_code} {response.text[:200]!r}")
            result = check(response)
        except (CheckFailed, ValueError, KeyError, TypeError) as error:
            self.stats.record(endpoint, elapsed, str(error) or type(error).__name__)
            return None
        self.stats.record(endpoint, elapsed)
        return result

    def fire(self, key: str, check) -> object | None:
        """Post callback ``key`` with the browser's current values; ``check(outputs)`` judges the answer."""
        body = self.callbacks.body(key, self.values, self.components)

        def judge(response):
            outputs = response.json()["response"]
            problem = alert_text(outputs)
            if problem:
                raise CheckFailed(f"error alert: {problem}")
            return check(outputs)

        return self.request(NAMES[key], "POST", "/_dash-update-component", judge, json=body)

    # -- what the person does --

    def log_in(self) -> bool:
        def token(response):
            match = re.search(r'name="csrf" value="([^"]+)"', response.text)
            if not match:
                raise CheckFailed("no CSRF token in the login form")
            return match.group(1)

        def logged_in(response):
            if not response.url.endswith("/explore") or "txlab_session" not in self.http.cookies:
                raise CheckFailed(f"still not logged in (landed on {response.url})")
            return True

        csrf = self.request("GET /login", "GET", "/login?next=/explore", token)
        if csrf is None:
            return False
        form = {"csrf": csrf, "username": self.name, "password": PASSWORD, "next": "/explore"}
        return bool(self.request("POST /login", "POST", "/login", logged_in, data=form))

    def open_page(self, path: str, content_id: str) -> bool:
        """What a click on a navbar link does: the pages callback renders ``path``'s layout."""
        self.values[("_pages_location", "pathname")] = path
        self.values[("_pages_location", "search")] = ""

        def rendered(outputs):
            if find(outputs["_pages_content"]["children"], content_id) is None:
                raise CheckFailed(f"the page content has no {content_id}")
            return True

        return bool(self.fire(PAGES, rendered))

    def visit_explore(self) -> None:
        """Load /explore from the address bar: the page, Dash's layout, then every callback it fires."""
        self.request("GET /explore", "GET", "/explore", _is_dash_index)
        self.request("GET /_dash-layout", "GET", "/_dash-layout", self._layout_names_me)
        if not self.open_page("/explore", "explore-body"):
            return
        self.values.update({("explore-columns-sort", "value"): "order", ("explore-dist-split", "value"): False,
                            ("explore-dist-norm", "value"): "counts", ("explore-corr-method", "value"): "pearson"})
        if not self.fire("explore-status.children", self._take_controls):
            return
        for key in list(EXPLORE_ON_LOAD)[1:]:
            self.fire(key, self._output_of(key))

    def play_with_explore(self) -> None:
        """Another column's distribution, another correlation method, another column sort."""
        if self.dist_columns:
            self.values[("explore-dist-column", "value")] = self.rng.choice(self.dist_columns)
            self.values[("explore-dist-log", "value")] = False
            self.fire("explore-dist.children", self._output_of("explore-dist.children"))
        self.values[("explore-corr-method", "value")] = self.rng.choice(list(CORRELATION_METHODS))
        self.fire("explore-corr.children", self._output_of("explore-corr.children"))
        self.values[("explore-columns-sort", "value")] = self.rng.choice(list(SORTS))
        self.fire("explore-columns.children", self._output_of("explore-columns.children"))

    def visit_predict(self) -> bool:
        """Go to Predict: its content, the version list, then the chosen version's form."""
        if not self.open_page("/predict", "predict-form"):
            return False
        self.values[("predict-version", "value")] = None
        version = self.fire(PREDICT_VERSIONS, _chosen_version)
        if not version:
            return False
        self.values[("predict-version", "value")] = version
        return bool(self.fire(PREDICT_FORM, self._take_form))

    def score_a_row(self) -> None:
        """Change the amount and a category in the form, then press Score."""
        for c in self.components:
            if c.id["type"] == NUM and c.id["name"] == "amount":
                c.props["value"] = f"{self.rng.lognormvariate(3.5, 1.2):.2f}"
            elif c.id["type"] == CAT and c.props.get("options"):
                c.props["value"] = self.rng.choice(c.props["options"])["value"]
        self.values[("predict-score", "n_clicks")] = int(self.values.get(("predict-score", "n_clicks")) or 0) + 1
        self.fire(PREDICT_SCORE, _probability)

    # -- reading answers --

    def _layout_names_me(self, response) -> bool:
        if f'"{self.name}"' not in response.text:
            raise CheckFailed("the layout does not name the logged-in user")
        return True

    def _take_controls(self, outputs) -> bool:
        """Keep what the controls callback set (dropdown options and values), as the browser would."""
        if find(outputs["explore-status"]["children"], "explore-dataset") is None:
            raise CheckFailed("the dataset is not shown as explored")
        for id_, props in outputs.items():
            for prop, value in props.items():
                self.values[(id_, prop)] = value
        self.dist_columns = [o["value"] for o in outputs["explore-dist-column"]["options"]]
        if not self.dist_columns:
            raise CheckFailed("no columns offered for distributions")
        return True

    def _output_of(self, key: str):
        """A check that the callback answered its first output, keeping every value it set."""
        first_id, first_prop = key.rsplit(".", 1)

        def check(outputs):
            if first_prop not in outputs.get(first_id, {}):
                raise CheckFailed(f"no {key} in the answer")
            for id_, props in outputs.items():
                for prop, value in props.items():
                    if prop != "children":  # control values and options, as the browser keeps them
                        self.values[(id_, prop)] = value
            return True

        return check

    def _take_form(self, outputs) -> bool:
        fields = [Component(dict(node["props"]["id"]), dict(node["props"])) for node in walk(outputs["predict-form"]["children"])
                  if isinstance(node["props"].get("id"), dict) and node["props"]["id"].get("type") in (CAT, NUM, TIME)]
        if not fields or outputs["predict-score"]["disabled"]:
            raise CheckFailed("the Predict form has no fields or Score is disabled")
        self.components = fields
        self.values[("predict-threshold", "value")] = outputs["predict-threshold"]["value"]
        return True


def _is_dash_index(response) -> bool:
    if 'id="react-entry-point"' not in response.text:
        raise CheckFailed("not the dashboard's page")
    return True


def _chosen_version(outputs) -> str:
    version = outputs["predict-version"]["value"]
    if not version:
        raise CheckFailed("no model version offered")
    return version


def _probability(outputs) -> float:
    shown = find(outputs["predict-result"]["children"], "predict-probability")
    if shown is None:
        raise CheckFailed("no probability in the result")
    probability = float(str(shown["children"]).rstrip("%")) / 100
    if not 0 <= probability <= 1:
        raise CheckFailed(f"a probability of {shown['children']}")
    return probability


# --- set-up: data, model, accounts, processes -------------------------------------------------------


def prepare(data: Path, models: Path, rows: int) -> str:
    """A mapped simulated dataset and a short-trained model on it, both shared; the dataset id."""
    workspace = Workspace(data)
    meta = generate_dataset(workspace, SynthConfig(rows=rows), owner="admin")
    map_dataset(workspace, meta.id, suggest_mapping(workspace.load_frame(meta.id)).to_mapping())
    workspace.share(meta.id, True)
    record = run_training(workspace=workspace, models_dir=models, dataset_id=meta.id, owner="admin",
                          config=TrainConfig(epochs=1, patience=1, baselines=False))
    if record.status != "finished":
        raise SystemExit(f"the set-up training run did not finish: {record.status} {record.message}")
    ModelRegistry(models).share(record.version, True)
    return meta.id


def create_accounts(data: Path, users: int) -> list[str]:
    """An admin who owns the data, and ``users`` ordinary users who see it because it is shared."""
    store = AccountStore.for_state_folder(Settings(data_dir=data).state_folder)
    store.add("admin", PASSWORD, admin=True)
    names = [f"user{i:02d}" for i in range(1, users + 1)]
    for name in names:
        store.add(name, PASSWORD)
    return names


def start_server(data: Path, models: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    command = [str(TXLAB), "run", "--host", "127.0.0.1", "--port", str(port), "--auth", "on",
               "--data-dir", str(data), "--models-dir", str(models), "--workers", str(workers)]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"txlab run exited with status {server.returncode} before answering")
        try:
            if requests.get(base + "/login", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit("txlab run did not answer within 90 s")


class Trainer:
    """``txlab train`` on the dataset in its own process, started again whenever it ends."""

    def __init__(self, data: Path, models: Path, dataset_id: str, log: Path) -> None:
        self.command = [str(TXLAB), "train", dataset_id, "--epochs", str(TRAIN_EPOCHS), "--patience", str(TRAIN_EPOCHS),
                        "--data-dir", str(data), "--models-dir", str(models)]
        self.log = log
        self.runs_store = RunStore(models)
        self.process: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.runs += 1

    def wait_running(self) -> None:
        """Until the run is recorded as running (its features are being built or it trains)."""
        deadline = time.monotonic() + 120
        while not self.runs_store.running() and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"txlab train exited with status {self.process.returncode}: see {self.log}")
            time.sleep(0.1)

    def keep_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.start()

    @property
    def epochs(self) -> int:
        return sum(1 for line in self.log.read_text(errors="replace").splitlines() if line.startswith("epoch "))

    def stop(self) -> None:
        stop(self.process)


def stop(process: subprocess.Popen | None) -> None:
    """End a process this benchmark started, and its children (gunicorn workers, jobs)."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the run ------------------------------------------------------------------------------------------


def measure(base: str, names: list[str], dataset_id: str, trainer: Trainer, seconds: float, think_s: float) -> tuple[Stats, float]:
    """Every user in its own thread for ``seconds``; the stats and the wall time taken."""
    callbacks = Callbacks(_logged_in(base, names[0]).get(base + "/_dash-dependencies", timeout=30).json())
    stats = Stats()
    start = time.monotonic()
    deadline = start + seconds
    users = [User(name, base, callbacks, dataset_id, stats, think_s, seed=i) for i, name in enumerate(names)]
    threads = [threading.Thread(target=u.run, args=(deadline,), daemon=True) for u in users]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        trainer.keep_running()
        time.sleep(0.5)
    return stats, time.monotonic() - start


def _logged_in(base: str, name: str) -> requests.Session:
    """A session logged in as ``name``, to read the dependencies (every /_dash-* route needs a login)."""
    http = requests.Session()
    csrf = re.search(r'name="csrf" value="([^"]+)"', http.get(base + "/login", timeout=30).text).group(1)
    http.post(base + "/login", data={"csrf": csrf, "username": name, "password": PASSWORD, "next": "/"}, timeout=30)
    return http


def report(stats: Stats, wall_s: float, args, trainer: Trainer, server_log: Path) -> int:
    total, errors = sum(stats.requests.values()), sum(stats.errors.values())
    print(f"{args.users} users for {args.seconds:.0f} s on loopback ({args.rows:,} rows, {args.workers} server process(es), "
          f"think {args.think:.1f} s); training ran {trainer.epochs} epochs in {trainer.runs} run(s) meanwhile")
    print(f"  {'endpoint':<22} {'requests':>8} {'errors':>6} {'median ms':>10} {'p95 ms':>8}")
    for endpoint in sorted(stats.requests, key=_order):
        times = stats.latencies[endpoint]
        print(f"  {endpoint:<22} {stats.requests[endpoint]:>8} {stats.errors[endpoint]:>6} "
              f"{_ms(statistics.median(times) if times else float('nan')):>10} {_ms(percentile(times, 0.95)):>8}")
    print(f"  {'all':<22} {total:>8} {errors:>6}   {total / wall_s:.1f} requests/s over {wall_s:.1f} s")
    for line in stats.first_errors:
        print(f"  error: {line}")
    tracebacks = [line for line in server_log.read_text(errors="replace").splitlines() if "Traceback" in line or " ERROR " in line]
    for line in tracebacks[:SHOW_ERRORS]:
        print(f"  server log: {line}")
    ok = errors == 0 and total > 0
    p95 = " ".join(f"{e.replace(' ', '_')}={_ms(percentile(stats.latencies[e], 0.95))}" for e in sorted(stats.requests, key=_order))
    print(f"TARGETS errors={errors} (==0) {'OK' if ok else 'MISSED'}; p95_ms {p95}")
    return 0 if ok else 1


def _order(endpoint: str) -> tuple[int, str]:
    ordered = ["GET /login", "POST /login", "GET /explore", "GET /_dash-layout", *NAMES.values()]
    return (ordered.index(endpoint) if endpoint in ordered else len(ordered), endpoint)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f}" if seconds == seconds else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="simulated logged-in users")
    parser.add_argument("--seconds", type=float, default=60, help="how long they browse")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the simulated dataset")
    parser.add_argument("--workers", type=int, default=1, help="server processes (above 1: gunicorn)")
    parser.add_argument("--think", type=float, default=0.5, help="mean seconds a user waits between actions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="txlab-bench-load-") as tmp:
        data, models = Path(tmp) / "data", Path(tmp) / "models"
        print(f"preparing {args.rows:,} rows, a model and {args.users} accounts ...", flush=True)
        dataset_id = prepare(data, models, args.rows)
        names = create_accounts(data, args.users)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = Path(tmp) / "server.log"
        trainer = Trainer(data, models, dataset_id, Path(tmp) / "train.log")
        server = None
        try:
            server = start_server(data, models, port, args.workers, server_log)
            wait_until_up(base, server)
            trainer.start()
            trainer.wait_running()
            stats, wall_s = measure(base, names, dataset_id, trainer, args.seconds, args.think)
            alive = trainer.process.poll() is None
        finally:
            trainer.stop()
            stop(server)
        if not alive:
            print("warning: the training run was not running at the end")
        return report(stats, wall_s, args, trainer, server_log)


if __name__ == "__main__":
    sys.exit(main())
