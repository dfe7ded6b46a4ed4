"""How a column is recognised as a canonical field: its name, its values, or both.

A column's NAME is split into words (camelCase, UPPER_SNAKE, spaces, digits) and compared with
synonyms in several languages and naming styles; its VALUES are profiled on a sample (0/1 with
few ones, parsable dates, positive skewed numbers, ISO country codes, ...). Each (field, column)
pair gets a confidence in [0, 1] and a one-line reason; columns are then given to fields best
confidence first, one field per column. Columns left over become extra features or are left
out with a reason (ids, free text, dates, near-copies of the label or of an id).

``core.mapping`` wraps this into the public ``MappingSuggestion``; nothing here is user-facing.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.parsing import parse_datetime, parse_numeric
from core.schema import FIELD_NAMES, TRANSACTION_ID

log = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.2  # below this a field is left unmapped
VALUE_ONLY_MIN = 0.6  # a column with no name match needs a value score at least this strong


@dataclass
class Candidate:
    """One column proposed for one role (a canonical field or ``transaction_id``)."""

    role: str
    column: object
    confidence: float
    reason: str
    name_score: float


@dataclass
class RoleSuggestion:
    """The chosen column per role, and what to do with every other column."""

    chosen: dict[str, Candidate]
    extra_numeric: list
    extra_categorical: list
    left_out: dict[str, str]


def suggest_roles(df: pd.DataFrame, sample_rows: int) -> RoleSuggestion:
    """Score every column for every role on an evenly spaced sample, then assign one-to-one."""
    sample = _even_sample(df, sample_rows)
    profiles = [_profile(col, sample[col]) for col in _unique_columns(df)]
    scored = {p.column: _score_roles(p) for p in profiles}
    chosen = _assign(scored)
    used = {c.column for c in chosen.values()}
    numeric, categorical, left_out = _classify_leftovers(profiles, scored, used, chosen, sample)
    return RoleSuggestion(chosen, numeric, categorical, left_out)


def label_codes(values: pd.Series) -> pd.Series:
    """1.0 / 0.0 per row for readable labels (0/1, true/false, yes/no, y/n, fraud/legit), NaN otherwise.

    Reads each distinct value once, so a million-row label column costs one factorize.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([_label_code(u) for u in uniques] + [np.nan], dtype=float)
    return pd.Series(table[codes], index=values.index)  # code -1 (missing) picks the trailing NaN


def name_tokens(column: object) -> list[str]:
    """Split a column name into lowercase words: camelCase, UPPER_SNAKE, spaces, digits."""
    text = str(column)
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    text = re.sub(r"([A-Za-z])([0-9])", r"\1 \2", text)
    return [t for t in re.split(r"[\W_]+", text.lower()) if t]


# --------------------------------------------------------------------------------------------
# Names: normalising and matching synonyms
# --------------------------------------------------------------------------------------------

def _phrases(*items: str) -> frozenset[str]:
    return frozenset(re.sub(r"[^0-9a-zäöüß]", "", s.lower()) for s in items)


@dataclass(frozen=True)
class _Vocab:
    """Name evidence for one role: whole-name synonyms, telling words, and words that veto."""

    exact: frozenset[str]  # compact names (no separators), e.g. "txamount"
    tokens: frozenset[str]
    veto: frozenset[str] = frozenset()


