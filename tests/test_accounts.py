"""Accounts, the failed-login limit and the allowed Host names: the core of LAN mode."""
import json
import os
import stat

import pytest

from core.access import Principal
from core.accounts import AccountError, AccountStore
from core.hosts import allowed_hosts, host_allowed, host_name
from core.login_limits import LoginLimiter, TooManyLoginsError
from core.settings import Settings


@pytest.fixture
def store(tmp_path):
    return AccountStore.for_state_folder(tmp_path / "data" / ".txlab")


def test_added_user_logs_in_with_that_password_only(store):
    assert not store.any_accounts()
    store.add("ana", "correct horse", admin=True)
    store.add("bo", "battery staple")
    assert store.any_accounts()
    assert store.verify("ana", "correct horse") == Principal("ana", admin=True)
    assert store.verify("bo", "battery staple") == Principal("bo", admin=False)
    assert store.verify("ana", "battery staple") is None
    assert store.verify("nobody", "correct horse") is None
    assert [(a.name, a.admin) for a in store.list()] == [("ana", True), ("bo", False)]


def test_only_a_salted_hash_is_stored_privately(store):
    store.add("ana", "correct horse")
    store.add("bo", "correct horse")
    text = store.path.read_text()
    assert "correct horse" not in text
    users = json.loads(text)["users"]
    assert users["ana"]["hash"].startswith("scrypt:") and users["ana"]["hash"] != users["bo"]["hash"]
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.path.parent).st_mode) == 0o700
    assert [p.name for p in store.path.parent.iterdir()] == ["users.json"]  # no temp file left behind


@pytest.mark.parametrize("name", ["Ana", "", "-ana", "a b", "ana/..", "x" * 33, "émile"])
def test_bad_user_names_are_refused_by_name(store, name):
    with pytest.raises(AccountError, match="not allowed") as info:
        store.add(name, "correct horse")
    assert repr(name) in str(info.value)


def test_short_password_and_duplicate_name_are_refused(store):
    with pytest.raises(AccountError, match="at least 8"):
        store.add("ana", "short")
    store.add("ana", "correct horse")
    with pytest.raises(AccountError, match="'ana' already exists"):
        store.add("ana", "another one")
    with pytest.raises(AccountError, match="No user named 'zed'"):
        store.remove("zed")


def test_new_password_or_removal_ends_open_sessions(store):
    account = store.add("ana", "correct horse")
    assert store.session_valid("ana", account.session_version) == Principal("ana")
    changed = store.set_password("ana", "new password!")
    assert store.session_valid("ana", account.session_version) is None
    assert store.session_valid("ana", changed.session_version) == Principal("ana")
    assert store.verify("ana", "correct horse") is None and store.verify("ana", "new password!")
    store.remove("ana")
    assert store.session_valid("ana", changed.session_version) is None
    assert not store.any_accounts()


def test_a_damaged_user_file_is_named(store):
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(AccountError, match="users.json cannot be read"):
        store.verify("ana", "correct horse")


class _Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_five_failures_lock_that_name_from_that_address_for_the_window(tmp_path):
    clock = _Clock()
    limiter = LoginLimiter(tmp_path / "logins", clock=clock)
    for _ in range(5):
        limiter.check("ana", "10.0.0.5")
        limiter.record_failure("ana", "10.0.0.5")
    with pytest.raises(TooManyLoginsError, match=r"Too many failed logins for ana; try again in 15 minutes"):
        limiter.check("ana", "10.0.0.5")
    limiter.check("ana", "10.0.0.6")  # another address
    limiter.check("bo", "10.0.0.5")  # another name
    clock.now += 14 * 60
    with pytest.raises(TooManyLoginsError, match="in 1 minute"):
        limiter.check("ana", "10.0.0.5")
    clock.now += 61
    limiter.check("ana", "10.0.0.5")


def test_the_limit_is_shared_between_processes_through_its_folder(tmp_path):
    LoginLimiter(tmp_path / "logins", max_failures=2).record_failure("ana", "::1")
    LoginLimiter(tmp_path / "logins", max_failures=2).record_failure("ana", "::1")
    with pytest.raises(TooManyLoginsError):
        LoginLimiter(tmp_path / "logins", max_failures=2).check("ana", "::1")
    assert stat.S_IMODE(os.stat(tmp_path / "logins").st_mode) == 0o700


def test_success_clears_the_name_but_one_address_cannot_try_many_names(tmp_path):
    limiter = LoginLimiter(tmp_path / "logins", max_failures=3, max_failures_per_address=4)
    for _ in range(2):
        limiter.record_failure("ana", "10.0.0.5")
    limiter.record_success("ana", "10.0.0.5")
    limiter.record_failure("ana", "10.0.0.5")
    limiter.check("ana", "10.0.0.5")
    limiter.record_failure("bo", "10.0.0.5")
    with pytest.raises(TooManyLoginsError, match="for this address"):
        limiter.check("cy", "10.0.0.5")


@pytest.mark.parametrize("header,name", [
    ("localhost:8050", "localhost"), ("127.0.0.1", "127.0.0.1"), ("[::1]:8050", "::1"), ("Box.Lan.", "box.lan"),
    ("::1", None), ("[::1]x", None), ("evil:port", None), ("", None), (None, None),
])
def test_host_header_parsing(header, name):
    assert host_name(header) == name


