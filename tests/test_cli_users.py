"""`txlab users ...` as a person or a script uses it, and `txlab run` refusing unsafe starts."""
import os
import stat

import pytest
from click.testing import CliRunner

from core.accounts import AccountStore
from dashboard.cli import main


@pytest.fixture
def runner():
    return CliRunner()


def _store(data_dir) -> AccountStore:
    return AccountStore.for_state_folder(data_dir / ".txlab")


def test_a_script_adds_users_with_the_password_on_stdin(runner, tmp_path):
    data = tmp_path / "data"
    result = runner.invoke(main, ["users", "add", "ana", "--admin", "--data-dir", str(data)], input="correct horse\n")
    assert result.exit_code == 0, result.output
    assert "added admin ana" in result.output
    assert _store(data).verify("ana", "correct horse") is not None
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    listing = runner.invoke(main, ["users", "list", "--data-dir", str(data)])
    assert listing.exit_code == 0
    row = next(line for line in listing.output.splitlines() if line.startswith("ana"))
    assert row.split()[:2] == ["ana", "yes"] and row.split()[2].startswith("20")


def test_passwd_and_remove(runner, tmp_path):
    data = tmp_path / "data"
    runner.invoke(main, ["users", "add", "bo", "--data-dir", str(data)], input="battery staple\n")
    result = runner.invoke(main, ["users", "passwd", "bo", "--data-dir", str(data)], input="new password\n")
    assert result.exit_code == 0 and "sessions have ended" in result.output
    assert _store(data).verify("bo", "new password") and not _store(data).verify("bo", "battery staple")
    assert runner.invoke(main, ["users", "remove", "bo", "--data-dir", str(data)]).exit_code == 0
    assert not _store(data).any_accounts()
    assert "no users" in runner.invoke(main, ["users", "list", "--data-dir", str(data)]).output


@pytest.mark.parametrize("args,stdin,words", [
    (["users", "add", "Ana"], "correct horse\n", "User name 'Ana' is not allowed"),
    (["users", "add", "local"], "correct horse\n", "User name 'local' is not allowed: it is reserved"),
    (["users", "add", "ana"], "short\n", "at least 8 characters"),
    (["users", "add", "ana"], "", "no password"),
    (["users", "passwd", "zed"], "correct horse\n", "No user named 'zed'"),
    (["users", "remove", "zed"], "", "No user named 'zed'"),
])
def test_bad_input_is_one_line_naming_the_problem(runner, tmp_path, args, stdin, words):
    result = runner.invoke(main, [*args, "--data-dir", str(tmp_path / "data")], input=stdin)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


def test_a_taken_name_is_refused(runner, tmp_path):
    args = ["users", "add", "ana", "--data-dir", str(tmp_path / "data")]
    runner.invoke(main, args, input="correct horse\n")
    result = runner.invoke(main, args, input="another one\n")
    assert result.exit_code == 2 and "already exists" in result.output
    assert _store(tmp_path / "data").verify("ana", "correct horse")


def test_a_terminal_gets_a_hidden_prompt_asked_twice(runner, tmp_path, monkeypatch):
    import click

    asked = {}

    def prompt(text, **kwargs):
        asked.update(kwargs)
        return "typed at a terminal"

    monkeypatch.setattr("dashboard.cli._interactive", lambda: True)
    monkeypatch.setattr(click, "prompt", prompt)
    result = runner.invoke(main, ["users", "add", "cy", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert asked == {"hide_input": True, "confirmation_prompt": True}
    assert _store(tmp_path / "data").verify("cy", "typed at a terminal")


@pytest.mark.parametrize("args,words", [
    (["--host", "0.0.0.0"], "txlab users add NAME --admin"),
    (["--auth", "on"], "txlab users add NAME --admin"),
    (["--host", "0.0.0.0", "--debug"], "only runs on a loopback host"),
])
def test_run_refuses_to_share_without_accounts_or_with_debug(runner, tmp_path, args, words):
    data = tmp_path / "data"
    result = runner.invoke(main, ["run", *args, "--data-dir", str(data), "--models-dir", str(tmp_path / "m")])
    assert result.exit_code == 2 and words in result.output
    assert not data.exists() and not (tmp_path / "m").exists()  # refused before anything was written


def test_a_taken_name_fails_before_the_password_is_asked(runner, tmp_path, monkeypatch):
    data = ["--data-dir", str(tmp_path / "data")]
    runner.invoke(main, ["users", "add", "ana", *data], input="correct horse\n")
    monkeypatch.setattr("dashboard.cli._read_password", lambda: pytest.fail("asked for a password"))
    for args, words in ((["users", "add", "ana"], "already exists"), (["users", "add", "Ana"], "not allowed"),
                        (["users", "passwd", "zed"], "No user named 'zed'")):
        result = runner.invoke(main, [*args, *data])
        assert result.exit_code == 2 and words in result.output, result.output


def test_adding_a_name_that_still_owns_work_warns_on_stderr(runner, tmp_path):
    import pandas as pd
    import torch

    from core.registry import ModelRegistry
    from core.runs import RunStore
    from core.workspace import Workspace

    data, models = tmp_path / "data", tmp_path / "models"
    frame = pd.DataFrame({"amount": [1.0, 2.0]})
    for name in ("one", "two"):
        Workspace(data).add_dataset(frame, name=f"{name}.csv", source="upload", owner="bo")
    Workspace(data).add_dataset(frame, name="hers.csv", source="upload", owner="ana")
    RunStore(models).start(dataset_id="ds-000000000001", dataset_name="one.csv", config={}, epochs_total=1, owner="bo")
    ModelRegistry(models).save_version(weights={"head.bias": torch.zeros(1)}, meta={"dataset_id": "ds-000000000001"},
                                       history=[], owner="bo")
    args = ["--data-dir", str(data), "--models-dir", str(models)]
    result = runner.invoke(main, ["users", "add", "bo", *args], input="battery staple\n")
    assert result.exit_code == 0 and result.stdout.strip() == "added bo"
    assert "bo already owns 2 datasets, 1 model version and 1 training run from an earlier user of that name" in result.stderr
    fresh = runner.invoke(main, ["users", "add", "cy", *args], input="battery staple\n")
    assert fresh.exit_code == 0 and fresh.stderr == ""