_VOCAB: dict[str, _Vocab] = {
    "amount": _Vocab(
        _phrases("amount", "amt", "transaction amount", "trans amount", "value", "betrag", "montant",
                 "importe", "sum", "price", "amount eur", "amount usd", "purchase amount",
                 "payment amount", "total amount", "invoice amount", "umsatz", "charge amount"),
        frozenset({"amount", "amt", "betrag", "montant", "importe", "price", "sum", "umsatz"}),
        frozenset({"balance", "oldbalance", "newbalance", "id", "count", "cnt", "avg", "mean", "std"}),
    ),
    "label": _Vocab(
        _phrases("label", "class", "fraud", "is fraud", "fraud label", "fraud flag", "is fraudulent",
                 "fraudulent", "target", "y", "chargeback", "is chargeback", "betrug", "fraude",
                 "fraud indicator", "cbk"),
        frozenset({"fraud", "fraudulent", "label", "class", "target", "chargeback", "betrug", "fraude", "cbk"}),
        frozenset({"scenario", "type", "score", "prob", "probability", "rate", "count", "reason", "amount"}),
    ),
    "user_id": _Vocab(
        _phrases("user id", "user", "userid", "customer id", "customer", "client id", "client",
                 "cust id", "account id", "account", "card id", "card number", "cc num", "card",
                 "card 1", "name orig", "cardholder", "payer", "sender", "customer ref",
                 "customer number", "kunden id", "kundennummer", "kunde", "kunden nr", "member id",
                 "uid", "pan", "account number"),
        frozenset({"user", "customer", "client", "cust", "account", "acct", "card", "cc", "cardholder",
                   "payer", "sender", "orig", "kunde", "kunden", "member", "uid", "originator"}),
        frozenset({"first", "last", "gender", "dob", "birth", "job", "street", "city", "state", "zip",
                   "lat", "long", "age", "type", "category", "country", "brand", "bank", "expiry",
                   "balance", "oldbalance", "newbalance", "present", "amount"}),
    ),
    "merchant_id": _Vocab(
        _phrases("merchant id", "merchant", "merchant name", "terminal id", "terminal", "name dest",
                 "shop", "shop name", "shop id", "store", "store id", "payee", "recipient", "receiver",
                 "vendor", "seller", "retailer", "händler", "haendler", "merchant ref", "acceptor",
                 "dest", "mid", "beneficiary"),
        frozenset({"merchant", "merch", "terminal", "shop", "store", "payee", "recipient", "receiver",
                   "dest", "vendor", "seller", "retailer", "händler", "haendler", "beneficiary"}),
        frozenset({"category", "cat", "type", "mcc", "lat", "long", "zip", "city", "state", "country",
                   "balance", "oldbalance", "newbalance", "amount", "risk"}),
    ),
    "country": _Vocab(
        _phrases("country", "country code", "ctry", "cntry", "nation", "land", "pays", "pais",
                 "iso country", "country iso", "billing country", "card country", "merchant country",
                 "ip country", "country name"),
        frozenset({"country", "ctry", "cntry", "nation", "land", "pays", "pais"}),
        frozenset({"currency", "state", "city", "zip", "region", "risk"}),
    ),
    "device_type": _Vocab(
        _phrases("device type", "device", "channel", "platform", "entry mode", "pos entry mode",
                 "terminal type", "medium", "sales channel", "kanal", "gerät", "geraet", "canal",
                 "appareil", "device category", "os", "browser", "device os"),
        frozenset({"device", "channel", "platform", "kanal", "gerät", "geraet", "canal", "appareil", "browser"}),
        frozenset({"id", "info", "version", "risk"}),
    ),
    "timestamp": _Vocab(
        _phrases("timestamp", "time", "date", "datetime", "date time", "dt", "ts", "trans date trans time",
                 "transaction date", "transaction time", "event time", "event timestamp", "created at",
                 "step", "unix time", "time stamp", "datum", "zeit", "buchungsdatum", "booking date",
                 "fecha", "posted at", "value date", "transaction datetime"),
        frozenset({"time", "date", "datetime", "timestamp", "ts", "step", "datum", "zeit", "fecha", "hour"}),
        frozenset({"dob", "birth", "birthday", "expiry", "expiration", "exp", "opened", "open", "signup",
                   "registration", "since"}),
    ),
    TRANSACTION_ID: _Vocab(
        _phrases("transaction id", "id", "tx id", "txn id", "trans id", "trans num", "transaction number",
                 "transaction ref", "trans ref", "tran id", "reference", "payment id", "order id",
                 "event id", "transaction reference", "transaktion", "transaktions id", "transaktionsnummer",
                 "buchungs id", "belegnummer", "id transaccion", "id transaction"),
        frozenset(),  # partial matches are handled by _TX_WORDS x _ID_WORDS
        frozenset({"user", "customer", "client", "account", "card", "merchant", "terminal", "device", "type"}),
    ),
}
_CANONICAL = {name: _phrases(name) for name in (*FIELD_NAMES, TRANSACTION_ID)}
_CANONICAL_COMPACT = frozenset().union(*_CANONICAL.values())
_FILLER = frozenset({"tx", "txn", "trans", "transaction", "is", "the", "of", "in", "eur", "usd", "gbp", "chf"})
_TX_WORDS = frozenset({"transaction", "tx", "txn", "trans", "tran", "payment", "order"})
_ID_WORDS = frozenset({"id", "num", "number", "no", "nr", "ref", "key", "uuid"})
_ROLES = (*FIELD_NAMES, TRANSACTION_ID)
# Values cannot tell a customer id from a merchant id (or a row id), so these need a name match.
_NAME_ONLY_ROLES = frozenset({"user_id", "merchant_id", TRANSACTION_ID})


