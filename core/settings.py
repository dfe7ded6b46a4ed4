"""Every setting declared once: name, default, help. Read from ``TXLAB_*`` variables and CLI flags."""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Address to serve on. Loopback unless you ask for more."),
    Setting("port", 8050, "Port to serve on."),
    Setting("data_dir", "data", "Folder for datasets (and files to load from the Data page)."),
    Setting("models_dir", "models", "Folder for versioned models."),
    Setting("cache_dir", "", "Folder for background jobs and cached results (default: DATA_DIR/.cache)."),
    Setting("debug", False, "Dash debug mode: reloader, dev tools and full tracebacks in alerts."),
    Setting("max_upload_mb", 100, "Largest file accepted through the browser upload, in MB."),
    Setting("max_stream_mb", 1024, "Largest file accepted through the Data page's large-file upload (sent in chunks straight to disk), in MB."),
    Setting("max_columns", 500, "Files with more columns than this are refused."),
    Setting("max_decompressed_mb", 2048, "Largest size a compressed file may expand to, in MB."),
    Setting("redis_url", "", "Redis URL (redis://host:6379/0): background jobs then run on Celery workers started with `txlab worker`. Empty: jobs run on this machine."),
    Setting("auth", "auto", "Accounts and login: 'auto' (required when the host is not loopback) or 'on' (always, e.g. behind a reverse proxy)."),
    Setting("allowed_hosts", "", "Extra names the browser may use to reach the server (comma list), besides this machine's own."),
    Setting("workers", 1, "Server processes when sharing on the LAN; above 1 serves with gunicorn instead of waitress."),
    Setting("trusted_proxies", 0, "Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host headers are believed "
            "(so login limits count each client, not the proxy). 0: none; set it only behind a proxy that sets those headers."),
)

AUTH_MODES = ("auto", "on")
_HOST_NAME = re.compile(r"^[a-z0-9_.:-]{1,253}$")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8050
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    cache_dir: Path | None = None
    debug: bool = False
    max_upload_mb: int = 100
    max_stream_mb: int = 1024
    max_columns: int = 500
    max_decompressed_mb: int = 2048
    redis_url: str = ""
    auth: str = "auto"
    allowed_hosts: str = ""
    workers: int = 1
    trusted_proxies: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())
        object.__setattr__(self, "models_dir", Path(self.models_dir).resolve())
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).resolve() if self.cache_dir else None)
        _check_redis_url(self.redis_url)
        for name, low in (("port", 1), ("max_upload_mb", 1), ("max_stream_mb", 1), ("max_columns", 1), ("max_decompressed_mb", 1), ("workers", 1),
                          ("trusted_proxies", 0)):
            if int(getattr(self, name)) < low:
                raise ValueError(f"Setting {name} must be at least {low}, got {getattr(self, name)!r}.")
        object.__setattr__(self, "auth", str(self.auth).strip().lower())
        if self.auth not in AUTH_MODES:
            raise ValueError(f"Setting auth must be one of {', '.join(AUTH_MODES)}, got {self.auth!r}.")
        for name in self.extra_host_names:
            if not _HOST_NAME.match(name):
                raise ValueError(f"Setting allowed_hosts: {name!r} is not a host name or address.")

    @property
    def loopback(self) -> bool:
        """Whether the server listens only on this machine (127.0.0.1, ::1, localhost)."""
        return is_loopback(self.host)

    @property
    def accounts_required(self) -> bool:
        """LAN mode: a login is needed when others can reach the server, or when ``auth`` is 'on'."""
        return self.auth == "on" or not self.loopback

    @property
    def extra_host_names(self) -> tuple[str, ...]:
        """The ``allowed_hosts`` names, lowercased, without ports or brackets."""
        names = (part.strip().lower() for part in str(self.allowed_hosts or "").split(","))
        return tuple(_bare_host(name) for name in names if name)

    @property
    def state_folder(self) -> Path:
        """Private install state (accounts, session secret): ``data_dir/.txlab``."""
        return self.data_dir / ".txlab"

    @property
    def cache_folder(self) -> Path:
        """Where jobs, cached results and the secret live: ``cache_dir``, else ``data_dir/.cache``."""
        return self.cache_dir or self.data_dir / ".cache"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb) * 1024 * 1024

    @property
    def max_stream_bytes(self) -> int:
        return int(self.max_stream_mb) * 1024 * 1024

    @property
    def max_decompressed_bytes(self) -> int:
        return int(self.max_decompressed_mb) * 1024 * 1024

    def with_overrides(self, **values: object) -> "Settings":
        """A copy with the given values, ignoring those that are None (flags not passed)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) only reaches this machine."""
    host = str(host).strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _check_redis_url(url: str) -> None:
    """An empty URL (no Redis) or one Celery's Redis transport understands; the error names the value."""
    if url and not str(url).startswith(_REDIS_SCHEMES):
        raise ValueError(f"Setting redis_url must start with {', '.join(_REDIS_SCHEMES)}, got {str(url)!r}.")


def _bare_host(name: str) -> str:
    """``name`` without brackets or a port: ``[fd00::5]:8050`` -> ``fd00::5``, ``box:8050`` -> ``box``."""
    if name.startswith("["):
        return name[1:].partition("]")[0]
    return name.partition(":")[0] if name.count(":") == 1 else name


def from_env(environ: dict[str, str] | None = None) -> Settings:
    """Settings from defaults overridden by ``TXLAB_<NAME>`` environment variables."""
    environ = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, object] = {}
    for setting in SETTINGS:
        raw = environ.get(f"TXLAB_{setting.name.upper()}")
        if raw is None or raw == "":
            continue
        values[setting.name] = _convert(setting.name, raw, types[setting.name])
    return Settings(**values)


def _convert(name: str, raw: str, type_name: str) -> object:
    if type_name == "bool":
        if raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.strip().lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"TXLAB_{name.upper()} must be true or false, got {raw!r}.")
    if type_name == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"TXLAB_{name.upper()} must be a whole number, got {raw!r}.") from None
    return raw