def test_loopback_mode_answers_only_loopback_names(tmp_path):
    allowed = allowed_hosts(Settings(data_dir=tmp_path))
    for header in ("localhost:8050", "127.0.0.1:1", "[::1]:8050", "LOCALHOST"):
        assert host_allowed(header, allowed), header
    for header in ("evil.example", "evil.example:8050", "127.0.0.1.evil.example", "localhost.evil.example"):
        assert not host_allowed(header, allowed), header
    assert host_allowed("127.0.0.2:8050", allowed_hosts(Settings(data_dir=tmp_path, host="127.0.0.2")))


def test_lan_mode_adds_this_machine_and_the_allowed_hosts_setting(tmp_path):
    import socket

    settings = Settings(data_dir=tmp_path, host="0.0.0.0", allowed_hosts="txlab.example.org, 10.9.8.7")
    allowed = allowed_hosts(settings)
    assert {"localhost", "txlab.example.org", "10.9.8.7", socket.gethostname().lower()} <= allowed
    assert host_allowed("TXLAB.example.org:443", allowed)
    assert not host_allowed("evil.example", allowed)


def test_a_name_added_again_does_not_bring_back_the_old_accounts_sessions(store):
    old = store.add("bob", "correct horse")
    store.remove("bob")
    new = store.add("bob", "correct horse")
    assert store.session_valid("bob", old.session_version) is None  # the old bob's cookie stays dead
    assert store.session_valid("bob", new.session_version) == Principal("bob")
    assert new.session_version != old.session_version


def test_a_user_file_from_before_session_tokens_still_works(store):
    store.path.parent.mkdir(parents=True)
    record = {"hash": "x", "admin": True, "created": "2024-01-01T00:00:00+00:00", "session_version": 3}
    store.path.write_text(json.dumps({"format": 1, "users": {"ana": record}}))
    assert store.get("ana").session_version == "3"
    assert store.session_valid("ana", 3) == Principal("ana", admin=True)  # a cookie signed before the upgrade
    assert store.session_valid("ana", 2) is None and store.session_valid("ana", True) is None
    changed = store.set_password("ana", "new password!")
    assert store.session_valid("ana", 3) is None and store.session_valid("ana", changed.session_version)


@pytest.mark.parametrize("name", ["local"])
def test_reserved_names_are_refused(store, name):
    with pytest.raises(AccountError, match=f"'{name}' is not allowed: it is reserved"):
        store.add(name, "correct horse")
    with pytest.raises(AccountError, match="reserved"):
        store.check_new_name(name)
    assert not store.any_accounts()


def test_the_user_file_is_parsed_again_only_when_it_changes(store, monkeypatch):
    account = store.add("ana", "correct horse")
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr("core.accounts.json.loads", lambda text: parsed.append(1) or real_loads(text))
    for _ in range(5):
        assert store.session_valid("ana", account.session_version) == Principal("ana")
    assert len(parsed) <= 1
    other_process = AccountStore(store.path)  # its own cache, as in another process
    other_process.set_password("ana", "new password!")
    assert store.session_valid("ana", account.session_version) is None  # seen at the very next call
    other_process.remove("ana")
    assert store.get("ana") is None and not store.any_accounts()


def test_parallel_attempts_are_counted_one_by_one(tmp_path):
    import threading

    start = threading.Barrier(12)
    passed, refused = [], []

    def attempt():
        limiter = LoginLimiter(tmp_path / "logins", max_failures=5)  # its own connection, like another process
        start.wait()
        try:
            limiter.reserve("ana", "10.0.0.5")
            passed.append(1)
        except TooManyLoginsError:
            refused.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(passed), len(refused)) == (5, 7)
    with pytest.raises(TooManyLoginsError):
        LoginLimiter(tmp_path / "logins").check("ana", "10.0.0.5")


def test_a_successful_attempt_counts_against_nobody(tmp_path):
    limiter = LoginLimiter(tmp_path / "logins", max_failures=2, max_failures_per_address=3)
    for _ in range(5):
        limiter.record_success("ana", "10.0.0.5", limiter.reserve("ana", "10.0.0.5"))
    limiter.reserve("bo", "10.0.0.5")
    limiter.reserve("bo", "10.0.0.5")
    with pytest.raises(TooManyLoginsError, match="for bo"):
        limiter.reserve("bo", "10.0.0.5")
    limiter.reserve("cy", "10.0.0.5")  # five good logins earlier did not use up the address's three
    with pytest.raises(TooManyLoginsError, match="for this address"):
        limiter.reserve("dee", "10.0.0.5")


def test_allowed_hosts_are_kept_a_minute_then_looked_up_again(tmp_path, monkeypatch):
    import core.hosts

    now, outward = [5000.0], ["10.0.0.7"]
    monkeypatch.setattr(core.hosts, "_clock", lambda: now[0])
    monkeypatch.setattr(core.hosts, "_outward_address", lambda: outward[0])
    settings = Settings(data_dir=tmp_path, host="0.0.0.0")
    assert "10.0.0.7" in allowed_hosts(settings)
    outward[0] = "10.0.0.8"  # DHCP gave this machine a new address
    assert allowed_hosts(settings) is allowed_hosts(settings)  # not worked out again at each request
    now[0] += 61
    assert "10.0.0.8" in allowed_hosts(settings) and "10.0.0.7" not in allowed_hosts(settings)
