"""Mapping any transaction table onto txlab's canonical fields.

``suggest_mapping`` guesses which column feeds each canonical field from two kinds of evidence:
the column NAME (synonyms in many naming styles: ``TX_AMOUNT``, ``isFraud``, ``Value (EUR)``)
and the column's VALUE PROFILE (a 0/1 column with few ones looks like a label, parsable dates
look like a timestamp, ...). Profiles are computed on an evenly spaced sample of rows, so a
file of millions of rows is mapped as fast as one of fifty thousand.

``apply_mapping`` turns a table into a frame with canonical column names and types and a
``CoercionReport`` that says, in words a user can act on, what could not be read.
The recognition rules (synonyms, value profiles, scoring) live in ``core.mapping_rules``.

Decisions others rely on:

* Extra feature columns keep their source names in the mapped frame. A source column whose
  name is a canonical name (``amount``, ``label``, ..., ``transaction_id``) cannot be kept as
  an extra: ``apply_mapping`` raises ``MappingError`` (map it to that field or leave it out).
* Rows whose label cannot be read are left out of the mapped frame and counted in the report;
  the frame's index is reset. More than 5% such rows (or none readable) is the error
  ``label_not_binary``; fewer is the warning ``label_unreadable``.
* Mapped frame columns, in order: ``transaction_id`` (if mapped), the mapped canonical fields
  in ``FIELD_NAMES`` order, extra numeric, extra categorical. Ids, country, device and
  categorical extras are pandas ``str`` (123.0 -> "123", leading zeros kept, blank -> missing);
  amount and numeric extras float64; label int8; timestamp naive datetime64.
* A numeric timestamp below 1e8 is elapsed time, not a Unix time: it is converted as hours
  when the column's name says step/hour, days when it says day, seconds otherwise, counted
  from 1970-01-01 so order and time-of-day survive.
* Columns whose name says fraud/label or time but that were not chosen are never suggested as
  features (a second fraud flag leaks the answer; absolute time does not generalise).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.errors import MappingError
from core.mapping_rules import NOTHING_FOUND, is_yyyymmdd, label_codes, name_tokens, suggest_roles
from core.parsing import parse_datetime, parse_numeric
from core.schema import FIELD_NAMES, REQUIRED_FIELDS, TRANSACTION_ID, ColumnMapping

log = logging.getLogger(__name__)

MIN_ROWS = 500
MIN_POSITIVES = 30
MIN_POSITIVE_SHARE = 0.001
MAX_POSITIVE_SHARE = 0.5
LABEL_NOT_BINARY_SHARE = 0.05  # more unreadable label rows than this: the column is not binary
N_EXAMPLES = 5


@dataclass
class FieldSuggestion:
    """The column suggested for one canonical field (``column`` None when nothing fits)."""

    field: str
    column: str | None
    confidence: float  # in [0, 1]
    reason: str


@dataclass
class MappingSuggestion:
    """A suggested mapping: one ``FieldSuggestion`` per canonical field, in ``FIELD_NAMES`` order.

    ``left_out`` says, for every column used neither by a field nor as a feature, why.
    """

    fields: dict[str, FieldSuggestion]
    transaction_id: str | None
    extra_numeric: list[str]
    extra_categorical: list[str]
    left_out: dict[str, str] = field(default_factory=dict)

    def to_mapping(self) -> ColumnMapping:
        """The suggestion as a ``ColumnMapping`` ready for ``apply_mapping``."""
        return ColumnMapping(
            fields={name: s.column for name, s in self.fields.items()},
            extra_numeric=list(self.extra_numeric),
            extra_categorical=list(self.extra_categorical),
            transaction_id=self.transaction_id,
        )

    def to_dict(self) -> dict:
        """JSON-safe form for a ``dcc.Store`` or a sidecar file."""
        return {
            "fields": {
                name: {"column": s.column, "confidence": round(float(s.confidence), 3), "reason": s.reason}
                for name, s in self.fields.items()
            },
            "transaction_id": self.transaction_id,
            "extra_numeric": list(self.extra_numeric),
            "extra_categorical": list(self.extra_categorical),
            "left_out": dict(self.left_out),
        }


@dataclass
class ValidationMessage:
    """One finding about a mapped table; ``level`` is "error" (cannot train) or "warning"."""

    level: str
    code: str
    text: str


@dataclass
class CoercionReport:
    """What ``apply_mapping`` read, converted, dropped, and what the user should fix."""

    rows_in: int
    rows_out: int
    label_unreadable: int
    label_unreadable_examples: list[str]
    amount_unparseable: int
    amount_examples: list[str]
    timestamp_unparseable: int
    timestamp_format: str | None
    positives: int
    positive_share: float
    notes: list[str] = field(default_factory=list)
    messages: list[ValidationMessage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no message is an error."""
        return not any(m.level == "error" for m in self.messages)

    def to_dict(self) -> dict:
        """JSON-safe form, with ``ok`` included."""
        data = asdict(self)
        data["positive_share"] = float(self.positive_share)
        data["ok"] = self.ok
        return data


