"""Seeded transaction simulator with fraud that can only be learned from behaviour.

The world: users with a home country and town, a usual device, a spending level, their own
taste in categories and a handful of favourite merchants; merchants with a category (which sets
amount scale, channel and daily rhythm), a power-law popularity, a base risk and a place: online
merchants serve everyone, a physical category's biggest names are national chains (one country)
and the rest are local shops (one town). Users shop where people do: a favourite (and a new
merchant tried on the way) is drawn by popularity x locality x taste, i.e. a category by the
user's taste, then online / a chain of their country / a shop of their town (now and then of
another town), then a merchant there by popularity; some new merchants come from anywhere, by
global popularity. Legitimate traffic has a daily and weekly rhythm, plus two look-alikes of
fraud (trips abroad, switching to a new device) so that no single raw column gives the fraud away.

Fraud comes from three scenarios, each in its own function:

- ``compromised_merchant``: a merchant's terminal is compromised for a few days; its own
  customers' cards are charged there repeatedly, for more than they usually spend.
- ``account_takeover``: a user suddenly pays from a device they never use and from abroad,
  a burst of large amounts within hours.
- ``card_testing``: many tiny amounts at many different online merchants within minutes,
  then one large purchase.

Everything is vectorised numpy. The seed feeds separate random streams (merchants and users,
shopping preferences, legitimate traffic, each fraud scenario), so changing how one part draws
leaves the others' draws alone; the same config gives byte-identical output. The fraud row
count is exactly ``round(rows * fraud_rate)``.
"""
from __future__ import annotations

import gzip as _gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from core.errors import TxlabError
from core.files import replacing

__all__ = [
    "SynthConfig",
    "SynthConfigError",
    "generate",
    "write_dataset",
    "COLUMNS",
    "SCENARIOS",
    "CATEGORIES",
    "DEVICES",
    "COUNTRIES",
    "MIN_FRAUD_ROWS",
]

COLUMNS: Final = (
    "transaction_id", "timestamp", "user_id", "merchant_id", "merchant_category",
    "amount", "country", "device_type", "is_fraud",
)
SCENARIOS: Final = ("none", "compromised_merchant", "account_takeover", "card_testing")
DEVICES: Final = ("web", "mobile_app", "pos", "atm")
# Three rows per scenario is the least that still shows its pattern (e.g. two tests + one large).
MIN_FRAUD_ROWS: Final = 9
_SECONDS_PER_DAY: Final = 86_400
_NONE, _COMPROMISED, _TAKEOVER, _TESTING = range(4)
_WEB, _MOBILE, _POS, _ATM = range(4)

# Relative traffic per hour of day (0..23); every profile is quiet at night.
_HOURS: Final = {
    "day": (0.15, 0.08, 0.05, 0.05, 0.07, 0.15, 0.4, 0.8, 1.1, 1.2, 1.3, 1.5,
            1.6, 1.4, 1.3, 1.3, 1.5, 1.7, 1.6, 1.2, 0.9, 0.6, 0.4, 0.25),
    "evening": (0.3, 0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.5, 0.5, 0.6, 1.2,
                1.6, 1.0, 0.6, 0.6, 0.8, 1.3, 1.8, 2.0, 1.7, 1.2, 0.8, 0.5),
    "online": (0.5, 0.35, 0.25, 0.2, 0.15, 0.2, 0.35, 0.6, 0.8, 0.9, 1.0, 1.1,
               1.2, 1.1, 1.0, 1.0, 1.0, 1.1, 1.2, 1.4, 1.6, 1.6, 1.3, 0.9),
}
# Fraudsters keep their own hours (other time zones, bots): flatter, still a little quieter at night.
_FRAUD_HOURS: Final = tuple(0.6 if h < 6 else 1.0 for h in range(24))
# Relative traffic per weekday, Monday first.
_WEEKDAYS: Final = (0.95, 0.95, 1.0, 1.05, 1.2, 1.15, 0.8)


@dataclass(frozen=True)
class _Category:
    name: str
    traffic: float  # share of legitimate transactions
    merchants: float  # share of merchants
    median: float  # median amount for a user with spending level 1
    sigma: float  # log-normal spread of amounts
    risk: float  # mean base risk of its merchants
    channel: tuple[float, float, float, float]  # web, mobile_app, pos, atm
    hours: str
    local: float  # share of a user's purchases in the category at local shops (vs national chains); 0: online only


_CATEGORY_SPECS: Final = (
    _Category("grocery", 0.26, 0.12, 32.0, 0.7, 0.004, (0.04, 0.08, 0.88, 0.0), "day", 0.45),
    _Category("restaurants", 0.17, 0.22, 24.0, 0.6, 0.008, (0.03, 0.15, 0.82, 0.0), "evening", 0.85),
    _Category("fuel", 0.09, 0.06, 48.0, 0.4, 0.015, (0.0, 0.05, 0.95, 0.0), "day", 0.35),
    _Category("fashion", 0.07, 0.14, 65.0, 0.8, 0.010, (0.30, 0.20, 0.50, 0.0), "day", 0.45),
    _Category("electronics", 0.04, 0.06, 180.0, 1.0, 0.025, (0.45, 0.20, 0.35, 0.0), "day", 0.3),
    _Category("travel", 0.03, 0.06, 320.0, 0.9, 0.020, (0.60, 0.35, 0.05, 0.0), "online", 0.0),
    _Category("online_services", 0.13, 0.14, 14.0, 0.9, 0.020, (0.55, 0.45, 0.0, 0.0), "online", 0.0),
    _Category("entertainment", 0.07, 0.08, 28.0, 0.7, 0.010, (0.25, 0.45, 0.30, 0.0), "evening", 0.6),
    _Category("health", 0.06, 0.06, 40.0, 0.8, 0.005, (0.08, 0.07, 0.85, 0.0), "day", 0.65),
    _Category("gambling_crypto", 0.03, 0.03, 60.0, 1.1, 0.050, (0.45, 0.55, 0.0, 0.0), "online", 0.0),
    _Category("cash_withdrawal", 0.05, 0.03, 100.0, 0.6, 0.015, (0.0, 0.0, 0.0, 1.0), "day", 0.4),
)
CATEGORIES: Final = tuple(c.name for c in _CATEGORY_SPECS)
_CAT = {name: i for i, name in enumerate(CATEGORIES)}
# Where account takeovers and card testers cash out, and where card testers probe.
_CASH_OUT_CATEGORIES: Final = ("electronics", "travel", "gambling_crypto", "fashion")
_PROBE_CATEGORIES: Final = ("online_services", "gambling_crypto", "entertainment", "fashion")

