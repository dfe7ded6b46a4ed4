"""Tests for the transaction simulator: contract, determinism, fraud rate, scenario behaviour, files."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core.synth as synth
from core.synth import CATEGORIES, COLUMNS, DEVICES, SCENARIOS, SynthConfig, generate, write_dataset

ROWS = 40_000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """One mid-size dataset with scenario labels, shared by the behaviour tests (2% fraud for counts)."""
    return generate(SynthConfig(rows=ROWS, seed=7, fraud_rate=0.02), include_scenario=True)


@pytest.fixture(scope="module")
def legit(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["is_fraud"] == 0]


def _most_common(legit: pd.DataFrame, column: str) -> pd.Series:
    """Per user, the value of ``column`` they use most in legitimate traffic."""
    counts = legit.groupby(["user_id", column]).size().reset_index(name="n")
    top = counts.sort_values(["user_id", "n"], ascending=[True, False]).drop_duplicates("user_id")
    return top.set_index("user_id")[column]


def _bursts(rows: pd.DataFrame, gap_hours: float = 6.0) -> pd.Series:
    """Burst number per row: a new burst when the user changes or goes quiet for ``gap_hours``."""
    rows = rows.sort_values(["user_id", "timestamp"])
    new_user = rows["user_id"].ne(rows["user_id"].shift())
    quiet = rows["timestamp"].diff() > pd.Timedelta(hours=gap_hours)
    return (new_user | quiet).cumsum().reindex(rows.index)


# --- contract ----------------------------------------------------------------------------------

def test_columns_dtypes_and_formats(frame: pd.DataFrame) -> None:
    plain = generate(SynthConfig(rows=5_000, seed=1))
    assert list(plain.columns) == list(COLUMNS)
    assert list(frame.columns) == [*COLUMNS, "fraud_scenario"]
    assert len(plain) == 5_000
    for column in ("transaction_id", "user_id", "merchant_id", "merchant_category", "country", "device_type"):
        assert pd.api.types.is_string_dtype(plain[column]), column
    assert plain["timestamp"].dtype == "datetime64[ns]"
    assert plain["amount"].dtype == np.float64
    assert plain["is_fraud"].dtype == np.int8
    assert set(plain["is_fraud"].unique()) == {0, 1}

    assert plain["transaction_id"].tolist()[:2] == ["T000000001", "T000000002"]
    assert plain["transaction_id"].is_unique
    assert plain["user_id"].str.fullmatch(r"U\d{5}").all()
    assert plain["merchant_id"].str.fullmatch(r"M\d{4}").all()
    assert plain["country"].str.fullmatch(r"[A-Z]{2}").all()
    assert set(plain["device_type"]) <= set(DEVICES)
    assert set(plain["merchant_category"]) <= set(CATEGORIES)
    assert set(frame["fraud_scenario"]) == set(SCENARIOS)

    assert (plain["amount"] > 0).all()
    assert np.allclose(plain["amount"], plain["amount"].round(2), rtol=0, atol=1e-9)
    assert (plain["timestamp"].astype("int64") % 1_000_000_000 == 0).all(), "second resolution"
    assert plain["timestamp"].is_monotonic_increasing


def test_defaults_for_users_and_merchants() -> None:
    assert SynthConfig(rows=100_000).n_users == 2_500
    assert SynthConfig(rows=100_000).n_merchants == 250
    assert SynthConfig(rows=1_000).n_users == 50
    assert SynthConfig(rows=1_000).n_merchants == 20
    assert SynthConfig(rows=1_000, users=7, merchants=3).n_merchants == 3
    small = generate(SynthConfig(rows=2_000, users=30, merchants=12, seed=3))
    assert small["user_id"].nunique() <= 30
    assert small["merchant_id"].nunique() <= 12


def test_tiny_worlds_still_work() -> None:
    one = generate(SynthConfig(rows=1_000, users=1, merchants=1, days=1), include_scenario=True)
    assert len(one) == 1_000
    assert set(one["fraud_scenario"]) == set(SCENARIOS)
    assert one["user_id"].nunique() == 1


# --- determinism -------------------------------------------------------------------------------

def test_same_seed_gives_identical_frame_and_csv(tmp_path: Path) -> None:
    config = SynthConfig(rows=20_000, seed=11)
    first, second = generate(config), generate(SynthConfig(rows=20_000, seed=11))
    pd.testing.assert_frame_equal(first, second)
    write_dataset(first, tmp_path / "a.csv")
    write_dataset(second, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_different_seed_gives_different_data() -> None:
    first = generate(SynthConfig(rows=20_000, seed=1))
    second = generate(SynthConfig(rows=20_000, seed=2))
    assert not first["amount"].equals(second["amount"])
    assert not first["timestamp"].equals(second["timestamp"])
    assert not first["user_id"].equals(second["user_id"])


# --- fraud rate ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("rows", "rate"), [(20_000, 0.01), (30_000, 0.003), (20_000, 0.05), (5_000, 0.2)])
def test_fraud_rate_matches_config(rows: int, rate: float) -> None:
    data = generate(SynthConfig(rows=rows, fraud_rate=rate, seed=5), include_scenario=True)
    realised = data["is_fraud"].mean()
    assert abs(realised - rate) <= 0.05 * rate + 1 / rows
    assert ((data["fraud_scenario"] != "none") == (data["is_fraud"] == 1)).all()


def test_all_scenarios_present_with_sensible_shares(frame: pd.DataFrame) -> None:
    shares = frame.loc[frame["is_fraud"] == 1, "fraud_scenario"].value_counts(normalize=True)
    assert set(shares.index) == {"compromised_merchant", "account_takeover", "card_testing"}
    assert (shares > 0.15).all(), shares


# --- realism of legitimate traffic -------------------------------------------------------------

def test_users_stick_to_home_favourites_and_usual_device(legit: pd.DataFrame) -> None:
    home = _most_common(legit, "country")
    at_home = (legit["country"].to_numpy() == home.reindex(legit["user_id"]).to_numpy()).mean()
    assert at_home > 0.95
    per_user = legit.groupby(["user_id", "merchant_id"]).size().groupby(level=0)
    top5 = per_user.apply(lambda s: s.nlargest(5).sum()) / per_user.sum()
    assert top5.median() > 0.6, "users should mostly shop at a few favourite merchants"
    popularity = legit["merchant_id"].value_counts(normalize=True)
    assert popularity.iloc[: max(1, len(popularity) // 10)].sum() > 0.35, "power-law merchant popularity"


# --- where people shop ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shoppers() -> pd.DataFrame:
    """Distinct legitimate (user, merchant) pairs of a 5,000-user, 500-merchant world, with the user's home country."""
    data = generate(SynthConfig(rows=200_000, seed=3))
    legit = data[data["is_fraud"] == 0]
    pairs = legit.drop_duplicates(["user_id", "merchant_id"])[["user_id", "merchant_id", "merchant_category"]]
    return pairs.assign(home=_most_common(legit, "country").reindex(pairs["user_id"]).to_numpy())


