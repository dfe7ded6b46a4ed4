"""The ``txlab`` command: serve the dashboard, generate data, inspect a file, train and score."""
from __future__ import annotations

import json
import logging
import math
import re
import sys
from pathlib import Path

import click

from core.errors import TxlabError
from core.settings import SETTINGS, from_env

_HELP = {s.name: s.help for s in SETTINGS}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
def main(verbose: bool) -> None:
    """txlab: the tabular ML loop on transaction data, in your browser."""
    # Scripts read stdout and one-line errors on stderr: only warnings are logged unless asked.
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default=None, help=_HELP["host"] + " [env TXLAB_HOST; default 127.0.0.1]")
@click.option("--port", type=int, default=None, help=_HELP["port"] + " [env TXLAB_PORT; default 8050]")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=_HELP["data_dir"] + " [env TXLAB_DATA_DIR]")
@click.option("--models-dir", type=click.Path(file_okay=False), default=None, help=_HELP["models_dir"] + " [env TXLAB_MODELS_DIR]")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, help=_HELP["cache_dir"] + " [env TXLAB_CACHE_DIR]")
@click.option("--max-upload-mb", type=int, default=None, help=_HELP["max_upload_mb"] + " [env TXLAB_MAX_UPLOAD_MB]")
@click.option("--max-stream-mb", type=int, default=None, help=_HELP["max_stream_mb"] + " [env TXLAB_MAX_STREAM_MB]")
@click.option("--max-columns", type=int, default=None, help=_HELP["max_columns"] + " [env TXLAB_MAX_COLUMNS]")
@click.option("--max-decompressed-mb", type=int, default=None, help=_HELP["max_decompressed_mb"] + " [env TXLAB_MAX_DECOMPRESSED_MB]")
@click.option("--debug/--no-debug", default=None, help=_HELP["debug"] + " [env TXLAB_DEBUG]")
@click.option("--redis", "redis_url", default=None, metavar="URL", help=_HELP["redis_url"] + " [env TXLAB_REDIS_URL]")
@click.option("--auth", type=click.Choice(["auto", "on"]), default=None, help=_HELP["auth"] + " [env TXLAB_AUTH]")
@click.option("--allowed-hosts", default=None, metavar="NAME,...", help=_HELP["allowed_hosts"] + " [env TXLAB_ALLOWED_HOSTS]")
@click.option("--workers", type=int, default=None, help=_HELP["workers"] + " [env TXLAB_WORKERS; default 1]")
@click.option("--trusted-proxies", type=int, default=None, metavar="N", help=_HELP["trusted_proxies"] + " [env TXLAB_TRUSTED_PROXIES; default 0]")
def run(**flags: object) -> None:
    """Serve the dashboard (http://127.0.0.1:8050 by default)."""
    from dashboard.app import create_app
    from dashboard.serve import check_serving, serve

    try:
        settings = check_serving(_settings(flags))  # before create_app: a refused start writes nothing
    except TxlabError as error:
        _fail(str(error))
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a server's log says what it served
    try:
        app = create_app(settings)
    except TxlabError as error:  # e.g. Redis set but unreachable
        _fail(str(error))
    mode = "login required" if settings.accounts_required else "this machine only"
    click.echo(f"txlab on http://{settings.host}:{settings.port}  ({mode}; data: {settings.data_dir})", err=True)
    serve(app, settings)


@main.command()
@click.option("--redis", "redis_url", default=None, metavar="URL", help=_HELP["redis_url"] + " [env TXLAB_REDIS_URL]")
@click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True,
              help="Jobs this worker runs at once, each in its own process.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=_HELP["data_dir"] + " [env TXLAB_DATA_DIR]")
@click.option("--models-dir", type=click.Path(file_okay=False), default=None, help=_HELP["models_dir"] + " [env TXLAB_MODELS_DIR]")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, help=_HELP["cache_dir"] + " [env TXLAB_CACHE_DIR]")
def worker(concurrency: int, **flags: object) -> None:
    """Run the dashboard's background jobs from Redis (start one per machine; same folders, same code as txlab run).

    Each job brings the limits and login rule of the txlab run that queued it; once accounts exist
    in the data folder, every job needs a login.
    """
    from dashboard.worker import run_worker

    settings = _settings(flags)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a worker's log says which jobs it ran
    try:
        run_worker(settings, concurrency=concurrency)
    except TxlabError as error:  # no Redis URL, Redis unreachable, celery not installed
        _fail(str(error))


