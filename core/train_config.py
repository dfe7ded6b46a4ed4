"""Training hyperparameters: defaults, help texts and validation, shared by the form and the CLI."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from core.errors import TxlabError


class TrainConfigError(TxlabError):
    """A hyperparameter is out of range; the message names it and the value given."""


@dataclass(frozen=True)
class Knob:
    name: str
    label: str
    help: str
    low: float | None = None
    high: float | None = None


# Display order of the form; ranges are what ``TrainConfig`` accepts.
TRAIN_FIELDS: tuple[Knob, ...] = (
    Knob("epochs", "Epochs", "Passes over the training rows (training stops earlier when validation AP stops improving).", 1, 500),
    Knob("batch_size", "Batch size", "Rows per optimiser step. Larger is faster per row; the learning rate is scaled with it.", 32, 65536),
    Knob("learning_rate", "Learning rate", "Step size for a 1,024-row batch; multiplied by sqrt(batch size / 1024).", 1e-6, 1.0),
    Knob("embedding_dim", "Embedding size", "Dimensions of each categorical embedding (fewer for small vocabularies).", 1, 256),
    Knob("hidden_layers", "Hidden layers", "Widths of the MLP layers, comma-separated, e.g. 128,64.", 1, 4096),
    Knob("dropout", "Dropout", "Share of hidden units dropped while training (0 to 0.9).", 0.0, 0.9),
    Knob("weight_decay", "Weight decay", "Decoupled L2 penalty on all weights (AdamW); regularises the id embeddings.", 0.0, 1.0),
    Knob("validation_days", "Validation window (days)", "The latest days held out for validation (with a timestamp).", 1, 365),
    Knob("label_delay_days", "Label delay (days)", "Fraud labels arrive this many days late: behaviour features and the split never use fresher labels.", 0, 90),
    Knob("patience", "Early-stopping patience", "Epochs without a better validation AP before training stops (the best epoch is kept).", 1, 500),
    Knob("seed", "Seed", "Random seed: the same seed and data give the same model.", 0, 2**31 - 1),
    Knob("baselines", "Baselines", "Also train gradient boosting and logistic regression on the same features and split."),
    Knob("behaviour_features", "Behaviour features", "Per-user and per-merchant history windows (needs a timestamp)."),
)
_KNOBS = {k.name: k for k in TRAIN_FIELDS}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 4096
    learning_rate: float = 0.001
    embedding_dim: int = 16
    hidden_layers: tuple[int, ...] = (64, 32)
    dropout: float = 0.2
    weight_decay: float = 1e-4
    validation_days: int = 14
    label_delay_days: int = 7
    seed: int = 0
    baselines: bool = True
    behaviour_features: bool = True
    patience: int = 4
    top_k: int = 100
    threads: int = 1  # measured: on a busy 2-core machine 2 torch threads ran several times slower than 1
    min_frequency: int = 5
    id_dropout: float = 0.3
    mixed_precision: bool | None = None  # None: bfloat16 forward passes where the CPU has them natively
    embedding_lr_scale: float | None = None  # None: 0.01 with a time split, else 1 (see core.train)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "embedding_dim", "validation_days", "label_delay_days", "patience", "seed"):
            _check_int(name, getattr(self, name), _KNOBS[name].low, _KNOBS[name].high)
        _check_int("top_k", self.top_k, 1, 100_000)
        _check_int("threads", self.threads, 1, 64)
        _check_int("min_frequency", self.min_frequency, 1, 100_000)
        for name in ("learning_rate", "dropout", "weight_decay"):
            _check_float(name, getattr(self, name), _KNOBS[name].low, _KNOBS[name].high)
        _check_float("id_dropout", self.id_dropout, 0.0, 0.9)
        if self.embedding_lr_scale is not None:
            _check_float("embedding_lr_scale", self.embedding_lr_scale, 0.0, 1.0)
        layers = tuple(self.hidden_layers)
        if not 1 <= len(layers) <= 6:
            raise TrainConfigError(f"Hidden layers: give 1 to 6 widths, e.g. 128,64 (got {len(layers)}).")
        for width in layers:
            _check_int("hidden_layers", width, 1, 4096)
        object.__setattr__(self, "hidden_layers", layers)
        if self.mixed_precision not in (None, True, False):
            raise TrainConfigError(f"Mixed precision must be on, off or automatic (got {self.mixed_precision!r}).")
        for name in ("baselines", "behaviour_features"):
            if not isinstance(getattr(self, name), bool):
                raise TrainConfigError(f"{_label(name)} must be on or off (got {getattr(self, name)!r}).")

    @property
    def effective_learning_rate(self) -> float:
        """The optimiser's rate: ``learning_rate`` scaled by sqrt(batch_size / 1024)."""
        return self.learning_rate * (self.batch_size / 1024) ** 0.5

    def to_dict(self) -> dict:
        data = asdict(self)
        data["hidden_layers"] = list(self.hidden_layers)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """A config from form or JSON values (numbers may be text; hidden layers as '128,64' or a list)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise TrainConfigError(f"Unknown training setting(s): {', '.join(unknown)}.")
        values = {}
        for name, value in data.items():
            if value is None or value == "":
                continue
            kind = known[name].type.split(" |")[0]
            if name == "hidden_layers":
                values[name] = _parse_layers(value)
            elif kind == "bool":
                values[name] = _parse_bool(name, value)
            elif kind == "int":
                values[name] = _parse_number(name, value, int)
            else:
                values[name] = _parse_number(name, value, float)
        return cls(**values)


def _label(name: str) -> str:
    return _KNOBS[name].label if name in _KNOBS else name.replace("_", " ").capitalize()


def _check_int(name: str, value, low, high) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TrainConfigError(f"{_label(name)} must be a whole number from {low:g} to {high:g} (got {value!r}).")


def _check_float(name: str, value, low, high) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise TrainConfigError(f"{_label(name)} must be a number from {low:g} to {high:g} (got {value!r}).")


def _parse_number(name: str, value, kind: type):
    if isinstance(value, bool):
        raise TrainConfigError(f"{_label(name)} must be a number (got {value!r}).")
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else value
    except ValueError:
        raise TrainConfigError(f"{_label(name)} must be a number (got {value!r}).") from None
    if kind is int:
        if number != number or float(number) != int(number):
            raise TrainConfigError(f"{_label(name)} must be a whole number (got {value!r}).")
        return int(number)
    return float(number)


def _parse_layers(value) -> tuple[int, ...]:
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value)
    try:
        return tuple(_parse_number("hidden_layers", p, int) for p in parts if p != "")
    except TrainConfigError:
        raise TrainConfigError(f"Hidden layers must be whole numbers separated by commas, e.g. 128,64 (got {value!r}).") from None


def _parse_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise TrainConfigError(f"{_label(name)} must be on or off (got {value!r}).")