def _compact(tokens: list[str]) -> str:
    return "".join(tokens)


def _name_score(role: str, tokens: list[str]) -> tuple[float, str]:
    """How strongly a column name suggests ``role``: (score in [0,1], reason fragment)."""
    vocab = _VOCAB[role]
    words = [t for t in tokens if not t.isdigit()]
    compact = _compact(tokens)
    if not tokens or set(words) & vocab.veto:
        return 0.0, ""
    if compact in _CANONICAL[role]:
        return 1.0, "is the canonical name"
    stripped = _compact([t for t in tokens if t not in _FILLER])
    if compact in vocab.exact or (stripped and stripped in vocab.exact):
        return 0.9, f"is a synonym of {role}"
    if role == TRANSACTION_ID:
        if set(words) & _TX_WORDS and set(words) & _ID_WORDS:
            return 0.8, "names a transaction id"
        return 0.0, ""
    hit = next((t for t in words if t in vocab.tokens), None)
    if hit:
        return 0.6, f"contains '{hit}'"
    hit = next((t for t in sorted(vocab.tokens) if len(t) >= 5 and t in compact), None)
    if hit:
        return 0.5, f"contains '{hit}'"
    return 0.0, ""


# --------------------------------------------------------------------------------------------
# Value profiles
# --------------------------------------------------------------------------------------------

@dataclass
class _Profile:
    """What a sample of one column looks like; computed once, read by every role's scorer."""

    column: str
    tokens: list[str]
    kind: str  # "empty" | "bool" | "numeric" | "datetime" | "text"
    non_null: int
    n_unique: int
    counts: pd.Series  # value counts of the sample (text form for text columns), most common first
    numbers: np.ndarray  # finite numbers in row order (numeric and numeric-looking text)
    from_text: bool = False
    date_rate: float = 0.0  # share of text values that parse as dates
    date_example: str = ""
    label_share: float = 0.0  # share of values readable as a 0/1 label
    label_positive: float = 0.0  # share of positives among readable values