@main.command("generate")
@click.option("--rows", type=int, required=True, help="Number of transactions.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file.")
@click.option("--fraud-rate", type=float, default=0.01, show_default=True, help="Share of fraudulent transactions.")
@click.option("--users", type=int, default=None, help="Number of users [default: about rows/40].")
@click.option("--merchants", type=int, default=None, help="Number of merchants [default: about users/10].")
@click.option("--days", type=int, default=90, show_default=True, help="Days covered by the timestamps.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True, help="Output file: .csv, .csv.gz or .parquet.")
def generate_command(rows: int, seed: int, fraud_rate: float, users: int | None, merchants: int | None, days: int, out: str) -> None:
    """Write a realistic synthetic transaction file."""
    from core.synth import SynthConfig, generate, write_dataset

    try:
        config = SynthConfig(rows=rows, seed=seed, fraud_rate=fraud_rate, users=users, merchants=merchants, days=days)
        frame = generate(config)
        write_dataset(frame, out)
    except (ValueError, OSError) as error:
        _fail(str(error))
    rate = float(frame["is_fraud"].mean()) if len(frame) else 0.0
    click.echo(f"wrote {len(frame):,} rows ({rate:.2%} fraud) to {out}")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def inspect(path: str, as_json: bool) -> None:
    """Read PATH exactly as the dashboard would and suggest a column mapping."""
    from core.ingest import read_table
    from core.mapping import suggest_mapping

    settings = from_env()
    from core.datasets import limits_from

    try:
        frame, report = read_table(Path(path), name=Path(path).name, limits=limits_from(settings))
    except (TxlabError, OSError) as error:
        _fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    suggestion = suggest_mapping(frame)
    if as_json:
        mapping = {name: {"column": s.column, "confidence": round(s.confidence, 3), "reason": s.reason} for name, s in suggestion.fields.items()}
        payload = {
            "rows": int(len(frame)),
            "columns": [str(c) for c in frame.columns],
            "report": report.to_dict(),
            "mapping": mapping,
            "extra_numeric": suggestion.extra_numeric,
            "extra_categorical": suggestion.extra_categorical,
            "transaction_id": suggestion.transaction_id,
        }
        click.echo(json.dumps(payload, default=str))
        return
    click.echo(f"{path}: {len(frame):,} rows, {frame.shape[1]} columns")
    for line in report.summary_lines():
        click.echo(f"  {line}")
    click.echo("\nSuggested mapping:")
    for name, s in suggestion.fields.items():
        column = s.column if s.column is not None else "(none)"
        click.echo(f"  {name:<12} <- {column:<24} {s.confidence:4.2f}  {s.reason}")
    if suggestion.transaction_id:
        click.echo(f"  {'(id)':<12} <- {suggestion.transaction_id}  kept, never a feature")
    if suggestion.extra_numeric or suggestion.extra_categorical:
        click.echo(f"  extra features: numeric {suggestion.extra_numeric or '-'}; categorical {suggestion.extra_categorical or '-'}")


_DATASET_ID = re.compile(r"^ds-[0-9a-f]{12}$")


def _knob(name: str) -> str:
    """A training option's help: the form's help text and the default."""
    from core.train_config import TRAIN_FIELDS, TrainConfig

    value = TrainConfig().to_dict()[name]
    shown = ",".join(map(str, value)) if isinstance(value, list) else ("on" if value is True else "off" if value is False else value)
    return next(k.help for k in TRAIN_FIELDS if k.name == name) + f" [default: {shown}]"


@main.command("train")
@click.argument("source", metavar="FILE|DATASET_ID")
@click.option("--mapping", "mapping_ref", default=None, metavar="auto|MAPPING.json",
              help="How to map a FILE's columns: 'auto' (the suggested mapping) or a JSON file in ColumnMapping form "
                   "[default: auto for a file; the saved mapping for a dataset].")
@click.option("--epochs", type=int, default=None, help=_knob("epochs"))
@click.option("--batch-size", type=int, default=None, help=_knob("batch_size"))
@click.option("--learning-rate", type=float, default=None, help=_knob("learning_rate"))
@click.option("--embedding-dim", type=int, default=None, help=_knob("embedding_dim"))
@click.option("--hidden-layers", default=None, metavar="128,64", help=_knob("hidden_layers"))
@click.option("--dropout", type=float, default=None, help=_knob("dropout"))
@click.option("--weight-decay", type=float, default=None, help=_knob("weight_decay"))
@click.option("--validation-days", type=int, default=None, help=_knob("validation_days"))
@click.option("--label-delay", "label_delay_days", type=int, default=None, help=_knob("label_delay_days"))
@click.option("--patience", type=int, default=None, help=_knob("patience"))
@click.option("--seed", type=int, default=None, help=_knob("seed"))
@click.option("--baselines/--no-baselines", default=None, help=_knob("baselines"))
@click.option("--behaviour/--no-behaviour", "behaviour_features", default=None, help=_knob("behaviour_features"))
@click.option("--json", "as_json", is_flag=True, help="Epoch lines to stderr; the last line of stdout is one JSON object.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=_HELP["data_dir"] + " [env TXLAB_DATA_DIR]")
@click.option("--models-dir", type=click.Path(file_okay=False), default=None, help=_HELP["models_dir"] + " [env TXLAB_MODELS_DIR]")
def train_command(source: str, mapping_ref: str | None, as_json: bool, data_dir: str | None, models_dir: str | None, **knobs: object) -> None:
    """Train a fraud model on FILE (imported and mapped first) or on a stored DATASET_ID.

    Prints one line per epoch and the baselines, then the saved version and its metrics.
    Exit status 1 when the run fails or is cancelled, 2 for bad input.
    """
    from core.train import TrainConfig
    from core.training_job import run_training
    from core.workspace import Workspace

    settings = _settings({"data_dir": data_dir, "models_dir": models_dir})
    try:
        config = TrainConfig.from_dict({k: v for k, v in knobs.items() if v is not None})
    except ValueError as error:
        _fail(str(error))
    workspace = Workspace(settings.data_dir)
    out = sys.stderr if as_json else sys.stdout
    try:
        dataset_id = _training_dataset(workspace, source, mapping_ref, settings)
        record = run_training(workspace=workspace, models_dir=settings.models_dir, dataset_id=dataset_id, config=config,
                              on_event=lambda event: _print_event(event, config.top_k, out))
    except (TxlabError, OSError) as error:
        _fail(_one_line(error))
    if record.status != "finished":
        click.echo(f"txlab: training {record.status}: {record.message or 'no model was saved'}", err=True)
        sys.exit(1)
    metrics, baselines = _version_metrics(settings.models_dir, record)
    if as_json:
        click.echo(json.dumps({"version": record.version, "metrics": _json_safe(metrics), "baseline": _json_safe(baselines),
                               "run": record.id, "dataset": dataset_id}))
        return
    click.echo(f"version {record.version}  " + _metrics_text(metrics, config.top_k))


@main.command("score")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--model", "model_ref", required=True, metavar="VERSION|active", help="The model version id, or 'active'.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output file: .csv or .parquet, the input rows plus fraud_score.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=_HELP["data_dir"] + " [env TXLAB_DATA_DIR]")
@click.option("--models-dir", type=click.Path(file_okay=False), default=None, help=_HELP["models_dir"] + " [env TXLAB_MODELS_DIR]")
def score_command(path: str, model_ref: str, out: str, data_dir: str | None, models_dir: str | None) -> None:
    """Score every row of FILE with a stored model and write it with a fraud_score column."""
    from core.datasets import limits_from
    from core.scoring import score_file

    settings = _settings({"data_dir": data_dir, "models_dir": models_dir})
    try:
        summary = score_file(Path(path), models_dir=settings.models_dir, model_ref=model_ref, out=Path(out), limits=limits_from(settings))
    except (TxlabError, OSError) as error:
        _fail(_one_line(error))
    click.echo(f"scored {summary.rows:,} rows with {summary.version} -> {summary.out}  "
               f"(mean score {summary.mean_score:.4f}, {summary.flagged:,} at 0.5 or above)")


_DATA_DIR_OPTION = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                                help=_HELP["data_dir"] + " (accounts live in DATA_DIR/.txlab) [env TXLAB_DATA_DIR]")


