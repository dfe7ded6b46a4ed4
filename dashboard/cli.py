"""The ``txlab`` command: serve the dashboard, generate data, inspect a file."""
from __future__ import annotations

import json
import logging
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
@click.option("--debug/--no-debug", default=None, help=_HELP["debug"] + " [env TXLAB_DEBUG]")
def run(**flags: object) -> None:
    """Serve the dashboard (http://127.0.0.1:8050 by default)."""
    from dashboard.app import create_app

    settings = _settings(flags)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a server's log says what it served
    app = create_app(settings)
    click.echo(f"txlab on http://{settings.host}:{settings.port}  (data: {settings.data_dir})", err=True)
    app.run(host=settings.host, port=settings.port, debug=settings.debug)


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