# (ISO-2, share of users living there, share of trips going there, share of attackers there).
# Every country has legitimate traffic, so a country alone never proves fraud.
_COUNTRY_SPECS: Final = (
    ("GB", 0.33, 0.05, 0.06), ("DE", 0.14, 0.06, 0.05), ("FR", 0.11, 0.12, 0.05),
    ("ES", 0.07, 0.15, 0.05), ("IT", 0.06, 0.11, 0.04), ("NL", 0.05, 0.04, 0.04),
    ("IE", 0.04, 0.03, 0.02), ("PL", 0.04, 0.03, 0.05), ("SE", 0.03, 0.02, 0.02),
    ("PT", 0.02, 0.08, 0.02), ("US", 0.04, 0.12, 0.12), ("TR", 0.01, 0.07, 0.07),
    ("AE", 0.01, 0.04, 0.05), ("TH", 0.008, 0.05, 0.04), ("BR", 0.01, 0.02, 0.08),
    ("NG", 0.01, 0.01, 0.06), ("RO", 0.012, 0.02, 0.07), ("IN", 0.012, 0.02, 0.06),
    ("RU", 0.008, 0.01, 0.05), ("VN", 0.008, 0.03, 0.04),
)
COUNTRIES: Final = tuple(c[0] for c in _COUNTRY_SPECS)

# Shares of the fraud budget; card testing takes the rest.
_COMPROMISED_SHARE: Final = 0.40
_TAKEOVER_SHARE: Final = 0.35
_MAX_FAVOURITES: Final = 12

# Where people shop. Towns: about one per _MERCHANTS_PER_TOWN merchants, shared out by the
# countries' user shares (every country has one at least), sized by a power law within their
# country. A physical category's _CHAIN_SHARE most popular merchants are national chains.
_MERCHANTS_PER_TOWN: Final = 40
_MAX_TOWNS: Final = 400  # bounds the (town x category x place) reach table for huge merchant counts
_TOWN_SIZE_EXPONENT: Final = 0.8
_CHAIN_SHARE: Final = 0.08
# Reach of a shop in another town of the user's country, relative to one in their own town.
_NEARBY: Final = 0.08
# Per-user taste: a category's weight is its traffic share times a Gamma(shape, 1/shape) draw
# (mean 1; the smaller the shape, the more users differ).
_TASTE_SHAPE: Final = 0.5
# Share of legitimate transactions at a merchant the user has not made a favourite, and the share
# of those drawn by global popularity rather than by the user's own locality and taste.
_EXPLORE: Final = 0.15
_EXPLORE_ANYWHERE: Final = 0.25
# Place codes: 0 online, 1 + country for a national chain, 1 + len(COUNTRIES) + town for a shop.
_ONLINE, _PLACE_SCOPES = 0, 3


class SynthConfigError(TxlabError):
    """A simulator setting is out of range; the message names the field and its value."""


@dataclass
class SynthConfig:
    """Settings of one simulated dataset; validated on creation.

    ``users`` defaults to about ``rows / 40`` (at least 50) and ``merchants`` to about
    ``users / 10`` (at least 20); read the resolved numbers from ``n_users``/``n_merchants``.
    """

    rows: int = 100_000
    seed: int = 0
    fraud_rate: float = 0.01
    users: int | None = None
    merchants: int | None = None
    days: int = 90
    start: str = "2026-01-01"

    def __post_init__(self) -> None:
        _check_int("rows", self.rows, 1)
        _check_int("seed", self.seed, 0)
        _check_int("days", self.days, 1)
        if self.users is not None:
            _check_int("users", self.users, 1)
        if self.merchants is not None:
            _check_int("merchants", self.merchants, 1)
        _check_rate(self.fraud_rate)
        _check_start(self.start)
        if self.n_fraud < MIN_FRAUD_ROWS:
            need = int(np.ceil((MIN_FRAUD_ROWS - 0.5) / self.fraud_rate))
            raise SynthConfigError(
                f"rows={self.rows!r} is too small to place the fraud at fraud_rate={self.fraud_rate!r}: "
                f"that gives {self.n_fraud} fraud rows, the three scenarios need at least "
                f"{MIN_FRAUD_ROWS} (use rows >= {need} or a higher fraud_rate)."
            )

    @property
    def n_users(self) -> int:
        """Number of users, with the default applied."""
        return int(self.users) if self.users is not None else max(50, round(self.rows / 40))

    @property
    def n_merchants(self) -> int:
        """Number of merchants, with the default applied."""
        return int(self.merchants) if self.merchants is not None else max(20, round(self.n_users / 10))

    @property
    def n_fraud(self) -> int:
        """Exact number of fraudulent rows the dataset will hold."""
        return int(round(self.rows * float(self.fraud_rate)))

    @property
    def start_timestamp(self) -> pd.Timestamp:
        """``start`` as a (naive) timestamp."""
        return pd.Timestamp(self.start)