def _even_sample(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` evenly spaced rows, in their original order."""
    if len(df) <= n:
        return df
    positions = np.unique(np.linspace(0, len(df) - 1, max(n, 1)).astype(np.int64))
    return df.iloc[positions]


def _unique_columns(df: pd.DataFrame) -> list:
    seen, cols = set(), []
    for c in df.columns:
        if c not in seen:
            seen.add(c)
            cols.append(c)
    return cols


def _profile(column: object, values: pd.Series) -> _Profile:
    """Profile one sampled column (see ``_Profile``)."""
    if isinstance(values, pd.DataFrame):  # duplicated column name: profile the first
        values = values.iloc[:, 0]
    tokens = name_tokens(column)
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return _profile_bool(column, tokens, present)
    if pd.api.types.is_datetime64_any_dtype(values):
        counts = present.value_counts()
        return _Profile(column, tokens, "datetime", len(present), len(counts), counts, np.empty(0))
    if pd.api.types.is_numeric_dtype(values):
        return _profile_numeric(column, tokens, present)
    return _profile_text(column, tokens, present)


def _profile_bool(column: object, tokens: list[str], present: pd.Series) -> _Profile:
    numbers = present.astype(float).to_numpy()
    counts = present.value_counts()
    p = _Profile(column, tokens, "bool", len(present), len(counts), counts, numbers)
    p.label_share = 1.0 if len(present) else 0.0
    p.label_positive = float(numbers.mean()) if len(numbers) else 0.0
    return p


def _profile_numeric(column: object, tokens: list[str], present: pd.Series) -> _Profile:
    numbers = present.to_numpy(dtype=float, na_value=np.nan)
    numbers = numbers[np.isfinite(numbers)]
    n_unique = len(pd.unique(present.to_numpy()))
    # Full counts are only read for few-valued columns (label check); skip the sort otherwise.
    counts = present.value_counts() if n_unique <= 12 else pd.Series(dtype="int64")
    kind = "numeric" if len(numbers) else "empty"
    p = _Profile(column, tokens, kind, len(present), n_unique, counts, numbers)
    _label_readability(p, counts)
    return p


def _profile_text(column: object, tokens: list[str], present: pd.Series) -> _Profile:
    text = present.astype(str).str.strip()
    text = text[text != ""]
    counts = text.value_counts()
    p = _Profile(column, tokens, "text" if len(text) else "empty", len(text), len(counts), counts, np.empty(0))
    if not len(text):
        return p
    _label_readability(p, counts)
    small = _even_sample(text.to_frame(), 2000).iloc[:, 0]
    numbers, bad = parse_numeric(small.reset_index(drop=True))
    if len(small) and bad.mean() <= 0.05 and numbers.notna().mean() >= 0.95:
        p.kind, p.from_text = "numeric", True
        p.numbers = numbers.dropna().to_numpy(dtype=float)
        return p
    if small.str.count(r"\d").ge(4).mean() >= 0.9:  # dates hold at least 4 digits ("M2" is not one)
        distinct = pd.Series(small.drop_duplicates().head(200).to_numpy(), dtype=object)
        _, unparseable, _ = parse_datetime(distinct)
        p.date_rate = 1.0 - float(np.asarray(unparseable, dtype=bool).mean())
        p.date_example = str(distinct.iloc[0])
    return p


def _label_readability(p: _Profile, counts: pd.Series) -> None:
    """Fill the share of values readable as a 0/1 label, and the positive share among them."""
    if p.non_null == 0 or len(counts) > 12:
        return
    codes = pd.Series([_label_code(v) for v in counts.index], index=counts.index, dtype=float)
    readable = counts[codes.notna()]
    p.label_share = float(readable.sum() / p.non_null)
    if readable.sum():
        p.label_positive = float((readable * codes[codes.notna()]).sum() / readable.sum())


# --------------------------------------------------------------------------------------------
# Scoring columns for roles
# --------------------------------------------------------------------------------------------

def _score_roles(p: _Profile) -> dict[str, Candidate]:
    """Every role this column could play, with confidence and a one-line reason."""
    out: dict[str, Candidate] = {}
    for role in _ROLES:
        name_score, name_why = _name_score(role, p.tokens)
        value_score, value_why = _VALUE_SCORERS[role](p)
        if set(p.tokens) & _VOCAB[role].veto:
            continue
        if name_score > 0:
            if role == TRANSACTION_ID and value_score == 0:
                continue
            confidence = 0.35 * name_score if value_score == 0 else 0.6 * name_score + 0.4 * value_score
            name_part = f"name '{p.column}' {name_why}"
            if value_score > 0:
                reason = f"{name_part}; {value_why}"
            else:
                reason = f"{name_part}, but values are {value_why or 'unlike it'}"
        elif value_score >= VALUE_ONLY_MIN and role not in _NAME_ONLY_ROLES:
            confidence = 0.5 * value_score
            reason = f"values look like {_ROLE_WORDS[role]}: {value_why}"
        else:
            continue
        if confidence >= MIN_CONFIDENCE:
            out[role] = Candidate(role, p.column, min(1.0, confidence), reason, name_score)
    return out


def _assign(scored: dict[object, dict[str, Candidate]]) -> dict[str, Candidate]:
    """Greedy one-to-one assignment of columns to roles, best confidence first."""
    pairs = [c for by_role in scored.values() for c in by_role.values()]
    order = {role: i for i, role in enumerate(_ROLES)}
    pairs.sort(key=lambda c: (-c.confidence, order[c.role]))
    chosen: dict[str, Candidate] = {}
    used: set = set()
    for cand in pairs:
        if cand.role in chosen or cand.column in used:
            continue
        chosen[cand.role] = cand
        used.add(cand.column)
    return chosen


def _score_amount(p: _Profile) -> tuple[float, str]:
    x = p.numbers
    if p.kind != "numeric" or len(x) < 3:
        return 0.0, "not numbers"
    if np.isin(x, (0.0, 1.0)).all():
        return 0.0, "only 0/1 values"
    if (x < 0).mean() > 0.05:
        return 0.0, "often negative"
    score, words, notes = 0.4, ["non-negative"], []
    median = float(np.median(x))
    if pd.Series(x).skew() > 0.5 or x.mean() > 1.2 * median:
        score += 0.3
        words.append("right-skewed")
    if (np.abs(x - np.round(x)) > 1e-9).any():
        score += 0.2
        notes.append("with decimals")
    notes.append(f"median {median:,.2f}")
    if p.n_unique < 10:
        score *= 0.3
        notes.append(f"only {p.n_unique} distinct values")
    if _is_monotone(x):
        score *= 0.3
        notes.append("always increasing")
    return score, f"{', '.join(words)} numbers ({'; '.join(notes)})"


def _score_label(p: _Profile) -> tuple[float, str]:
    if p.label_share < 0.95 or p.n_unique > 12:
        return 0.0, "not a two-valued column"
    share = p.label_positive
    kinds = "/".join(sorted({str(v).strip().lower() for v in p.counts.index}))
    if share == 0:
        return 0.3, f"{kinds} values, none positive in the sample"
    if share <= 0.2:
        score = 1.0 - share * 0.5
    elif share <= 0.5:
        score = 0.7
    else:
        score = 0.3
    return score, f"{kinds} values with {share:.1%} positive"


def _score_timestamp(p: _Profile) -> tuple[float, str]:
    if p.kind == "datetime":
        return 1.0, "date/time values"
    if p.kind == "text":
        if p.date_rate >= 0.9:
            return 0.9, f"parsable dates (e.g. '{p.date_example}')"
        return 0.0, "not dates"
    if p.kind != "numeric" or len(p.numbers) < 2:
        return 0.0, "not dates or times"
    x = p.numbers
    lo, hi = float(x.min()), float(x.max())
    if is_yyyymmdd(x):
        return 0.8, "dates written as yyyymmdd numbers"
    if 9.4e8 <= lo and hi <= 2.2e9:
        return 0.8, "numbers in the range of Unix seconds"
    if 9.4e11 <= lo and hi <= 2.2e12:
        return 0.8, "numbers in the range of Unix milliseconds"
    if lo < 0:
        return 0.0, "negative"
    diffs = np.diff(x)
    if len(x) > 2 and (diffs >= 0).all():
        if (diffs == 1).all():
            return 0.1, "a running row number"
        integer = bool((x == np.round(x)).all())
        if integer and (diffs == 0).any():
            return 0.6, "increasing integers (a time step)"
        return 0.5, "increasing numbers (elapsed time)"
    return 0.3, "non-negative numbers (elapsed time?)"


def _score_id(p: _Profile) -> tuple[float, str]:
    if p.kind in ("empty", "bool", "datetime"):
        return 0.0, "not ids"
    if p.kind == "numeric" and (np.abs(p.numbers - np.round(p.numbers)) > 1e-9).any():
        return 0.0, "numbers with decimals"
    what = "integer ids" if p.kind == "numeric" else "codes"
    if p.n_unique >= 10:
        return 0.9, f"{what} with {p.n_unique:,} distinct values in the sample"
    if p.n_unique >= 2:
        return 0.5, f"only {p.n_unique} distinct values"
    return 0.0, "a single value"


def _score_country(p: _Profile) -> tuple[float, str]:
    if p.kind != "text" or p.n_unique > 400:
        return (0.2, "numeric codes") if p.kind == "numeric" else (0.0, "not country codes")
    values = pd.Series(p.counts.index.astype(str).str.upper(), index=p.counts.index)
    iso = values.isin(_ISO_COUNTRIES)
    share = float(p.counts[iso.to_numpy()].sum() / p.non_null)
    top = ", ".join(values[iso].head(3))
    if share >= 0.8:
        return 0.9, f"ISO country codes ({top})"
    if values.str.fullmatch(r"[A-Z]{2,3}").mean() >= 0.8:
        return 0.5, "2-3 letter codes"
    return (0.3, f"{p.n_unique} distinct words") if p.n_unique <= 60 else (0.0, "too many distinct values")


def _score_device(p: _Profile) -> tuple[float, str]:
    if p.kind != "text" or p.n_unique > 50:
        return 0.0, "not a short list of words"
    words = pd.Series([" ".join(name_tokens(v)) for v in p.counts.index], index=p.counts.index)
    hit = words.isin(_DEVICE_WORDS).to_numpy()
    share = float(p.counts[hit].sum() / p.non_null)
    if share >= 0.5:
        return 0.9, f"device/channel words ({', '.join(map(str, p.counts.index[hit][:3]))})"
    return 0.4, f"{p.n_unique} distinct words"


def _score_transaction_id(p: _Profile) -> tuple[float, str]:
    if p.kind in ("empty", "bool", "datetime") or p.non_null == 0:
        return 0.0, "not ids"
    if p.n_unique >= 0.98 * p.non_null:
        return 1.0, "a unique value per row"
    return 0.0, "values repeat"


_VALUE_SCORERS = {
    "amount": _score_amount,
    "label": _score_label,
    "user_id": _score_id,
    "merchant_id": _score_id,
    "country": _score_country,
    "device_type": _score_device,
    "timestamp": _score_timestamp,
    TRANSACTION_ID: _score_transaction_id,
}
_ROLE_WORDS = {
    "amount": "an amount", "label": "a fraud label", "user_id": "a customer id",
    "merchant_id": "a merchant id", "country": "a country", "device_type": "a device or channel",
    "timestamp": "a time", TRANSACTION_ID: "a transaction id",
}
NOTHING_FOUND = {
    "amount": "no column looks like an amount (positive numbers, usually right-skewed)",
    "label": "no column looks like a fraud label (0/1, yes/no, true/false or fraud/legit)",
    "user_id": "no column is named like a customer, card or account id",
    "merchant_id": "no column is named like a merchant, shop or terminal id",
    "country": "no column looks like a country",
    "device_type": "no column looks like a device or channel",
    "timestamp": "no column looks like a date, a Unix time or a time step",
}


def is_yyyymmdd(x: np.ndarray) -> bool:
    """True when every number reads as a calendar date written yyyymmdd (20240131)."""
    if len(x) == 0 or x.min() < 19000101 or x.max() > 21001231 or (x != np.round(x)).any():
        return False
    month, day = (x // 100) % 100, x % 100
    return bool(((month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)).all())


def _is_monotone(x: np.ndarray) -> bool:
    return len(x) > 2 and bool((np.diff(x) >= 0).all())


# --------------------------------------------------------------------------------------------
# Columns left after the fields: features or left out
# --------------------------------------------------------------------------------------------

def _classify_leftovers(
    profiles: list[_Profile],
    scored: dict[object, dict[str, Candidate]],
    used: set,
    chosen: dict[str, Candidate],
    sample: pd.DataFrame,
) -> tuple[list[str], list[str], dict[str, str]]:
    """Split unused columns into extra numeric, extra categorical and left out (with why)."""
    label = chosen.get("label")
    codes = label_codes(_first(sample[label.column])) if label else None
    id_columns = [chosen[r].column for r in ("user_id", "merchant_id") if r in chosen]
    numeric: list[str] = []
    categorical: list[str] = []
    left_out: dict[str, str] = {}
    for p in profiles:
        if p.column in used:
            continue
        why = _exclusion_reason(p, scored[p.column], codes, sample, id_columns)
        if why:
            left_out[str(p.column)] = why
        elif p.kind in ("numeric", "bool"):
            numeric.append(p.column)
        else:
            categorical.append(p.column)
    return numeric, categorical, left_out


def _exclusion_reason(
    p: _Profile,
    roles: dict[str, Candidate],
    labels: pd.Series | None,
    sample: pd.DataFrame,
    id_columns: list,
) -> str | None:
    """Why this unused column should not be a feature, or None when it is a fine feature."""
    if _compact(p.tokens) in _CANONICAL_COMPACT:
        return "its name is a canonical field name; map it to that field or rename it"
    if p.kind == "empty":
        return "empty"
    if p.n_unique < 2:
        return "a single value"
    if p.kind == "datetime" or (p.kind == "text" and p.date_rate >= 0.9):
        return "a date: only the timestamp field carries time"
    if _name_score("label", p.tokens)[0] > 0:
        return "its name suggests a fraud flag: kept out so the model cannot read the answer"
    if _name_score("timestamp", p.tokens)[0] > 0 and p.kind == "numeric":
        return "another time column: absolute time does not generalise to new data"
    values = _first(sample[p.column])
    if labels is not None and _near_copy_of_label(p, values, labels):
        return "a near-copy of the label: it would leak the answer"
    for id_col in id_columns:
        if _one_to_one(values, _first(sample[id_col])):
            return f"the same entity as '{id_col}' under another code"
    if p.kind == "numeric":
        x = p.numbers
        integer = bool((x == np.round(x)).all())
        if integer and p.non_null >= 20 and p.n_unique >= 0.95 * p.non_null:
            return "near-unique integers: looks like an id or a row number"
        return None
    if p.kind == "bool":
        return None
    limit = min(1000, max(20, int(0.2 * p.non_null)))
    if p.n_unique > limit or p.n_unique > 0.5 * p.non_null:
        return f"{p.n_unique:,} distinct text values: looks like an id or free text"
    return None


def _first(values: pd.Series | pd.DataFrame) -> pd.Series:
    return values.iloc[:, 0] if isinstance(values, pd.DataFrame) else values


def _near_copy_of_label(p: _Profile, values: pd.Series, labels: pd.Series) -> bool:
    """True when the column predicts the label almost perfectly (|r| or correlation ratio >= 0.95)."""
    ok = labels.notna().to_numpy()
    y = labels.to_numpy(dtype=float)[ok]
    if len(y) < 3 or y.std() == 0:
        return False
    candidates = []
    if p.kind == "bool" or (p.kind == "numeric" and not p.from_text):
        candidates.append(pd.Series(values.to_numpy(dtype=float, na_value=np.nan)[ok]))
    if p.n_unique <= min(200, len(y) / 5):  # enough rows per value for group means to mean something
        groups = pd.Series(values.to_numpy()[ok]).astype(str).to_numpy()
        candidates.append(pd.Series(y).groupby(groups).transform("mean"))  # correlation ratio
    return any(_abs_corr(x, y) >= 0.95 for x in candidates)


def _abs_corr(x: pd.Series, y: np.ndarray) -> float:
    xs = x.to_numpy(dtype=float, na_value=np.nan)
    both = np.isfinite(xs)
    xs, ys = xs[both], y[both]
    if len(xs) < 3 or xs.std() == 0 or ys.std() == 0:
        return 0.0
    return abs(float(np.corrcoef(xs, ys)[0, 1]))


def _one_to_one(a: pd.Series, b: pd.Series) -> bool:
    """True when two columns name the same entities under different codes (a bijection)."""
    pair = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()}).dropna()
    na, nb = pair["a"].nunique(), pair["b"].nunique()
    if na < 10 or na != nb or na > 0.9 * len(pair):  # unique-per-row columns pair up trivially
        return False
    return len(pair.drop_duplicates()) == na


# --------------------------------------------------------------------------------------------
# Reading label values
# --------------------------------------------------------------------------------------------

_POSITIVE = frozenset({"1", "true", "t", "yes", "y", "fraud", "fraudulent"})
_NEGATIVE = frozenset({"0", "false", "f", "no", "n", "legit", "legitimate", "genuine", "non fraud", "not fraud"})


def _label_code(value: object) -> float:
    """1.0 / 0.0 for a readable label value, NaN otherwise (case and spaces ignored)."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if value in (0, 1) else np.nan
    text = " ".join(str(value).strip().lower().replace("-", " ").replace("_", " ").split())
    if text in _POSITIVE:
        return 1.0
    if text in _NEGATIVE:
        return 0.0
    try:
        number = float(text)
    except ValueError:
        return np.nan
    return number if number in (0.0, 1.0) else np.nan


# --------------------------------------------------------------------------------------------
# Reference vocabularies
# --------------------------------------------------------------------------------------------

_ISO_COUNTRIES = frozenset((
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR "
    "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ "
    "EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW "
    "GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY "
    "KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV "
    "MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
    "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG "
    "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA "
    "ZM ZW UK EU "
    "USA GBR DEU FRA ITA ESP NLD BEL AUT CHE SWE NOR DNK FIN POL PRT IRL GRC CZE HUN ROU BGR HRV "
    "SVK SVN LTU LVA EST LUX MLT CYP ISL CAN MEX BRA ARG CHL COL PER VEN URY ECU BOL PRY CHN JPN "
    "KOR IND IDN THA VNM PHL MYS SGP PAK BGD LKA NPL AUS NZL ZAF NGA EGY KEN MAR DZA TUN GHA ETH "
    "TZA UGA RUS UKR BLR TUR ISR SAU ARE QAT KWT IRN IRQ JOR LBN HKG TWN MAC KAZ UZB GEO ARM AZE "
    "SRB BIH MKD ALB MNE MDA CUB DOM JAM PAN CRI GTM HND SLV NIC PRI TTO"
).split())
_DEVICE_WORDS = frozenset({
    "web", "mobile", "mobile app", "app", "pos", "atm", "desktop", "ios", "android", "tablet",
    "online", "ecom", "ecommerce", "e commerce", "in store", "instore", "store", "card present",
    "card not present", "cnp", "cp", "phone", "moto", "browser", "contactless", "chip", "swipe",
    "magstripe", "nfc", "ivr", "call center", "branch", "kiosk", "terminal", "smartphone", "laptop",
    "pc", "windows", "mac", "macos", "linux", "wallet", "api", "internet", "web browser",
    "mobile web", "telephone", "mail order", "in app", "handy", "filiale",
})
