"""Scoring with a trained model: one row in about a millisecond, or a whole table in chunks.

- ``model_schema``: the fields a model reads (kind, known values, a default), for a form.
- ``RowScorer``: built once per model version (the pages keep one per version); scores one
  transaction given as a dict of canonical field values, behaviour features included, against the
  model's state (each user's and merchant's history as of the end of training).
- ``score_table``: a raw file's frame, mapped with the model's stored mapping (its label is never
  used), features built once over all its rows (they are causal over the frame's own rows), then
  encoding and the network in chunks, reporting progress.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtri

from core.encoding import CLIP, TAIL
from core.errors import MappingError, TxlabError
from core.features import build_features
from core.features.online import OnlineFeatures, OnlineRow
from core.fraud_model import FraudModel
from core.mapping import apply_mapping
from core.schema import FIELD_NAMES, TRANSACTION_ID, ColumnMapping

CANONICAL_ORDER = ("user_id", "merchant_id", "amount", "country", "device_type", "timestamp")
KNOWN_CAP = 5000
DEFAULT_THRESHOLD = 0.5
# Canonical names a model may not read (a model trained without a time, the label): accepted and ignored.
_IGNORED = frozenset(FIELD_NAMES) | {TRANSACTION_ID}


class PredictInputError(TxlabError):
    """A value given for scoring cannot be used; the message names the field and the value."""


@dataclass
class FieldSpec:
    name: str
    kind: str  # "categorical" | "number" | "datetime"
    known: list[str]  # categorical: known values, most frequent first (at most KNOWN_CAP); [] otherwise
    default: str | float | None


@dataclass
class ModelSchema:
    version: str
    fields: list[FieldSpec]
    uses_time: bool
    threshold: float  # meta["threshold"] when the version has one, else 0.5


@dataclass
class RowScore:
    probability: float
    decision: bool  # probability >= threshold
    threshold: float
    new_values: list[str]  # categorical fields whose value the model does not know (it reads them as "unknown")


@dataclass
class RowInputs:
    """One row as the network sees it, plus what ``explain`` needs to name things."""

    codes: np.ndarray  # int64 [categorical]
    numbers: np.ndarray  # float32 [numeric]
    new_values: list[str]


def model_schema(version: str, model: FraudModel, meta: dict) -> ModelSchema:
    """What a form needs to ask for one transaction: fields, known values (most frequent first), defaults."""
    fields = [FieldSpec(name, kind, _known(model, name) if kind == "categorical" else [], None)
              for name, kind in model_fields(model)]
    for spec in fields:
        spec.default = _default(model, spec)
    uses_time = any(spec.kind == "datetime" for spec in fields)
    return ModelSchema(version, fields, uses_time, float(meta.get("threshold", DEFAULT_THRESHOLD)))


def model_fields(model: FraudModel) -> list[tuple[str, str]]:
    """``(name, kind)`` of every field the model reads: canonical ones first, then extra columns."""
    encoder = model.encoder
    features = set(encoder.feature_columns_)
    kinds = {name: "categorical" for name in encoder.categorical_names}
    kinds.update({name: "number" for name in encoder.numeric_names if name not in features})
    if encoder.feature_columns_:
        kinds["timestamp"] = "datetime"
    order = [n for n in CANONICAL_ORDER if n in kinds] + [n for n in kinds if n not in CANONICAL_ORDER]
    return [(name, kinds[name]) for name in order]


class RowScorer:
    """Fast single-row scoring (about a millisecond, behaviour features included); build once per model.

    ``score(values)`` takes canonical field values (``user_id``, ``merchant_id``, ``amount``,
    ``country``, ``device_type``, ``timestamp``, extra columns); a field left out is missing, a
    canonical field the model does not read (``label``, or ``timestamp`` for a model without time
    features) is ignored.
    Ids and categories are compared as text, numbers accept numeric text, times anything
    ``pd.Timestamp`` reads. A bad value or an unknown field raises ``PredictInputError``.
    """

    def __init__(self, model: FraudModel, meta: dict) -> None:
        self.model = model
        self.meta = meta
        self.fields = dict(model_fields(model))
        model.net.eval()
        encoder = model.encoder
        self._vocab = list(zip(encoder.categorical_names, encoder.lookup()))
        self.features = OnlineFeatures(model.features, model.state, [n for n in self.fields if n in CANONICAL_ORDER])
        missing = [c for c in encoder.feature_columns_ if c not in self.features.names]
        if missing:
            raise MappingError(f"The model expects feature(s) this version cannot compute: {', '.join(missing)}.")
        position = {name: i for i, name in enumerate(self.features.names)}
        feature_set = set(encoder.feature_columns_)
        # Each numeric input: ("feature", index in the feature vector) or ("field", field name).
        self._sources = [("feature", position[s.name]) if s.name in feature_set else ("field", s.name)
                         for s in encoder.scalers_]
        scalers = encoder.scalers_
        self._log = np.array([s.log for s in scalers], dtype=bool)
        self._has_knots = np.array([bool(s.knots) for s in scalers], dtype=bool)
        self._ranks = _Ranks([s.knots for s in scalers if s.knots])
        self._mean = np.array([s.mean for s in scalers], dtype=np.float64)
        self._std = np.array([s.std for s in scalers], dtype=np.float64)

    def score(self, values: dict[str, object], threshold: float = DEFAULT_THRESHOLD) -> RowScore:
        """Fraud probability of one transaction and the decision at ``threshold``."""
        if not (isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0):
            raise PredictInputError(f"threshold must be a number between 0 and 1, got {threshold!r}.")
        inputs = self.inputs(values)
        probability = self.probability(inputs)
        return RowScore(probability, probability >= threshold, float(threshold), inputs.new_values)

    def probability(self, inputs: RowInputs) -> float:
        """The network's probability for prepared inputs."""
        with torch.inference_mode():
            logit = self.model.net(torch.from_numpy(inputs.codes[None]), torch.from_numpy(inputs.numbers[None]))
        return float(torch.sigmoid(logit)[0])

    def inputs(self, values: dict[str, object]) -> RowInputs:
        """The network's inputs for one transaction (same as ``FraudModel.inputs`` on a one-row frame)."""
        row = self._parse(values)
        codes = np.zeros(len(self._vocab), dtype=np.int64)
        new_values = []
        for j, (name, lookup) in enumerate(self._vocab):
            value = row.get(name)
            if value is not None:
                codes[j] = lookup.get(value, 0)
                if codes[j] == 0:
                    new_values.append(name)
        features = self.features.compute(self._online_row(row))
        raw = np.array([features[key] if kind == "feature" else row.get(key, math.nan)
                        for kind, key in self._sources], dtype=np.float64)
        return RowInputs(codes, self._standardise(raw).astype(np.float32), new_values)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        """``encoding.standardise_numbers`` for one value of every numeric input at once."""
        x = np.where(self._log, np.sign(x) * np.log1p(np.abs(x)), x)
        u = np.zeros_like(x)
        u[self._has_knots] = self._ranks.interp(x[self._has_knots])
        ranked = ndtri(np.clip(u, TAIL, 1 - TAIL))
        with np.errstate(invalid="ignore", divide="ignore"):
            plain = (x - self._mean) / self._std
        plain = np.clip(np.where(np.isfinite(plain), plain, 0.0), -CLIP, CLIP)
        return np.where(self._has_knots, np.where(np.isnan(x), 0.0, ranked), plain)

    def _parse(self, values: dict[str, object]) -> dict[str, object]:
        if not isinstance(values, dict):
            raise PredictInputError(f"A transaction must be given as field -> value, got {type(values).__name__}.")
        unknown = [k for k in values if k not in self.fields and k not in _IGNORED]
        if unknown:
            raise PredictInputError(f"Unknown field '{unknown[0]}': this model reads {', '.join(self.fields)}.")
        row: dict[str, object] = {}
        for name, kind in self.fields.items():
            value = values.get(name)
            if kind == "categorical":
                row[name] = _text(value)
            elif kind == "number":
                row[name] = _number(name, value)
            else:
                row[name] = _timestamp(name, value)
        return row

    def _online_row(self, row: dict[str, object]) -> OnlineRow:
        stamp = row.get("timestamp")
        utc = local = None
        if stamp is not None:
            local = stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
            utc = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
            utc, local = utc.value, local.value
        return OnlineRow(row.get("user_id"), row.get("merchant_id"), row.get("country"), row.get("device_type"),
                         row.get("amount", math.nan), utc, local)


