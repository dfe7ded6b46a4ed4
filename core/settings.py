"""Every setting declared once: name, default, help. Read from ``TXLAB_*`` variables and CLI flags."""
from __future__ import annotations

import os
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
    Setting("max_columns", 500, "Files with more columns than this are refused."),
    Setting("max_decompressed_mb", 2048, "Largest size a compressed file may expand to, in MB."),
)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8050
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    cache_dir: Path | None = None
    debug: bool = False
    max_upload_mb: int = 100
    max_columns: int = 500
    max_decompressed_mb: int = 2048

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())
        object.__setattr__(self, "models_dir", Path(self.models_dir).resolve())
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).resolve() if self.cache_dir else None)
        for name, low in (("port", 1), ("max_upload_mb", 1), ("max_columns", 1), ("max_decompressed_mb", 1)):
            if int(getattr(self, name)) < low:
                raise ValueError(f"Setting {name} must be at least {low}, got {getattr(self, name)!r}.")

    @property
    def cache_folder(self) -> Path:
        """Where jobs, cached results and the secret live: ``cache_dir``, else ``data_dir/.cache``."""
        return self.cache_dir or self.data_dir / ".cache"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb) * 1024 * 1024

    @property
    def max_decompressed_bytes(self) -> int:
        return int(self.max_decompressed_mb) * 1024 * 1024

    def with_overrides(self, **values: object) -> "Settings":
        """A copy with the given values, ignoring those that are None (flags not passed)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


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