@main.group("users")
def users_group() -> None:
    """Accounts that may log in when txlab is shared on the LAN (there is no self-signup)."""


@users_group.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="An admin sees and manages everyone's datasets, models and runs.")
@_DATA_DIR_OPTION
@click.option("--models-dir", type=click.Path(file_okay=False), default=None,
              help=_HELP["models_dir"] + " (to find what an earlier user of this name left) [env TXLAB_MODELS_DIR]")
def users_add(name: str, admin: bool, data_dir: str | None, models_dir: str | None) -> None:
    """Create user NAME. The password is asked twice on a terminal, else read as one line of stdin.

    When an earlier, removed user of the same name still owns datasets, model versions or runs,
    a warning on stderr says so: the new user owns them too.
    """
    settings = _settings({"data_dir": data_dir, "models_dir": models_dir})
    store = _account_store(settings)
    try:
        store.check_new_name(name)  # before the password is typed: a bad or taken name fails at once
        account = store.add(name, _read_password(), admin=admin)
    except TxlabError as error:
        _fail(str(error))
    click.echo(f"added {'admin ' if account.admin else ''}{account.name}")
    leftover = _owned_already(account.name, settings)
    if leftover:
        click.echo(f"txlab: warning: {account.name} already owns {leftover} from an earlier user of that name; "
                   f"the new {account.name} sees and changes them", err=True)


