import os
import re
import stat
from pathlib import Path

import pytest

from core.secret import load_or_create_secret
from core.settings import SETTINGS, Settings, from_env

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_are_loopback_and_local_folders():
    settings = from_env({})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8050
    assert settings.debug is False
    assert settings.data_dir == Path("data").resolve()
    assert settings.models_dir == Path("models").resolve()
    assert settings.cache_folder == settings.data_dir / ".cache"


def test_cache_follows_an_overridden_data_folder_unless_set(tmp_path):
    moved = from_env({}).with_overrides(data_dir=tmp_path / "d")
    assert moved.cache_folder == tmp_path / "d" / ".cache"
    pinned = from_env({"TXLAB_CACHE_DIR": str(tmp_path / "c")}).with_overrides(data_dir=tmp_path / "d")
    assert pinned.cache_folder == tmp_path / "c"


def test_environment_overrides_and_flags_win(tmp_path):
    env = {"TXLAB_PORT": "9001", "TXLAB_DEBUG": "yes", "TXLAB_DATA_DIR": str(tmp_path / "d"), "TXLAB_MAX_UPLOAD_MB": "5"}
    settings = from_env(env)
    assert (settings.port, settings.debug, settings.data_dir, settings.max_upload_bytes) == (9001, True, tmp_path / "d", 5 * 1024 * 1024)
    assert settings.with_overrides(port=7000, host=None).port == 7000
    assert settings.with_overrides(host=None).host == "127.0.0.1"


@pytest.mark.parametrize("name,value,words", [("TXLAB_PORT", "eighty", "whole number"), ("TXLAB_DEBUG", "maybe", "true or false"), ("TXLAB_PORT", "0", "at least 1")])
def test_bad_environment_values_are_named(name, value, words):
    with pytest.raises(ValueError, match=words) as info:
        from_env({name: value})
    assert name.removeprefix("TXLAB_").lower() in str(info.value).lower()


def test_every_setting_is_a_field_and_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    fields = set(Settings.__dataclass_fields__)
    for setting in SETTINGS:
        assert setting.name in fields
        assert setting.help
        assert f"TXLAB_{setting.name.upper()}" in readme, f"README does not document {setting.name}"


def test_secret_is_created_private_once_and_reused(tmp_path):
    path = tmp_path / "cache" / "secret_key"
    first = load_or_create_secret(path)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == first


def test_processes_starting_together_on_a_fresh_install_share_one_secret(tmp_path, monkeypatch):
    import secrets
    import threading
    import time

    real_token_hex = secrets.token_hex

    def slow_token_hex(n):  # a busy machine: the other starter gets ahead between create and write
        time.sleep(0.2)
        return real_token_hex(n)

    monkeypatch.setattr(secrets, "token_hex", slow_token_hex)
    path, start = tmp_path / "state" / "secret_key", threading.Barrier(6)
    found, errors = [], []

    def starter():
        start.wait()
        try:
            found.append(load_or_create_secret(path))
        except Exception as error:  # e.g. "too short": the other's file read before it was written
            errors.append(error)

    threads = [threading.Thread(target=starter) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(found)) == 1 and len(found) == 6
    assert path.read_text() == found[0] and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temp file left behind


def test_truncated_secret_is_refused(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("short")
    with pytest.raises(ValueError, match="too short"):
        load_or_create_secret(path)


def test_logins_are_required_off_loopback_or_when_asked(tmp_path):
    assert from_env({}).accounts_required is False
    for host in ("localhost", "::1", "[::1]", "127.0.0.2"):
        assert from_env({"TXLAB_HOST": host}).accounts_required is False, host
    assert from_env({"TXLAB_HOST": "0.0.0.0"}).accounts_required is True
    assert from_env({"TXLAB_HOST": "192.168.1.20"}).accounts_required is True
    assert from_env({"TXLAB_AUTH": "ON"}).accounts_required is True
    assert from_env({"TXLAB_DATA_DIR": str(tmp_path)}).state_folder == tmp_path / ".txlab"


@pytest.mark.parametrize("name,value,words", [
    ("TXLAB_AUTH", "off", "one of auto, on, got 'off'"),
    ("TXLAB_WORKERS", "0", "workers must be at least 1"),
    ("TXLAB_TRUSTED_PROXIES", "-1", "trusted_proxies must be at least 0"),
    ("TXLAB_ALLOWED_HOSTS", "good.example, bad/host", "'bad/host' is not a host name"),
])
def test_bad_serving_settings_are_named(name, value, words):
    with pytest.raises(ValueError, match=words):
        from_env({name: value})


def test_allowed_hosts_are_a_comma_list_of_bare_names():
    settings = from_env({"TXLAB_ALLOWED_HOSTS": " Txlab.Example.org:8443 ,[fd00::5],, 10.0.0.7, fd00::6 "})
    assert settings.extra_host_names == ("txlab.example.org", "fd00::5", "10.0.0.7", "fd00::6")


def test_private_folders_are_0700_only_when_created_here(tmp_path):
    from core.secret import private_folder, write_private_file

    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    private_folder(existing)
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o755
    made = private_folder(tmp_path / "new" / "state")
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
    write_private_file(made / "f.json", "{}")
    write_private_file(made / "f.json", '{"a": 1}')
    assert (made / "f.json").read_text() == '{"a": 1}' and stat.S_IMODE(os.stat(made / "f.json").st_mode) == 0o600
    assert [p.name for p in made.iterdir()] == ["f.json"]


def test_every_setting_has_a_flag_on_txlab_run():
    from dashboard.cli import run

    flags = {param.name for param in run.params}
    assert [s.name for s in SETTINGS if s.name not in flags] == []