def suggest_mapping(df: pd.DataFrame, sample_rows: int = 50_000) -> MappingSuggestion:
    """Suggest which column feeds each canonical field, plus extra feature columns.

    Works on any frame: typed columns from ``core.ingest`` or raw strings. Profiles an evenly
    spaced sample of at most ``sample_rows`` rows (order kept, so a time step still looks
    monotone). Each column serves at most one field; conflicts go to the best confidence.
    """
    roles = suggest_roles(df, sample_rows)
    fields: dict[str, FieldSuggestion] = {}
    for name in FIELD_NAMES:
        hit = roles.chosen.get(name)
        if hit:
            fields[name] = FieldSuggestion(name, hit.column, round(hit.confidence, 3), hit.reason)
        else:
            fields[name] = FieldSuggestion(name, None, 0.0, NOTHING_FOUND[name])
    tx = roles.chosen.get(TRANSACTION_ID)
    suggestion = MappingSuggestion(fields, tx.column if tx else None, roles.extra_numeric,
                                   roles.extra_categorical, roles.left_out)
    log.info("suggested mapping for %d columns: %s", len(df.columns),
             {k: v.column for k, v in fields.items()})
    return suggestion


def apply_mapping(df: pd.DataFrame, mapping: ColumnMapping) -> tuple[pd.DataFrame, CoercionReport]:
    """Return ``df`` with canonical names and types, and a report of what was coerced.

    Raises ``MappingError`` when a mapped column is missing or used twice, or an extra column's
    name collides with a canonical name. Everything else (unreadable labels or amounts, a
    missing required field, a tiny or lopsided dataset) is reported in ``report.messages``.
    """
    mapping.check_against(list(df.columns))
    _check_extra_names(mapping)
    _check_no_duplicate_columns(df, mapping)
    report = CoercionReport(len(df), len(df), 0, [], 0, [], 0, None, 0, 0.0)
    out: dict[str, pd.Series] = {}
    if mapping.transaction_id:
        out[TRANSACTION_ID] = _to_text(df[mapping.transaction_id])
    keep = pd.Series(True, index=df.index)
    for name in FIELD_NAMES:
        column = mapping.fields.get(name)
        if column is None:
            if name in REQUIRED_FIELDS:
                report.messages.append(_missing_field_message(name))
            continue
        if name == "label":
            out[name], keep = _coerce_label(df[column], column, report)
        elif name == "amount":
            out[name] = _coerce_amount(df[column], column, report)
        elif name == "timestamp":
            out[name] = _coerce_timestamp(df[column], column, report)
        else:
            out[name] = _to_text(df[column])
    for column in mapping.extra_numeric:
        out[column] = _coerce_extra_numeric(df[column], column, report)
    for column in mapping.extra_categorical:
        out[column] = _to_text(df[column])

    frame = pd.DataFrame(out, index=df.index)
    if not keep.all():
        frame = frame.loc[keep.to_numpy()]
    frame = frame.reset_index(drop=True)
    report.rows_out = len(frame)
    _finish_label_stats(frame, report)
    _check_size_and_balance(report, has_label="label" in frame)
    for m in report.messages:
        log.info("mapping %s [%s]: %s", m.level, m.code, m.text)
    return frame, report


# --------------------------------------------------------------------------------------------
# Coercion
# --------------------------------------------------------------------------------------------

def _coerce_label(values: pd.Series, column: str, report: CoercionReport) -> tuple[pd.Series, pd.Series]:
    """int8 0/1 labels and the mask of rows to keep; reports unreadable and non-binary labels."""
    codes = label_codes(values)
    bad = codes.isna()
    report.label_unreadable = int(bad.sum())
    if report.label_unreadable:
        report.label_unreadable_examples = _examples(values[bad])
        blank_or_bad = report.label_unreadable
        if blank_or_bad > LABEL_NOT_BINARY_SHARE * max(len(values), 1) or blank_or_bad == len(values):
            report.messages.append(_label_not_binary_message(values, column))
        else:
            report.messages.append(ValidationMessage(
                "warning", "label_unreadable",
                f"{report.label_unreadable:,} rows have a label in '{column}' that cannot be read as "
                f"fraud or legitimate (e.g. {_quoted(report.label_unreadable_examples)}); "
                "they were left out. Fix those values to keep the rows."))
    labels = codes.fillna(0).astype(np.int8)
    return labels, ~bad