@users_group.command("list")
@_DATA_DIR_OPTION
def users_list(data_dir: str | None) -> None:
    """Print every user: name, admin or not, when created."""
    try:
        accounts = _account_store(_settings({"data_dir": data_dir})).list()
    except TxlabError as error:
        _fail(str(error))
    if not accounts:
        click.echo("no users (add one with: txlab users add NAME --admin)", err=True)
        return
    width = max(len("name"), *(len(a.name) for a in accounts))
    click.echo(f"{'name':<{width}}  admin  created")
    for account in accounts:
        click.echo(f"{account.name:<{width}}  {'yes' if account.admin else 'no':<5}  {account.created}")


@users_group.command("remove")
@click.argument("name")
@_DATA_DIR_OPTION
def users_remove(name: str, data_dir: str | None) -> None:
    """Delete user NAME; their open sessions end at once. What they own stays."""
    try:
        _account_store(_settings({"data_dir": data_dir})).remove(name)
    except TxlabError as error:
        _fail(str(error))
    click.echo(f"removed {name}")


@users_group.command("passwd")
@click.argument("name")
@_DATA_DIR_OPTION
def users_passwd(name: str, data_dir: str | None) -> None:
    """Set a new password for NAME (asked twice, or one line of stdin); their open sessions end."""
    store = _account_store(_settings({"data_dir": data_dir}))
    try:
        store.require(name)  # before the password is typed
        store.set_password(name, _read_password())
    except TxlabError as error:
        _fail(str(error))
    click.echo(f"password changed for {name}; their open sessions have ended")


def _account_store(settings):
    """The user store of the data folder (created 0700 when it does not exist yet)."""
    from core.accounts import AccountStore
    from core.secret import private_folder

    private_folder(settings.data_dir)
    return AccountStore.for_state_folder(settings.state_folder)


def _owned_already(name: str, settings) -> str:
    """What ``name`` owns in the data and models folders, as "2 datasets and 1 model version"; empty when nothing."""
    try:
        counts = _owned_counts(name, settings)
    except (TxlabError, OSError) as error:  # the account exists by now: a count that fails is only a lost warning
        logging.getLogger(__name__).warning("cannot count what %s owns: %s", name, error)
        return ""
    parts = [f"{count} {noun}{'s' if count != 1 else ''}" for noun, count in counts.items() if count]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _owned_counts(name: str, settings) -> dict[str, int]:
    """How many datasets, model versions and training runs are owned by ``name``, whoever may see them."""
    from core.workspace import Workspace

    counts = {"dataset": len(Workspace(settings.data_dir).list_datasets(owner=name))}
    if settings.models_dir.is_dir():  # the registry imports torch: not worth it for a folder not made yet
        from core.registry import ModelRegistry
        from core.runs import RunStore

        counts["model version"] = len(ModelRegistry(settings.models_dir).list_versions(owner=name))
        counts["training run"] = len(RunStore(settings.models_dir).list_runs(owner=name, limit=sys.maxsize))
    return counts