def _same_category_share(pairs: pd.DataFrame) -> float:
    """Share of the pairs of one user's distinct merchants that are of the same category."""
    per = pairs.groupby(["user_id", "merchant_category"]).size()
    n = per.groupby(level=0).sum()
    return float((per * (per - 1)).sum() / (n * (n - 1)).sum())


def _home_concentration(pairs: pd.DataFrame) -> float:
    """Share of merchants' customers living in the country most of that merchant's customers live in."""
    per = pairs.groupby(["merchant_id", "home"]).size()
    return float(per.groupby(level=0).max().sum() / per.sum())


def test_users_have_their_own_taste_in_categories(shoppers: pd.DataFrame) -> None:
    shuffled = shoppers.assign(merchant_category=np.random.default_rng(0).permutation(shoppers["merchant_category"].to_numpy()))
    assert _same_category_share(shoppers) > 1.3 * _same_category_share(shuffled)


def test_shops_serve_their_own_country_and_online_merchants_everyone(shoppers: pd.DataFrame) -> None:
    online = shoppers["merchant_category"].isin(["travel", "online_services", "gambling_crypto"])
    physical = shoppers[~online]
    shuffled = physical.assign(home=np.random.default_rng(0).permutation(physical["home"].to_numpy()))
    assert _home_concentration(physical) > 0.6 and _home_concentration(physical) > 1.8 * _home_concentration(shuffled)
    assert _home_concentration(shoppers[online]) < _home_concentration(physical) - 0.2