def _coerce_amount(values: pd.Series, column: str, report: CoercionReport) -> pd.Series:
    """float64 amounts; unparseable cells become NaN and are reported with examples."""
    numbers, bad = _to_float(values)
    report.amount_unparseable = int(bad.sum())
    report.amount_examples = _examples(values[bad]) if report.amount_unparseable else []
    readable = int(numbers.notna().sum())
    if readable == 0:
        report.messages.append(ValidationMessage(
            "error", "amount_unparseable",
            f"No value in '{column}' can be read as an amount"
            + (f" (e.g. {_quoted(report.amount_examples)})" if report.amount_examples else "")
            + ". Map the column that holds the transaction amount."))
    elif report.amount_unparseable:
        report.messages.append(ValidationMessage(
            "warning", "amount_unparseable",
            f"{report.amount_unparseable:,} amounts in '{column}' cannot be read as numbers "
            f"(e.g. {_quoted(report.amount_examples)}); they are left empty."))
    negatives = int((numbers < 0).sum())
    if negatives:
        report.notes.append(f"{negatives:,} negative amounts kept (refunds or reversals?).")
    return numbers


def _coerce_timestamp(values: pd.Series, column: str, report: CoercionReport) -> pd.Series:
    """datetime64 times from dates, Unix seconds/milliseconds or elapsed time steps."""
    if pd.api.types.is_datetime64_any_dtype(values):
        report.timestamp_format = "already date/time values"
        if getattr(values.dt, "tz", None) is not None:
            report.notes.append(f"Times in '{column}' converted to UTC.")
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        report.timestamp_unparseable = 0
        return values
    numbers = _timestamp_numbers(values)
    finite = numbers[np.isfinite(numbers)].to_numpy() if numbers is not None else np.empty(0)
    if len(finite) and is_yyyymmdd(finite):
        digits = numbers.where(np.isfinite(numbers)).astype("Int64").astype("str")
        result = pd.to_datetime(digits, format="%Y%m%d", errors="coerce")
        bad = result.isna() & _present(values)
        report.timestamp_format = "numbers written as yyyymmdd"
    elif len(finite) and finite.min() >= 0 and finite.max() < 1e8:
        unit, word = _elapsed_unit(column)
        result = pd.to_datetime(numbers.where(np.isfinite(numbers)), unit=unit)
        bad = result.isna() & _present(values)
        report.timestamp_format = f"elapsed {word} since the start (counted from 1970-01-01)"
        report.notes.append(f"'{column}' holds elapsed {word}, not dates: times are counted from "
                            "1970-01-01 so order and time of day are kept.")
    else:
        result, bad, fmt = parse_datetime(values)
        bad = pd.Series(np.asarray(bad, dtype=bool), index=values.index)
        result = pd.Series(result.to_numpy(), index=values.index)
        report.timestamp_format = fmt
    report.timestamp_unparseable = int(bad.sum())
    if report.timestamp_unparseable:
        level = "error" if report.timestamp_unparseable == int(_present(values).sum()) else "warning"
        report.messages.append(ValidationMessage(
            level, "timestamp_unparseable",
            f"{report.timestamp_unparseable:,} values in '{column}' cannot be read as dates "
            f"(e.g. {_quoted(_examples(values[bad]))}); they are left empty."
            + (" Map another column to timestamp or leave it unmapped." if level == "error" else "")))
    return result


def _coerce_extra_numeric(values: pd.Series, column: str, report: CoercionReport) -> pd.Series:
    """float64 feature values; unreadable cells become NaN with a warning naming examples."""
    numbers, bad = _to_float(values)
    if bad.any():
        report.messages.append(ValidationMessage(
            "warning", "extra_unparseable",
            f"{int(bad.sum()):,} values in feature '{column}' cannot be read as numbers "
            f"(e.g. {_quoted(_examples(values[bad]))}); they are left empty. "
            "Keep it as a categorical feature if it holds words."))
    return numbers


def _timestamp_numbers(values: pd.Series) -> pd.Series | None:
    """float64 numbers when a timestamp column holds numbers (or number text), else None."""
    if pd.api.types.is_bool_dtype(values):
        return None
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    head = values[_present(values)].head(200)
    if head.empty or parse_numeric(head)[1].any():
        return None
    numbers, bad = parse_numeric(values)
    if np.asarray(bad).sum() > 0.05 * max(int(_present(values).sum()), 1):
        return None
    return pd.Series(np.asarray(numbers, dtype="float64"), index=values.index)


def _elapsed_unit(column: object) -> tuple[str, str]:
    tokens = set(name_tokens(column))
    if tokens & {"step", "hour", "hours", "hr"}:
        return "h", "hours"
    if tokens & {"day", "days"}:
        return "D", "days"
    if tokens & {"ms", "millis", "milliseconds"}:
        return "ms", "milliseconds"
    return "s", "seconds"