class _Ranks:
    """``np.interp(x[i], knots[i], linspace(0, 1, len(knots[i])))`` for one value per input at once."""

    def __init__(self, knots: list[list[float]]) -> None:
        width = max((len(k) for k in knots), default=2)
        self.knots = np.full((len(knots), width), np.inf)
        self.grid = np.ones((len(knots), width))
        self.last = np.array([len(k) - 1 for k in knots], dtype=np.int64)
        for i, k in enumerate(knots):
            self.knots[i, :len(k)] = k
            self.grid[i, :len(k)] = np.linspace(0.0, 1.0, len(k))
        self.rows = np.arange(len(knots))

    def interp(self, x: np.ndarray) -> np.ndarray:
        j = (self.knots <= x[:, None]).sum(axis=1) - 1  # the knot at or left of x (-1: left of all, or NaN)
        inner = np.clip(j, 0, np.maximum(self.last - 1, 0))
        left, right = self.knots[self.rows, inner], self.knots[self.rows, inner + 1]
        low, high = self.grid[self.rows, inner], self.grid[self.rows, inner + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            u = (high - low) / (right - left) * (x - left) + low
        u = np.where(j < 0, 0.0, np.where(j >= self.last, 1.0, u))
        return np.where(np.isnan(x), np.nan, u)


def score_table(model: FraudModel, meta: dict, raw: pd.DataFrame, on_progress: Callable[[float], None] | None = None,
                chunk_rows: int = 200_000) -> np.ndarray:
    """Fraud probability of every row of a raw (source-column) frame, in its order.

    The frame is mapped with ``meta["mapping"]`` (its label left out; without a stored mapping the
    frame must already have canonical columns). Progress goes 0 -> 1 through ``on_progress``.
    """
    report = on_progress or (lambda fraction: None)
    report(0.0)
    mapped = mapped_for_scoring(meta, raw)
    report(0.1)
    features = build_features(mapped, model.features, state=model.state)
    report(0.45)
    n = len(mapped)
    out = np.empty(n, dtype=np.float64)
    step = max(int(chunk_rows), 1)
    for start in range(0, n, step):
        stop = min(start + step, n)
        codes, numbers = model.encoder.transform(mapped.iloc[start:stop], features.iloc[start:stop])
        out[start:stop] = model.net.predict_proba(torch.from_numpy(codes), torch.from_numpy(numbers)).numpy()
        report(0.45 + 0.55 * stop / n)
    report(1.0)
    return out


def mapped_for_scoring(meta: dict, raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with canonical columns, as the model was trained, label removed."""
    if not meta.get("mapping"):
        return raw.drop(columns=["label"], errors="ignore").reset_index(drop=True)
    mapping = ColumnMapping.from_dict(meta["mapping"])
    mapping.fields["label"] = None
    missing = [c for c in mapping.used_columns() if c not in raw.columns]
    if missing:
        raise MappingError(f"The file lacks column(s) the model was trained with: {', '.join(missing)}.")
    mapped, _ = apply_mapping(raw, mapping)
    return mapped


def _known(model: FraudModel, name: str) -> list[str]:
    """Known values, most frequent first: counted in the state's recent rows (ids) or its
    first-use table (country, device: users who used it); vocabulary order for the rest."""
    vocab = next(v.values for v in model.encoder.vocabularies_ if v.name == name)
    counts: dict[str, int] = {}
    state = model.state
    if state is not None:
        if name in ("user_id", "merchant_id"):
            counts = state.rows[name].value_counts().to_dict()
        else:
            seen = state.first_seen
            counts = seen["value"][seen["field"] == name].value_counts().to_dict()
    return sorted(vocab, key=lambda v: -counts.get(v, 0))[:KNOWN_CAP]


def _default(model: FraudModel, spec: FieldSpec) -> str | float | None:
    if spec.kind == "categorical":
        return spec.known[0] if spec.known else None
    if spec.kind == "datetime":
        end = model.state.end if model.state is not None else None
        return end.isoformat() if end is not None else None
    if spec.name == "amount" and model.state is not None and len(model.state.rows):
        return round(float(model.state.rows["amount"].median()), 2)
    scaler = next(s for s in model.encoder.scalers_ if s.name == spec.name)
    middle = scaler.knots[len(scaler.knots) // 2] if scaler.knots else scaler.mean
    return round(float(math.copysign(math.expm1(abs(middle)), middle) if scaler.log else middle), 2)


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _number(name: str, value: object) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, bool):
        raise PredictInputError(f"Field '{name}' must be a number, got {value!r}.")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise PredictInputError(f"Field '{name}' must be a number, got {value!r}.") from None
    if math.isinf(number):
        raise PredictInputError(f"Field '{name}' must be a finite number, got {value!r}.")
    return number


def _timestamp(name: str, value: object) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp.as_unit("ns")
    except (TypeError, ValueError, OverflowError):
        raise PredictInputError(f"Field '{name}' must be a date and time between the years 1677 and 2262, "
                                f"got {value!r}.") from None