def test_a_users_local_shops_are_mostly_in_their_own_town() -> None:
    """The mechanism behind the country concentration, one level down (towns are not a column)."""
    config = SynthConfig(rows=200_000, seed=3)
    streams = synth._streams(config.seed)
    world = synth._build_world(config, streams["world"], streams["taste"])
    used = np.arange(world.favourites.shape[1])[None, :] < world.n_favourites[:, None]
    user = np.broadcast_to(np.arange(world.n_users)[:, None], used.shape)[used]
    town_of = world.place[world.favourites[used]] - 1 - len(synth.COUNTRIES)  # -1 and below: online or a chain
    town_country, _ = synth._towns(config.n_merchants)
    home_town = world.town[user]
    # Countries with one town say nothing: only users of countries with several towns count.
    counted = (town_of >= 0) & (np.bincount(town_country)[town_country[home_town]] > 1)
    own_town = (town_of[counted] == home_town[counted]).mean()
    # Chance: a local shop drawn at random from the user's country is in their town.
    shops = np.bincount(world.place[world.place > len(synth.COUNTRIES)] - 1 - len(synth.COUNTRIES), minlength=len(town_country))
    in_country = np.bincount(town_country, weights=shops)[town_country]
    chance = (shops / in_country)[home_town[counted]].mean()
    assert own_town > 0.6 and own_town > 1.8 * chance, (own_town, chance)