def generate(config: SynthConfig, include_scenario: bool = False) -> pd.DataFrame:
    """Simulate ``config.rows`` transactions, sorted by timestamp.

    Columns, in order: ``transaction_id, timestamp, user_id, merchant_id, merchant_category,
    amount, country, device_type, is_fraud`` and, with ``include_scenario``, ``fraud_scenario``
    (one of ``SCENARIOS``; "none" for legitimate rows). Same config, identical frame.
    """
    rng = _streams(config.seed)
    world = _build_world(config, rng["world"], rng["taste"])
    n_compromised, n_takeover, n_testing = _fraud_budgets(config.n_fraud)
    legit = _legitimate(world, config.rows - config.n_fraud, rng["legit"])
    parts = [
        legit,
        _compromised_merchant(world, n_compromised, rng["compromised"]),
        _account_takeover(world, legit, n_takeover, rng["takeover"]),
        _card_testing(world, n_testing, rng["testing"]),
    ]
    return _to_frame(_concat_sorted(parts), world, config, include_scenario)


def write_dataset(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` to ``path`` atomically: Parquet (zstd) for ``.parquet``, else CSV.

    CSV (gzip-compressed for ``.gz``) goes through pyarrow's writer, several times faster than
    ``DataFrame.to_csv``; whole-second timestamps are written as ``YYYY-MM-DD HH:MM:SS``.
    A temporary file in the same folder is renamed over ``path``, so readers never see half a file.
    """
    target = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    with replacing(target) as tmp:  # a fresh file, so it gets the usual umask (mkstemp's 0600 would survive the rename)
        if target.suffix.lower() == ".parquet":
            pq.write_table(table, str(tmp), compression="zstd")
        else:
            _write_csv(_seconds_timestamps(table), str(tmp), gzip=target.suffix.lower() == ".gz")


# --- validation -------------------------------------------------------------------------------

def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SynthConfigError(f"{name} must be a whole number, got {value!r}.")
    if value < low:
        raise SynthConfigError(f"{name} must be at least {low}, got {value!r}.")


def _check_rate(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SynthConfigError(f"fraud_rate must be a number, got {value!r}.")
    if not 0 < float(value) < 0.5:
        raise SynthConfigError(f"fraud_rate must be between 0 and 0.5 (exclusive), got {value!r}.")


def _check_start(value: object) -> None:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise SynthConfigError(f"start must be a date like '2026-01-01', got {value!r}.") from error
    if stamp is pd.NaT or stamp.tzinfo is not None or stamp != stamp.normalize():
        raise SynthConfigError(f"start must be a date (midnight, no time zone) like '2026-01-01', got {value!r}.")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent random stream per part of the simulation, all from ``seed``."""
    names = ("world", "taste", "legit", "compromised", "takeover", "testing")
    return dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names)))))


# --- the world --------------------------------------------------------------------------------

@dataclass
class _World:
    """Users and merchants, as parallel arrays indexed by user / merchant number."""

    seconds: int  # length of the simulated period
    start_weekday: int
    home: np.ndarray  # user -> country index
    town: np.ndarray  # user -> town index
    device: np.ndarray  # user -> usual device index (web, mobile_app or pos)
    spend: np.ndarray  # user -> spending level (log-normal around 1)
    activity: np.ndarray  # user -> probability that a transaction is theirs
    taste: np.ndarray  # user x category -> weight of the category in the user's shopping
    favourites: np.ndarray  # user x _MAX_FAVOURITES -> merchant
    n_favourites: np.ndarray  # user -> how many of the columns above are used
    category: np.ndarray  # merchant -> category index
    popularity: np.ndarray  # merchant -> probability of being picked (power law within category)
    risk: np.ndarray  # merchant -> base risk
    place: np.ndarray  # merchant -> place code (see _ONLINE)
    reach: np.ndarray  # (home town x category) -> weight of each place code
    cells: "_Cells"  # merchants grouped by (category, place), to draw one by popularity

    @property
    def n_users(self) -> int:
        return len(self.home)

    @property
    def n_merchants(self) -> int:
        return len(self.category)


@dataclass
class _Cells:
    """Merchants sorted by cell (category x place) with, per merchant, its cell number plus the
    cumulative share of its cell's popularity up to it: one ``searchsorted`` draws a merchant for
    many (cell, random number) pairs at once, as in ``_sample_keyed``."""

    order: np.ndarray  # position -> merchant
    cdf: np.ndarray  # position -> cell + cumulative popularity share within the cell

    @classmethod
    def build(cls, cell: np.ndarray, popularity: np.ndarray) -> "_Cells":
        order = np.lexsort((np.arange(len(cell)), cell))
        sorted_cell, weight = cell[order], popularity[order]
        total = np.cumsum(weight)
        first = np.flatnonzero(np.r_[True, sorted_cell[1:] != sorted_cell[:-1]])
        size = np.diff(np.r_[first, len(cell)])
        before = np.repeat(total[first] - weight[first], size)
        cell_total = np.repeat(np.add.reduceat(weight, first), size)
        return cls(order, sorted_cell + (total - before) / cell_total)

    def draw(self, cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A merchant of each requested (non-empty) cell, by popularity within the cell."""
        index = np.searchsorted(self.cdf, cell + rng.random(len(cell)), side="right")
        return self.order[np.clip(index, 0, len(self.order) - 1)]


def _build_world(config: SynthConfig, rng: np.random.Generator, taste_rng: np.random.Generator) -> _World:
    """Draw users and merchants (``rng``), then where each user likes to shop (``taste_rng``)."""
    category, popularity, risk = _merchants(config.n_merchants, rng)
    n_users = config.n_users
    home = rng.choice(len(COUNTRIES), size=n_users, p=_normalise([c[1] for c in _COUNTRY_SPECS]))
    device = rng.choice(3, size=n_users, p=[0.15, 0.50, 0.35]).astype(np.int8)  # web, mobile_app, pos
    spend = rng.lognormal(0.0, 0.55, size=n_users)
    activity = _normalise(rng.lognormal(0.0, 0.9, size=n_users))
    n_favourites = rng.integers(3, _MAX_FAVOURITES + 1, size=n_users)

    town_country, town_size = _towns(config.n_merchants)
    town = _home_towns(home, town_country, town_size, taste_rng)
    place = _places(category, popularity, town_country, town_size, taste_rng)
    present = np.bincount(category, minlength=len(CATEGORIES)) > 0
    traffic = np.array([c.traffic for c in _CATEGORY_SPECS]) * present
    taste = traffic * taste_rng.gamma(_TASTE_SHAPE, 1.0 / _TASTE_SHAPE, size=(n_users, len(CATEGORIES)))
    world = _World(
        seconds=config.days * _SECONDS_PER_DAY,
        start_weekday=config.start_timestamp.day_of_week,
        home=home.astype(np.int16), town=town, device=device, spend=spend, activity=activity, taste=taste,
        favourites=np.empty((n_users, 0), dtype=np.int32), n_favourites=n_favourites,
        category=category, popularity=popularity, risk=risk, place=place,
        reach=_reach(category, popularity, place, town_country),
        cells=_Cells.build(category.astype(np.int64) * _n_places(len(town_country)) + place, popularity),
    )
    users = np.repeat(np.arange(n_users), _MAX_FAVOURITES)
    world.favourites = _preferred(world, users, taste_rng).reshape(n_users, _MAX_FAVOURITES).astype(np.int32)
    return world


def _merchants(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Categories (each present when n allows), power-law popularity and base risk per merchant."""
    n_cat = len(_CATEGORY_SPECS)
    shares = _normalise([c.merchants for c in _CATEGORY_SPECS])
    guaranteed = np.arange(min(n, n_cat))
    category = np.concatenate([guaranteed, rng.choice(n_cat, size=n - len(guaranteed), p=shares)])
    category = rng.permutation(category).astype(np.int8)
    # Rank merchants within their category at random; popularity ~ rank^-1.1 (a few giants).
    rank = _rank_within(category, rng.random(n))
    weight = (rank + 1.0) ** -1.1
    traffic = np.array([c.traffic for c in _CATEGORY_SPECS])
    popularity = _normalise(traffic[category] * weight / np.bincount(category, weights=weight, minlength=n_cat)[category])
    base_risk = np.array([c.risk for c in _CATEGORY_SPECS])[category] * rng.lognormal(0.0, 0.5, size=n)
    return category, popularity, base_risk


def _rank_within(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Rank (0 = smallest ``key``) of every element within its group."""
    order = np.lexsort((key, group))
    counts = np.bincount(group, minlength=int(group.max()) + 1 if len(group) else 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - np.repeat(starts, counts)
    return rank


# --- where people shop --------------------------------------------------------------------------

def _n_places(n_towns: int) -> int:
    return 1 + len(COUNTRIES) + n_towns


def _towns(n_merchants: int) -> tuple[np.ndarray, np.ndarray]:
    """Country of each town and its size (share of its country's people and shops)."""
    user_share = _normalise([c[1] for c in _COUNTRY_SPECS])
    target = min(_MAX_TOWNS, max(len(COUNTRIES), round(n_merchants / _MERCHANTS_PER_TOWN)))
    per_country = np.maximum(1, np.round(target * user_share)).astype(np.int64)
    country = np.repeat(np.arange(len(COUNTRIES)), per_country)
    rank = np.arange(len(country)) - np.repeat(np.cumsum(per_country) - per_country, per_country)
    size = (rank + 1.0) ** -_TOWN_SIZE_EXPONENT
    size = size / np.bincount(country, weights=size)[country]
    return country, size


def _home_towns(home: np.ndarray, town_country: np.ndarray, town_size: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """A town of each user's home country, drawn by town size."""
    per_country = np.bincount(town_country, minlength=len(COUNTRIES))
    first = np.cumsum(per_country) - per_country
    table = np.zeros((len(COUNTRIES), int(per_country.max())))
    table[town_country, np.arange(len(town_country)) - first[town_country]] = town_size
    return (first[home] + _sample_keyed(home.astype(np.int64), table, rng)).astype(np.int32)


def _places(category: np.ndarray, popularity: np.ndarray, town_country: np.ndarray, town_size: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Place code per merchant: online categories online; a physical category's biggest names national
    chains in a country drawn by user share; the rest local shops in a town drawn by its people."""
    n = len(category)
    local = np.array([c.local for c in _CATEGORY_SPECS])
    online = local[category] == 0
    user_share = _normalise([c[1] for c in _COUNTRY_SPECS])
    physical_count = np.bincount(category[~online], minlength=len(CATEGORIES))
    chains = np.maximum(1, np.round(_CHAIN_SHARE * physical_count))
    chain = ~online & (_rank_within(category, -popularity) < chains[category])
    country = rng.choice(len(COUNTRIES), size=n, p=user_share)
    town = rng.choice(len(town_country), size=n, p=_normalise(user_share[town_country] * town_size))
    return np.where(online, _ONLINE, np.where(chain, 1 + country, 1 + len(COUNTRIES) + town)).astype(np.int64)


def _reach(category: np.ndarray, popularity: np.ndarray, place: np.ndarray, town_country: np.ndarray) -> np.ndarray:
    """Weight of each place for a shopper of each (home town, category): ``[n_towns * n_categories, n_places]``.

    People shop online, at their country's chains and at its local shops. Within each of those
    scopes a place weighs its merchants' popularity times its distance from home (own town or
    country 1, another town of the country ``_NEARBY``); the category's ``local`` share splits
    chains from local shops, and a scope without merchants of the category in the country hands
    its share to the others. Where the country has no merchant of the category at all, the shopper
    goes anywhere, by popularity.
    """
    n_cat, n_towns, n_countries = len(CATEGORIES), len(town_country), len(COUNTRIES)
    n_places = _n_places(n_towns)
    supply = np.zeros((n_cat, n_places))
    np.add.at(supply, (category, place), popularity)
    distance = np.zeros((n_towns, n_places))
    distance[:, _ONLINE] = 1.0
    distance[:, 1:1 + n_countries][town_country[:, None] == np.arange(n_countries)[None, :]] = 1.0
    distance[:, 1 + n_countries:] = np.where(town_country[:, None] == town_country[None, :], _NEARBY, 0.0)
    distance[np.arange(n_towns), 1 + n_countries + np.arange(n_towns)] = 1.0
    scope = np.concatenate([[0], np.ones(n_countries, dtype=np.int64), np.full(n_towns, 2)])
    local = np.array([c.local for c in _CATEGORY_SPECS])
    share = np.column_stack([local == 0, np.where(local > 0, 1.0 - local, 0.0), local])  # category x scope
    weight = _split_by_scope(distance[:, None, :] * supply[None, :, :], scope, share)  # town x category x place
    anywhere = _split_by_scope(np.broadcast_to(supply, weight.shape), scope, share)
    empty = weight.sum(axis=2) == 0
    weight[empty] = anywhere[empty]
    weight[weight.sum(axis=2) == 0] = 1.0  # no merchant of the category exists: never drawn, any row will do
    return weight.reshape(n_towns * n_cat, n_places)


def _split_by_scope(weight: np.ndarray, scope: np.ndarray, share: np.ndarray) -> np.ndarray:
    """``weight [..., category, place]`` rescaled so each scope (of a place) carries its category's ``share``,
    shares of scopes with no weight going to the others; rows with no weight at all stay zero."""
    totals = np.stack([weight[..., scope == s].sum(axis=-1) for s in range(_PLACE_SCOPES)], axis=-1)
    share = np.where(totals > 0, share, 0.0)
    share_sum = share.sum(axis=-1, keepdims=True)
    share = share / np.where(share_sum > 0, share_sum, 1.0)
    return weight / np.where(totals > 0, totals, 1.0)[..., scope] * share[..., scope]


def _preferred(world: _World, user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A merchant per row, by the user's taste (category), locality (place) and popularity (merchant)."""
    category = _sample_keyed(user.astype(np.int64), world.taste, rng)
    place = _sample_keyed(world.town[user].astype(np.int64) * len(CATEGORIES) + category, world.reach, rng)
    return world.cells.draw(category * world.reach.shape[1] + place, rng)


# --- legitimate traffic -----------------------------------------------------------------------

@dataclass
class _Rows:
    """A batch of transactions as parallel arrays (seconds since start, indices, amounts)."""

    seconds: np.ndarray
    user: np.ndarray
    merchant: np.ndarray
    amount: np.ndarray
    country: np.ndarray
    device: np.ndarray
    scenario: np.ndarray

    @classmethod
    def build(cls, seconds: np.ndarray, user: np.ndarray, merchant: np.ndarray, amount: np.ndarray,
              country: np.ndarray, device: np.ndarray, scenario: int) -> "_Rows":
        """Rows of one scenario, cast to the compact dtypes used until the frame is built."""
        return cls(
            seconds=np.asarray(seconds, dtype=np.int64), user=np.asarray(user, dtype=np.int32),
            merchant=np.asarray(merchant, dtype=np.int32), amount=np.asarray(amount, dtype=np.float64),
            country=np.asarray(country, dtype=np.int16), device=np.asarray(device, dtype=np.int8),
            scenario=np.full(len(seconds), scenario, dtype=np.int8),
        )


def _legitimate(world: _World, n: int, rng: np.random.Generator) -> _Rows:
    """Everyday traffic: favourite merchants, home country, usual device, usual amounts.

    Includes trips abroad and device switches, so "foreign" or "new device" alone is not fraud.
    """
    user = rng.choice(world.n_users, size=n, p=world.activity)
    merchant = _pick_merchants(world, user, rng)
    category = world.category[merchant]
    seconds = _day_seconds(world, n, rng) + _hour_seconds(category, rng)
    amount = _amounts(world, user, category, rng)
    device = _devices(world, user, category, seconds, rng)
    country = _countries(world, user, seconds, rng)
    return _Rows.build(seconds, user, merchant, amount, country, device, _NONE)


def _pick_merchants(world: _World, user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mostly one of the user's favourites (the first ones more often), sometimes somewhere new.

    A new merchant is mostly one the user's own locality and taste lead to (a shop in town, a
    chain of their country, an online merchant of a category they like), else any merchant by
    global popularity.
    """
    slot = np.minimum((world.n_favourites[user] * rng.random(len(user)) ** 2).astype(np.int64),
                      world.n_favourites[user] - 1)
    merchant = world.favourites[user, slot]
    explore = np.flatnonzero(rng.random(len(user)) < _EXPLORE)
    anywhere = rng.random(len(explore)) < _EXPLORE_ANYWHERE
    merchant[explore[~anywhere]] = _preferred(world, user[explore[~anywhere]], rng)
    merchant[explore[anywhere]] = rng.choice(world.n_merchants, size=int(anywhere.sum()), p=world.popularity)
    return merchant


def _day_seconds(world: _World, n: int, rng: np.random.Generator) -> np.ndarray:
    """Start-of-day offsets (seconds) for ``n`` rows, following the weekly rhythm."""
    days = world.seconds // _SECONDS_PER_DAY
    weekday = (world.start_weekday + np.arange(days)) % 7
    day = rng.choice(days, size=n, p=_normalise(np.asarray(_WEEKDAYS)[weekday]))
    return day.astype(np.int64) * _SECONDS_PER_DAY


def _hour_seconds(category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds into the day per row, the hour drawn from the daily rhythm of its category."""
    profiles = np.array([_HOURS[c.hours] for c in _CATEGORY_SPECS])
    hour = _sample_keyed(category.astype(np.int64), profiles, rng)
    return hour * 3600 + rng.integers(0, 3600, size=len(category))


def _amounts(world: _World, user: np.ndarray, category: np.ndarray, rng: np.random.Generator,
             boost: float = 0.0, boost_sigma: float = 0.0) -> np.ndarray:
    """Log-normal amounts scaled by category and the user's spending level, rounded to cents.

    ``boost`` shifts the log amount (fraud spends more than the cardholder would).
    """
    median = np.array([c.median for c in _CATEGORY_SPECS])[category]
    sigma = np.array([c.sigma for c in _CATEGORY_SPECS])[category]
    log_noise = rng.normal(0.0, 1.0, size=len(user)) * np.hypot(sigma, boost_sigma) + boost
    amount = median * world.spend[user] * np.exp(log_noise)
    cash = category == _CAT["cash_withdrawal"]
    amount[cash] = np.maximum(np.round(amount[cash] / 10.0) * 10.0, 10.0)
    return np.maximum(np.round(amount, 2), 0.5)


def _devices(world: _World, user: np.ndarray, category: np.ndarray, seconds: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Channel allowed by the category, strongly tilted to the user's usual device.

    Some users switch usual device at a random moment (a new phone is not fraud).
    """
    switches = rng.random(world.n_users) < 0.06
    switch_at = np.where(switches, rng.integers(0, world.seconds, size=world.n_users), world.seconds)
    new_device = (world.device + rng.integers(1, 3, size=world.n_users)) % 3
    usual = np.where(seconds >= switch_at[user], new_device[user], world.device[user])
    # One weight row per (category, usual device) pair; the usual device counts 12 times over.
    channel = np.array([c.channel for c in _CATEGORY_SPECS])
    tilt = np.ones((3, len(DEVICES)))
    tilt[np.arange(3), np.arange(3)] = 12.0
    table = (channel[:, None, :] * tilt[None, :, :]).reshape(-1, len(DEVICES))
    return _sample_keyed(category.astype(np.int64) * 3 + usual, table, rng).astype(np.int8)


def _countries(world: _World, user: np.ndarray, seconds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Home country, except during a user's trip abroad (about one user in six takes one)."""
    n_users = world.n_users
    travels = rng.random(n_users) < 0.15
    length = rng.integers(3, 15, size=n_users) * _SECONDS_PER_DAY
    begin = rng.integers(0, world.seconds, size=n_users)
    destination = _foreign(world.home, [c[2] for c in _COUNTRY_SPECS], rng)
    away = travels[user] & (seconds >= begin[user]) & (seconds < begin[user] + length[user])
    return np.where(away, destination[user], world.home[user])


# --- fraud scenarios --------------------------------------------------------------------------

def _fraud_budgets(n_fraud: int) -> tuple[int, int, int]:
    """Rows for (compromised merchant, account takeover, card testing); each gets at least 3."""
    compromised = max(3, int(n_fraud * _COMPROMISED_SHARE))
    takeover = max(3, int(n_fraud * _TAKEOVER_SHARE))
    return compromised, takeover, n_fraud - compromised - takeover


def _compromised_merchant(world: _World, budget: int, rng: np.random.Generator) -> _Rows:
    """Charges at a compromised merchant during its compromise window, on its own customers' cards.

    Riskier merchants are compromised more often; intensity is highest right after the breach.
    Amounts run above what each victim usually spends there; the device follows the merchant's
    channel (the fraudster does not hold the victim's phone); the country is the victim's home.
    """
    sizes = _event_sizes(budget, 15, 60, rng)
    event, _ = _expand(sizes)
    n_events, n = len(sizes), int(sizes.sum())
    merchant_of = _choose(world.n_merchants, n_events, world.risk, rng)
    total_days = world.seconds // _SECONDS_PER_DAY
    window_days = np.minimum(rng.integers(2, 7, size=n_events), total_days)
    first_day = rng.integers(0, total_days - window_days + 1, size=n_events)
    merchant = merchant_of[event]
    day = first_day[event] + (window_days[event] * rng.random(n) ** 1.5).astype(np.int64)
    category = world.category[merchant]
    seconds = day * _SECONDS_PER_DAY + _hour_seconds(category, rng)
    user = _customers_of(world, merchant, rng)
    amount = _amounts(world, user, category, rng, boost=0.9, boost_sigma=0.4)
    device = _sample_keyed(category.astype(np.int64), np.array([c.channel for c in _CATEGORY_SPECS]), rng)
    return _Rows.build(seconds, user, merchant, amount, world.home[user], device, _COMPROMISED)


def _account_takeover(world: _World, legit: _Rows, budget: int, rng: np.random.Generator) -> _Rows:
    """A burst of large purchases from a device the user never (or rarely) uses, from abroad.

    Victims are active users (they have a history to deviate from); each burst lasts minutes
    to hours, from one foreign country, at cash-out categories (electronics, travel, ...).
    """
    sizes = _event_sizes(budget, 4, 14, rng)
    event, position = _expand(sizes)
    n_events, n = len(sizes), int(sizes.sum())
    victim = _choose(world.n_users, n_events, world.activity, rng)
    gap = np.where(position == 0, 0, rng.exponential(15 * 60, size=n).astype(np.int64) + 30)
    begin = _burst_starts(world, gap, sizes, event, low=0.2, rng=rng)
    seconds = np.minimum(begin[event] + _within_event_cumsum(gap, sizes), world.seconds - 1)
    device = _least_used_online_device(world, legit)[victim]
    country = _foreign(world.home[victim], [c[3] for c in _COUNTRY_SPECS], rng)
    merchant = _merchants_in(world, _CASH_OUT_CATEGORIES, n, world.popularity, rng)
    user = victim[event]
    amount = _amounts(world, user, world.category[merchant], rng, boost=1.2, boost_sigma=0.4)
    return _Rows.build(seconds, user, merchant, amount, country[event], device[event], _TAKEOVER)


def _card_testing(world: _World, budget: int, rng: np.random.Generator) -> _Rows:
    """Tiny probes at many different online merchants within minutes, then one large purchase.

    Card numbers come from a breach (any user); the tester works from the web (a bot) or an
    app, from abroad or through a proxy at home.
    """
    sizes = _event_sizes(budget, 6, 25, rng)
    event, position = _expand(sizes)
    n_events, n = len(sizes), int(sizes.sum())
    last = position == sizes[event] - 1
    victim = rng.integers(0, world.n_users, size=n_events)
    probe_gap = rng.exponential(3 * 60, size=n).astype(np.int64) + 5
    cash_out_gap = rng.exponential(40 * 60, size=n).astype(np.int64) + 120
    gap = np.where(position == 0, 0, np.where(last, cash_out_gap, probe_gap))
    begin = _burst_starts(world, gap, sizes, event, low=0.0, rng=rng)
    seconds = np.minimum(begin[event] + _within_event_cumsum(gap, sizes), world.seconds - 1)
    merchant = _merchants_in(world, _PROBE_CATEGORIES, n, np.ones(world.n_merchants), rng)
    big = _merchants_in(world, ("electronics", "travel", "gambling_crypto"), n, world.popularity, rng)
    merchant = np.where(last, big, merchant)
    probe = np.round(rng.uniform(0.5, 5.0, size=n), 2)
    probe = np.where(rng.random(n) < 0.3, np.floor(probe), probe)
    probe = np.maximum(probe, 0.5)
    amount = np.where(last, np.round(rng.lognormal(np.log(450.0), 0.5, size=n), 2), probe)
    device = np.where(rng.random(n_events) < 0.85, _WEB, _MOBILE)
    abroad = rng.random(n_events) < 0.6
    country = np.where(abroad, _foreign(world.home[victim], [c[3] for c in _COUNTRY_SPECS], rng), world.home[victim])
    return _Rows.build(seconds, victim[event], merchant, amount, country[event], device[event], _TESTING)


# --- scenario helpers -------------------------------------------------------------------------

def _event_sizes(budget: int, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Sizes of events in [low, high] (the last may take a remainder) summing exactly to ``budget``."""
    if budget <= high:
        return np.array([budget], dtype=np.int64)
    sizes = rng.integers(low, high + 1, size=budget // low + 1)
    total = np.cumsum(sizes)
    k = int(np.searchsorted(total, budget))
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= total[k] - budget
    if sizes[-1] < low and len(sizes) > 1:
        sizes[-2] += sizes[-1]
        sizes = sizes[:-1]
    return sizes


def _expand(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event index and position within the event for each row of a batch of events."""
    event = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.cumsum(sizes) - sizes
    return event, np.arange(int(sizes.sum())) - starts[event]


def _within_event_cumsum(gap: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Running sum of ``gap`` restarting at each event (first gap of each event is 0)."""
    total = np.cumsum(gap)
    starts = np.cumsum(sizes) - sizes
    return total - total[starts][np.repeat(np.arange(len(sizes)), sizes)]


def _burst_starts(world: _World, gap: np.ndarray, sizes: np.ndarray, event: np.ndarray,
                  low: float, rng: np.random.Generator) -> np.ndarray:
    """A start second per event: after ``low`` of the period has passed, ending before its end."""
    duration = np.bincount(event, weights=gap, minlength=len(sizes)).astype(np.int64)
    latest = np.maximum(world.seconds - 1 - duration, 0)
    earliest = np.minimum(int(low * world.seconds), latest)
    begin = earliest + (rng.random(len(sizes)) * (latest - earliest + 1)).astype(np.int64)
    hours = _sample_keyed(np.zeros(len(sizes), dtype=np.int64), np.array([_FRAUD_HOURS]), rng)
    begin = begin // _SECONDS_PER_DAY * _SECONDS_PER_DAY + hours * 3600 + rng.integers(0, 3600, size=len(sizes))
    return np.clip(begin, earliest, latest)


def _choose(n: int, k: int, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``k`` indices drawn by ``weight``, distinct while there are enough to go round."""
    p = _normalise(weight)
    return rng.choice(n, size=k, replace=k > np.count_nonzero(p), p=p)


def _customers_of(world: _World, merchant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each row, a random user who has the row's merchant among their favourites (else anyone)."""
    used = np.arange(_MAX_FAVOURITES)[None, :] < world.n_favourites[:, None]
    fav_user = np.broadcast_to(np.arange(world.n_users)[:, None], used.shape)[used]
    fav_merchant = world.favourites[used]
    order = np.argsort(fav_merchant, kind="stable")
    customers = fav_user[order]
    count = np.bincount(fav_merchant, minlength=world.n_merchants)
    start = np.cumsum(count) - count
    pick = start[merchant] + (rng.random(len(merchant)) * np.maximum(count[merchant], 1)).astype(np.int64)
    anyone = rng.integers(0, world.n_users, size=len(merchant))
    return np.where(count[merchant] > 0, customers[np.minimum(pick, len(customers) - 1)], anyone)


def _least_used_online_device(world: _World, legit: _Rows) -> np.ndarray:
    """Per user, web or mobile_app, whichever they used less in legitimate traffic (ties: web)."""
    counts = np.bincount(legit.user.astype(np.int64) * len(DEVICES) + legit.device,
                         minlength=world.n_users * len(DEVICES)).reshape(world.n_users, len(DEVICES))
    return np.where(counts[:, _MOBILE] < counts[:, _WEB], _MOBILE, _WEB).astype(np.int8)


def _merchants_in(world: _World, names: tuple[str, ...], n: int, weight: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """``n`` merchants of the given categories drawn by ``weight`` (any merchant if none exist)."""
    allowed = np.isin(world.category, [_CAT[name] for name in names])
    w = np.where(allowed, weight, 0.0) if allowed.any() else weight
    return rng.choice(world.n_merchants, size=n, p=_normalise(w))


def _foreign(home: np.ndarray, weights: list[float], rng: np.random.Generator) -> np.ndarray:
    """A country other than ``home`` (per element), drawn by ``weights``."""
    p = _normalise(weights)
    first = rng.choice(len(p), size=len(home), p=p)
    second = rng.choice(len(p), size=len(home), p=p)
    pick = np.where(first != home, first, second)
    return np.where(pick != home, pick, (home + 1) % len(p)).astype(np.int16)


def _sample_keyed(key: np.ndarray, table: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row, a column of ``table[key]`` drawn proportionally to its non-negative weights.

    One ``searchsorted`` over all rows: each table row's CDF is shifted by its own index so that
    the concatenated CDFs stay sorted (much faster than a rows x columns cumulative sum).
    """
    table = np.asarray(table, dtype=np.float64)
    n_cols = table.shape[1]
    cdf = np.cumsum(table, axis=1)
    cdf = cdf / cdf[:, -1:] + np.arange(len(table))[:, None]
    index = np.searchsorted(cdf.ravel(), key + rng.random(len(key)), side="right") - key * n_cols
    return np.clip(index, 0, n_cols - 1)


def _normalise(weights: object) -> np.ndarray:
    """Weights scaled to sum to one."""
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


# --- output -----------------------------------------------------------------------------------

def _concat_sorted(parts: list[_Rows]) -> _Rows:
    """All batches in one, ordered by time (stable, so ties keep a seed-determined order)."""
    merged = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _Rows.__dataclass_fields__}
    order = np.argsort(merged["seconds"], kind="stable")
    return _Rows(**{name: values[order] for name, values in merged.items()})


def _to_frame(rows: _Rows, world: _World, config: SynthConfig, include_scenario: bool) -> pd.DataFrame:
    """The public frame; string columns are built in Arrow (fast) and handed to pandas as ``str``."""
    n = len(rows.seconds)
    start_ns = config.start_timestamp.as_unit("ns").value
    columns = {
        "transaction_id": _ids("T", 1, n, 9),
        "timestamp": pa.array(start_ns + rows.seconds * 1_000_000_000, type=pa.timestamp("ns")),
        "user_id": _ids("U", 0, world.n_users, 5).take(pa.array(rows.user)),
        "merchant_id": _ids("M", 0, world.n_merchants, 4).take(pa.array(rows.merchant)),
        "merchant_category": pa.array(CATEGORIES).take(pa.array(world.category[rows.merchant])),
        "amount": pa.array(rows.amount),
        "country": pa.array(COUNTRIES).take(pa.array(rows.country)),
        "device_type": pa.array(DEVICES).take(pa.array(rows.device)),
        "is_fraud": pa.array((rows.scenario != _NONE).astype(np.int8)),
    }
    if include_scenario:
        columns["fraud_scenario"] = pa.array(SCENARIOS).take(pa.array(rows.scenario))
    return pa.table(columns).to_pandas()


def _ids(prefix: str, first: int, count: int, width: int) -> pa.Array:
    """``count`` ids like ``U00042`` (zero-padded to at least ``width`` digits)."""
    width = max(width, len(str(first + count - 1)))
    digits = pc.cast(pa.array(np.arange(first, first + count)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width, "0"), "")


def _seconds_timestamps(table: pa.Table) -> pa.Table:
    """Timestamp columns cast to whole seconds where that loses nothing (clean CSV text)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.unit != "s":
            try:
                column = table.column(i).cast(pa.timestamp("s", tz=field.type.tz), safe=True)
            except pa.ArrowInvalid:
                continue
            table = table.set_column(i, field.name, column)
    return table


def _write_csv(table: pa.Table, path: str, gzip: bool) -> None:
    """Unquoted CSV when no value needs quotes (smaller, cleaner); quoted where needed otherwise."""
    plain_header = all(name and not set(name) & set(',"\r\n') for name in table.column_names)
    header = "none" if plain_header else "needed"
    for style in ("none", "needed"):
        options = pa_csv.WriteOptions(quoting_style=style, quoting_header=header)
        try:
            if gzip:
                # Python's gzip at level 6: pyarrow's gzip stream offers no level and defaults to slow 9.
                with _gzip.open(path, "wb", compresslevel=6) as sink:
                    pa_csv.write_csv(table, sink, write_options=options)
            else:
                pa_csv.write_csv(table, path, write_options=options)
            return
        except pa.ArrowInvalid:
            if style == "needed":
                raise