def _read_password() -> str:
    """Prompted twice (hidden) on a terminal; otherwise one line of standard input, for scripts."""
    if _interactive():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        _fail("no password: type it on a terminal, or give it as one line on standard input")
    return line.rstrip("\r\n")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _training_dataset(workspace, source: str, mapping_ref: str | None, settings) -> str:
    """The id of a mapped dataset for ``source``: a stored dataset, or a file imported and mapped now."""
    from core.datasets import import_table, limits_from

    path = Path(source)
    if _DATASET_ID.match(source) and not path.is_file():
        meta = workspace.get(source)
        if mapping_ref is not None:
            _map(workspace, meta.id, mapping_ref)
        return meta.id
    if not path.is_file():
        raise TxlabError(f"{source}: no such file, and not a dataset id (ds-...)")
    result = import_table(workspace, path, name=path.name, origin="cli", limits=limits_from(settings))
    click.echo(f"imported {path.name}: {result.meta.rows:,} rows as {result.meta.id}", err=True)
    try:
        _map(workspace, result.meta.id, mapping_ref or "auto")
    except BaseException:
        workspace.delete(result.meta.id)  # an unmapped copy would only clutter the Data page
        raise
    return result.meta.id


def _map(workspace, dataset_id: str, mapping_ref: str) -> None:
    """Apply and save the mapping ('auto' or a JSON file); ``MappingError`` listing every error otherwise."""
    from core.datasets import map_dataset
    from core.errors import MappingError
    from core.mapping import suggest_mapping
    from core.schema import ColumnMapping

    if mapping_ref == "auto":
        mapping = suggest_mapping(workspace.load_frame(dataset_id)).to_mapping()
    else:
        try:
            mapping = ColumnMapping.from_dict(json.loads(Path(mapping_ref).read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise MappingError(f"{mapping_ref} is not valid JSON ({error.msg} at line {error.lineno}).") from None
    report, saved = map_dataset(workspace, dataset_id, mapping, save=True)
    if saved is None:
        errors = [m.text for m in report.messages if m.level == "error"]
        raise MappingError("The mapping cannot be used: " + " ".join(errors))
    click.echo(f"mapped {report.rows_out:,} rows ({report.positives:,} fraud)", err=True)


def _print_event(event: dict, top_k: int, out) -> None:
    kind = event.get("type")
    if kind == "epoch":
        line = (f"epoch {event['epoch']}/{event['epochs']}  loss {_num(event.get('train_loss'), 4)}  val_loss {_num(event.get('val_loss'), 4)}  "
                + _metrics_text(event, top_k) + f"  {_rate(event.get('rows_per_s'))} rows/s")
        click.echo(line + ("  *" if event.get("best") else ""), file=out)
    elif kind == "baseline":
        click.echo(f"baseline {event['name']}  " + _metrics_text(event.get("metrics") or {}, top_k)
                   + f"  ({_num((event.get('metrics') or {}).get('fit_s'), 1)} s)", file=out)
    elif kind == "stage":
        click.echo(f"... {event.get('stage')}", err=True)
    elif kind == "started":
        click.echo(f"run {event.get('run_id')}: up to {event.get('epochs')} epochs", err=True)
    out.flush()


def _metrics_text(m: dict, top_k: int) -> str:
    return (f"auc {_num(m.get('roc_auc'), 3)}  ap {_num(m.get('average_precision'), 3)}  "
            f"p@{top_k} {_num(m.get('precision_at_k'), 2)}  r@1%fpr {_num(m.get('recall_at_1pct_fpr'), 2)}")


def _version_metrics(models_dir: Path, record) -> tuple[dict, dict]:
    from core.registry import ModelRegistry

    info = ModelRegistry(models_dir).get_info(record.version)
    return dict(info.metrics or {}), dict(info.baselines or record.baselines or {})


def _num(value, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and math.isfinite(value) else "n/a"


def _rate(value) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"{value / 1e6:.1f}M" if value >= 1e6 else f"{value / 1e3:.0f}k" if value >= 1e3 else f"{value:.0f}"


def _json_safe(value):
    """NaN and infinities as null: strict JSON for scripts."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return " ".join(text.splitlines()) if text else type(error).__name__


def _settings(flags: dict):
    try:
        return from_env().with_overrides(**flags)
    except ValueError as error:
        _fail(str(error))


def _fail(message: str) -> None:
    click.echo(f"txlab: {message}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