def _to_float(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """float64 numbers and the mask of non-blank cells that could not be read."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), pd.Series(False, index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64"), pd.Series(False, index=values.index)
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(np.nan, index=values.index), values.notna()
    numbers, bad = parse_numeric(values)
    numbers = pd.Series(np.asarray(numbers, dtype="float64"), index=values.index)
    return numbers, pd.Series(np.asarray(bad, dtype=bool), index=values.index)


def _to_text(values: pd.Series) -> pd.Series:
    """Strings for ids and categories: 123.0 -> "123", leading zeros kept, blanks -> missing."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        text = values.astype(object).where(values.notna()).astype("str")
    elif pd.api.types.is_float_dtype(values):
        finite = values[np.isfinite(values)]
        if (finite == np.round(finite)).all() and (finite.abs() < 2**63).all():
            text = values.where(np.isfinite(values)).astype("Int64").astype("str")
        else:
            text = values.astype("str")
    elif pd.api.types.is_numeric_dtype(values):
        text = values.astype("str")
    else:
        if values.dtype == object:
            values = values.map(_cell_text, na_action="ignore")
        text = values.astype("str").str.strip()
        text = text.where(text != "")
        if text.notna().any() and text.dropna().str.fullmatch(r"-?\d+\.0+").all():
            text = text.str.replace(r"\.0+$", "", regex=True)
    return text


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _present(values: pd.Series) -> pd.Series:
    """Cells that hold something (not missing, not blank text)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values.notna()
    return values.notna() & (values.astype("str").str.strip() != "")


def _examples(values: pd.Series, n: int = N_EXAMPLES) -> list[str]:
    """Up to ``n`` distinct offending values as text, most frequent first; blanks as '(blank)'."""
    shown = values.astype(object).where(values.notna(), "(blank)").astype(str)
    shown = shown.where(shown.str.strip() != "", "(blank)")
    return [str(v) for v in shown.value_counts().index[:n]]


def _quoted(examples: list[str]) -> str:
    return ", ".join(f"'{e}'" for e in examples)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

def _check_extra_names(mapping: ColumnMapping) -> None:
    reserved = set(FIELD_NAMES) | {TRANSACTION_ID}
    for column in mapping.extra_numeric + mapping.extra_categorical:
        if str(column) in reserved:
            raise MappingError(
                f"Column '{column}' is kept as an extra feature, but '{column}' is the name of a "
                f"canonical field. Map it to the field '{column}' or leave it out.")


def _check_no_duplicate_columns(df: pd.DataFrame, mapping: ColumnMapping) -> None:
    dup = set(df.columns[df.columns.duplicated()])
    for column in mapping.used_columns():
        if column in dup:
            raise MappingError(f"The dataset has more than one column named '{column}'; rename one.")


def _missing_field_message(name: str) -> ValidationMessage:
    what = {"amount": "the transaction amount", "label": "1 for fraud and 0 for legitimate"}[name]
    return ValidationMessage("error", "missing_field",
                             f"No column is mapped to '{name}', which is required: pick the column "
                             f"that holds {what}.")


def _label_not_binary_message(values: pd.Series, column: str) -> ValidationMessage:
    shown = _examples(values, n=8)
    distinct = int(values.nunique(dropna=True))
    if distinct == 0:
        return ValidationMessage("error", "label_not_binary",
                                 f"The label column '{column}' is empty: pick the column that holds "
                                 "1 for fraud and 0 for legitimate.")
    return ValidationMessage(
        "error", "label_not_binary",
        f"The label column '{column}' is not binary: it has {distinct:,} distinct values "
        f"({_quoted(shown)}). A label needs two, such as 1/0, yes/no, true/false or fraud/legit: "
        "pick another column or recode this one.")


def _finish_label_stats(frame: pd.DataFrame, report: CoercionReport) -> None:
    if "label" in frame and len(frame):
        report.positives = int(frame["label"].sum())
        report.positive_share = report.positives / len(frame)


def _check_size_and_balance(report: CoercionReport, has_label: bool) -> None:
    if report.rows_out == 0:
        report.messages.append(ValidationMessage("error", "no_rows", "No rows are left to train on."))
        return
    if not has_label:
        return
    if report.rows_out < MIN_ROWS or report.positives < MIN_POSITIVES:
        report.messages.append(ValidationMessage(
            "warning", "too_small",
            f"{report.rows_out:,} rows with {report.positives:,} fraud cases: too small to train "
            f"reliably. Aim for at least {MIN_ROWS} rows and {MIN_POSITIVES} fraud cases."))
    share = report.positive_share
    if share < MIN_POSITIVE_SHARE or share > MAX_POSITIVE_SHARE:
        hint = ("check that 1 means fraud, not legitimate" if share > MAX_POSITIVE_SHARE
                else "the model will see almost no fraud; add fraud cases or more data")
        report.messages.append(ValidationMessage(
            "warning", "imbalanced",
            f"{share:.2%} of rows are fraud: extremely imbalanced; {hint}."))