def test_changing_where_people_shop_leaves_takeovers_and_card_testing_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each part draws from its own random stream, so retuning preferences does not reshuffle the fraud."""
    config = SynthConfig(rows=20_000, seed=5)
    before = generate(config, include_scenario=True)
    monkeypatch.setattr(synth, "_TASTE_SHAPE", 3.0)
    after = generate(config, include_scenario=True)
    assert not before.loc[before["is_fraud"] == 0, "merchant_id"].reset_index(drop=True).equals(
        after.loc[after["is_fraud"] == 0, "merchant_id"].reset_index(drop=True))
    columns = ["timestamp", "user_id", "merchant_id", "amount", "country"]
    for scenario in ("account_takeover", "card_testing"):
        old, new = (f.loc[f["fraud_scenario"] == scenario, columns].reset_index(drop=True) for f in (before, after))
        pd.testing.assert_frame_equal(old, new)


def test_amount_scale_depends_on_category(legit: pd.DataFrame) -> None:
    median = legit.groupby("merchant_category")["amount"].median()
    assert median["travel"] > median["electronics"] > median["grocery"] > median["online_services"]
    assert (legit.loc[legit["merchant_category"] == "cash_withdrawal", "device_type"] == "atm").all()


def test_timestamps_in_range_with_daily_and_weekly_rhythm() -> None:
    config = SynthConfig(rows=30_000, seed=2, start="2025-06-02", days=28)  # a Monday, four weeks
    data = generate(config)
    start = pd.Timestamp("2025-06-02")
    assert data["timestamp"].min() >= start
    assert data["timestamp"].max() < start + pd.Timedelta(days=28)
    per_hour = data["timestamp"].dt.hour.value_counts().reindex(range(24), fill_value=0)
    assert per_hour[1:5].mean() < 0.2 * per_hour[10:21].mean(), "nights should be quiet"
    per_weekday = data["timestamp"].dt.day_of_week.value_counts()
    assert per_weekday[4] > 1.2 * per_weekday[6], "Fridays busier than Sundays"


# --- scenario behaviour --------------------------------------------------------------------------

def test_account_takeover_uses_new_device_abroad_with_large_amounts(frame: pd.DataFrame, legit: pd.DataFrame) -> None:
    ato = frame[frame["fraud_scenario"] == "account_takeover"]
    usual_device = _most_common(legit, "device_type").reindex(ato["user_id"]).to_numpy()
    home = _most_common(legit, "country").reindex(ato["user_id"]).to_numpy()
    assert (ato["device_type"].to_numpy() != usual_device).mean() > 0.9
    assert (ato["country"].to_numpy() != home).mean() > 0.9
    assert ato["amount"].median() > 3 * legit["amount"].median()
    bursts = ato.groupby(_bursts(ato))
    assert (bursts.size() >= 3).mean() > 0.8
    span = bursts["timestamp"].agg(lambda t: t.max() - t.min())
    assert (span < pd.Timedelta(hours=12)).all()


def test_card_testing_is_small_amounts_at_many_merchants_then_a_large_one(frame: pd.DataFrame) -> None:
    testing = frame[frame["fraud_scenario"] == "card_testing"].sort_values(["user_id", "timestamp"])
    bursts = testing.groupby(_bursts(testing))
    assert bursts.ngroups >= 5
    span = bursts["timestamp"].agg(lambda t: t.max() - t.min())
    assert (span < pd.Timedelta(hours=12)).all()
    probes = bursts["amount"].agg(lambda a: (a.iloc[:-1] <= 5).mean())
    assert probes.min() >= 0.99
    assert (bursts["amount"].last() > 50).mean() > 0.9, "a large purchase follows the probes"
    distinct = bursts["merchant_id"].nunique() / bursts.size()
    assert distinct.median() > 0.6, "probes hit many different merchants"


def test_compromised_merchant_fraud_clusters_in_time_at_few_merchants(frame: pd.DataFrame, legit: pd.DataFrame) -> None:
    compromised = frame[frame["fraud_scenario"] == "compromised_merchant"]
    by_merchant = compromised.groupby("merchant_id")
    assert by_merchant.ngroups <= max(1, len(compromised) // 10)
    span = by_merchant["timestamp"].agg(lambda t: t.max() - t.min())
    assert (span <= pd.Timedelta(days=6)).all()
    # Victims are the merchant's own customers.
    customers = set(zip(legit["user_id"], legit["merchant_id"]))
    known = [(u, m) in customers for u, m in zip(compromised["user_id"], compromised["merchant_id"])]
    assert np.mean(known) > 0.7
    # During the compromise, a large share of the merchant's traffic is fraud.
    shares = []
    for merchant, rows in by_merchant:
        window = frame[(frame["merchant_id"] == merchant)
                       & frame["timestamp"].between(rows["timestamp"].min(), rows["timestamp"].max())]
        shares.append(window["is_fraud"].mean())
    assert np.median(shares) > 0.4 and min(shares) > 0.1, shares


def test_no_single_raw_column_gives_fraud_away(frame: pd.DataFrame) -> None:
    """Every value of each categorical column also occurs in plenty of legitimate rows."""
    for column in ("country", "device_type", "merchant_category"):
        fraud_share = frame.groupby(column)["is_fraud"].mean()
        assert fraud_share.max() < 0.5, (column, fraud_share.idxmax())


# --- validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rows", 0), ("rows", 1.5), ("rows", True), ("rows", 100),
        ("fraud_rate", 0), ("fraud_rate", 0.5), ("fraud_rate", -0.1), ("fraud_rate", "high"),
        ("users", 0), ("merchants", 0), ("days", 0), ("seed", -1),
        ("start", "not a date"), ("start", "2026-01-01 12:30"),
    ],
)
def test_invalid_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"\b{field}\b") as caught:
        SynthConfig(**{field: value})
    assert repr(value) in str(caught.value) or str(value) in str(caught.value)


# --- files ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["data.csv", "data.parquet", "data.csv.gz"])
def test_write_dataset_round_trips(tmp_path: Path, name: str) -> None:
    data = generate(SynthConfig(rows=3_000, seed=4), include_scenario=True)
    path = tmp_path / name
    write_dataset(data, path)
    if name.endswith(".parquet"):
        back = pd.read_parquet(path)
    else:
        back = pd.read_csv(path, parse_dates=["timestamp"])
    assert list(back.columns) == list(data.columns)
    for column in ("transaction_id", "user_id", "merchant_id", "country"):
        assert pd.api.types.is_string_dtype(back[column]), column
        assert back[column].tolist() == data[column].tolist()
    assert (back["timestamp"] == data["timestamp"]).all()
    assert np.array_equal(back["amount"].to_numpy(), data["amount"].to_numpy())
    assert np.array_equal(back["is_fraud"].to_numpy(), data["is_fraud"].to_numpy())
    assert [p.name for p in tmp_path.iterdir()] == [name], "no temporary file left behind"


def test_csv_text_is_plain_iso(tmp_path: Path) -> None:
    data = generate(SynthConfig(rows=1_000, seed=0))
    write_dataset(data, tmp_path / "d.csv")
    lines = (tmp_path / "d.csv").read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    fields = lines[1].split(",")
    assert re.fullmatch(r"T\d{9}", fields[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", fields[1])


def test_csv_quotes_values_that_need_it(tmp_path: Path) -> None:
    data = pd.DataFrame({"note": ["a,b", 'say "hi"', "plain"], "n": [1, 2, 3]})
    write_dataset(data, tmp_path / "q.csv")
    back = pd.read_csv(io.StringIO((tmp_path / "q.csv").read_text()))
    assert back["note"].tolist() == data["note"].tolist()


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "d.csv"
    path.write_text("old\n")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(synth.pa_csv, "write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(generate(SynthConfig(rows=1_000)), path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["d.csv"]
