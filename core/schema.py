"""Canonical transaction fields and the mapping from a file's columns onto them."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import MappingError


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field: its role, whether a model needs it, and a line of help."""

    name: str
    kind: str  # "id" | "number" | "category" | "label" | "datetime"
    required: bool
    help: str


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("amount", "number", True, "Transaction amount in the account currency."),
    FieldSpec("label", "label", True, "1 for fraud, 0 for legitimate."),
    FieldSpec("user_id", "id", False, "Customer, card or account that paid."),
    FieldSpec("merchant_id", "id", False, "Merchant, terminal or payee."),
    FieldSpec("country", "category", False, "Country of the transaction or card."),
    FieldSpec("device_type", "category", False, "Channel or device (web, mobile, POS, ...)."),
    FieldSpec("timestamp", "datetime", False, "When the transaction happened."),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
REQUIRED_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
FIELD_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}
# Recognised so it is never used as a feature; kept in the mapped frame for joins and exports.
TRANSACTION_ID = "transaction_id"


@dataclass
class ColumnMapping:
    """Which source column feeds each canonical field, plus extra feature columns.

    ``fields`` maps a canonical name to a source column name (or None when absent).
    ``extra_numeric`` and ``extra_categorical`` are source columns kept as model features
    under their own names; ``transaction_id`` is kept but never used as a feature.
    """

    fields: dict[str, str | None] = field(default_factory=dict)
    extra_numeric: list[str] = field(default_factory=list)
    extra_categorical: list[str] = field(default_factory=list)
    transaction_id: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.fields) - set(FIELD_NAMES)
        if unknown:
            raise MappingError(f"Unknown canonical field(s): {', '.join(sorted(unknown))}")
        self.fields = {name: self.fields.get(name) or None for name in FIELD_NAMES}

    def used_columns(self) -> list[str]:
        """Every source column the mapping reads, in a stable order."""
        cols = [c for c in self.fields.values() if c]
        cols += self.extra_numeric + self.extra_categorical
        if self.transaction_id:
            cols.append(self.transaction_id)
        return cols

    def check_against(self, columns: list[str]) -> None:
        """Raise ``MappingError`` naming a column that is missing or used twice."""
        available = set(columns)
        seen: dict[str, str] = {}
        roles = [(f, c) for f, c in self.fields.items() if c]
        roles += [("extra numeric feature", c) for c in self.extra_numeric]
        roles += [("extra categorical feature", c) for c in self.extra_categorical]
        if self.transaction_id:
            roles.append((TRANSACTION_ID, self.transaction_id))
        for role, col in roles:
            if col not in available:
                raise MappingError(f"Column '{col}' chosen for {role} is not in the dataset.")
            if col in seen:
                raise MappingError(f"Column '{col}' is used twice: for {seen[col]} and for {role}.")
            seen[col] = role

    def to_dict(self) -> dict:
        return {
            "fields": dict(self.fields),
            "extra_numeric": list(self.extra_numeric),
            "extra_categorical": list(self.extra_categorical),
            "transaction_id": self.transaction_id,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ColumnMapping":
        if not isinstance(data, dict):
            raise MappingError("A mapping must be a JSON object.")
        return cls(
            fields=dict(data.get("fields") or {}),
            extra_numeric=list(data.get("extra_numeric") or []),
            extra_categorical=list(data.get("extra_categorical") or []),
            transaction_id=data.get("transaction_id") or None,
        )
