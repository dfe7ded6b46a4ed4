"""Business assumptions of the P&L: one dataclass with defaults, help text and checks naming the field."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from core.errors import TxlabError


class AssumptionError(TxlabError):
    """An assumption is out of range; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AssumptionField:
    name: str
    label: str
    help: str
    low: float
    high: float | None  # None: no upper bound


ASSUMPTION_FIELDS: tuple[AssumptionField, ...] = (
    AssumptionField("fee_rate", "Fee / margin rate", "Share of the revenue column kept on an approved legitimate transaction (0.02 = 2%). Use 1 when the revenue column already is the margin.", 0.0, 1.0),
    AssumptionField("chargeback_fee", "Chargeback fee", "Fee paid per approved fraudulent transaction, on top of the lost amount.", 0.0, None),
    AssumptionField("recovery_rate", "Share of fraud recovered", "Share of an approved fraud's amount recovered later (0.1 = 10%).", 0.0, 1.0),
    AssumptionField("review_cost", "Review cost per alert", "Cost of one analyst reviewing one alert.", 0.0, None),
    AssumptionField("false_decline_cost", "False decline cost", "Cost of declining a legitimate customer (friction, churn), on top of the lost fee.", 0.0, None),
    AssumptionField("analyst_capacity", "Analyst capacity per day", "Alerts reviewed per day; alerts beyond it are approved unreviewed. Blank = unlimited.", 1, None),
)
_FIELD = {f.name: f for f in ASSUMPTION_FIELDS}


@dataclass(frozen=True)
class Assumptions:
    """What a decision is worth; see the table in ``core.finance``. Money is in the amount's currency."""

    fee_rate: float = 0.02
    chargeback_fee: float = 15.0
    recovery_rate: float = 0.1
    review_cost: float = 3.0
    false_decline_cost: float = 5.0
    analyst_capacity: int | None = 1000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "analyst_capacity" and value is None:
                continue
            _check(f.name, value)
        if self.analyst_capacity is not None:
            object.__setattr__(self, "analyst_capacity", int(self.analyst_capacity))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Assumptions":
        """From form values (numbers or text); fields left out take their defaults. A blank capacity
        means unlimited; any other blank field is an error naming it."""
        values = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            raw = data[f.name]
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if f.name != "analyst_capacity":
                    raise AssumptionError(f.name, f"{_FIELD[f.name].label} is required.")
                values[f.name] = None
                continue
            values[f.name] = _number(f.name, raw)
        return cls(**values)


def field_errors(data: dict) -> dict[str, str]:
    """Each assumption checked on its own: name -> message naming it (empty when all are fine)."""
    errors = {}
    for name, value in data.items():
        try:
            Assumptions.from_dict({name: value})
        except AssumptionError as error:
            errors[name] = str(error)
    return errors


def _number(name: str, raw) -> float:
    if isinstance(raw, bool):
        raise AssumptionError(name, f"{_FIELD[name].label} must be a number, got {raw!r}.")
    try:
        return float(str(raw).strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise AssumptionError(name, f"{_FIELD[name].label} must be a number, got {raw!r}.") from None


def _check(name: str, value) -> None:
    spec = _FIELD[name]
    number = _number(name, value)
    if not math.isfinite(number):
        raise AssumptionError(name, f"{spec.label} must be a finite number, got {value!r}.")
    if number < spec.low or (spec.high is not None and number > spec.high):
        bounds = f"between {spec.low:g} and {spec.high:g}" if spec.high is not None else f"at least {spec.low:g}"
        raise AssumptionError(name, f"{spec.label} must be {bounds}, got {value!r}.")
    if name == "analyst_capacity" and number != int(number):
        raise AssumptionError(name, f"{spec.label} must be a whole number of alerts, got {value!r}.")
