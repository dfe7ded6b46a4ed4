"""core.recommend on small seeded data (planted preferences, and the simulator's own output): evaluation,
exclusions, filters, new users, early stopping, artifacts."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from core.recommend import (Filters, ImplicitConfig, Interactions, PopularitySource, RecommendError, RecommenderFormatError,
                            evaluate_sources, fraud_model_source, holdout_latest, implicit_source, load_implicit, merchant_table,
                            recommend_for_user, save_implicit, similar_merchants, train_implicit, find_category_column)
from core.recommend.implicit import BPR_CONFIG
from core.recommend.planted import plant_preferences
from core.recommend.projection import merchant_map
from core.synth import SynthConfig, generate

GROUPS, USERS, MERCHANTS = 4, 400, 80
RISKY = "M000"  # every transaction there is fraud


def planted_frame(seed: int = 0, rows: int = 12_000) -> pd.DataFrame:
    """Users in 4 groups; 85% of a user's transactions go to merchants of their group (merchant index % 4).

    Popularity within the data is skewed (a few giants), so a popularity baseline is not trivial.
    """
    rng = np.random.default_rng(seed)
    user_group = np.arange(USERS) % GROUPS
    weight = (np.arange(MERCHANTS) // GROUPS + 1.0) ** -0.8
    user = rng.integers(0, USERS, rows)
    own = rng.random(rows) < 0.85
    merchant = np.empty(rows, dtype=np.int64)
    anywhere = rng.choice(MERCHANTS, size=rows, p=weight / weight.sum())
    per_group = (np.arange(MERCHANTS // GROUPS) + 1.0) ** -0.8
    slot = rng.choice(MERCHANTS // GROUPS, size=rows, p=per_group / per_group.sum())
    merchant[own] = slot[own] * GROUPS + user_group[user[own]]
    merchant[~own] = anywhere[~own]
    merchant_ids = np.array([f"M{m:03d}" for m in range(MERCHANTS)])
    label = (rng.random(rows) < 0.02) | (merchant == 0)
    return pd.DataFrame({
        "timestamp": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 90 * 86400, rows), unit="s"),
        "user_id": np.array([f"U{u:04d}" for u in range(USERS)])[user], "merchant_id": merchant_ids[merchant],
        "merchant_category": np.array(["food", "travel", "fashion"])[merchant % 3],
        "amount": rng.lognormal(3, 1, rows), "country": np.array(["GB", "FR"])[(merchant // 5) % 2],
        "device_type": "web", "label": label.astype(int),
    })


@pytest.fixture(scope="module")
def frame():
    return planted_frame()


@pytest.fixture(scope="module")
def fitted(frame):
    interactions = Interactions.from_frame(frame)
    return interactions, train_implicit(interactions, ImplicitConfig(epochs=6, seed=1)), merchant_table(frame, "merchant_category")


def test_the_implicit_model_beats_popularity_on_planted_preferences(frame):
    holdout = holdout_latest(frame)
    model = train_implicit(holdout.train, ImplicitConfig(epochs=6, seed=0))
    evaluation = evaluate_sources(holdout, [implicit_source(model), PopularitySource()], k=10)
    implicit, popularity = evaluation.row("implicit"), evaluation.row("popularity")
    assert implicit.pairs == popularity.pairs == USERS
    assert implicit.hit_rate > popularity.hit_rate + 0.1 and implicit.ndcg > popularity.ndcg
    assert evaluation.chosen == "implicit"
    assert evaluation.to_dict()["chosen"] == "implicit" and evaluation.from_dict(evaluation.to_dict()).rows == evaluation.rows


def test_on_generated_data_the_implicit_model_beats_popularity_and_the_earlier_bpr_model():
    """Plain simulator output (users shop near home and by taste), no planted preferences."""
    frame = generate(SynthConfig(rows=200_000, seed=1))
    holdout = holdout_latest(frame)
    model = train_implicit(holdout.train)
    bpr = implicit_source(train_implicit(holdout.train, BPR_CONFIG))
    bpr.name = "bpr"
    evaluation = evaluate_sources(holdout, [implicit_source(model), bpr, PopularitySource()], k=10)
    implicit, earlier, popularity = evaluation.row("implicit"), evaluation.row("bpr"), evaluation.row("popularity")
    assert implicit.pairs > 4000
    assert implicit.hit_rate > popularity.hit_rate + 0.08 and implicit.ndcg > popularity.ndcg + 0.04, evaluation.rows
    assert implicit.hit_rate > earlier.hit_rate + 0.02 and evaluation.chosen == "implicit", evaluation.rows


def test_training_stops_early_and_keeps_its_best_epoch(frame):
    model = train_implicit(Interactions.from_frame(frame), ImplicitConfig(epochs=200, patience=2, seed=0))
    history = model.info["history"]
    assert model.info["epochs_run"] == len(history) < 200
    best = max(history, key=lambda h: h["validation_hr10"])
    assert model.info["best_epoch"] == best["epoch"] == model.info["epochs_run"] - 2
    assert model.info["validation_hr10"] == best["validation_hr10"] and model.info["validation_users"] > 0


def test_tiny_data_without_validation_users_trains_every_epoch():
    frame = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"], "merchant_id": ["x", "y", "x", "z", "y"]})
    model = train_implicit(Interactions.from_frame(frame), ImplicitConfig(epochs=4, dim=4))
    assert model.info["validation_users"] == 0 and model.info["epochs_run"] == model.info["best_epoch"] == 4
    assert np.isfinite(model.user_factors).all() and model.user_factors.shape == (3, 4)


def test_a_user_the_model_never_saw_is_recommended_from_their_history(frame, fitted):
    interactions, model, info = fitted
    user = interactions.users[7]
    newcomer = frame[frame["user_id"] == user].assign(user_id="NEWCOMER")
    grown = Interactions.from_frame(pd.concat([frame, newcomer], ignore_index=True))
    source = implicit_source(model)
    theirs = recommend_for_user(source, grown, info, "NEWCOMER", k=5)
    original = recommend_for_user(source, interactions, info, user, k=5)
    assert list(theirs["merchant_id"]) == list(original["merchant_id"])
    np.testing.assert_allclose(theirs["score"], original["score"], rtol=1e-4)


def test_settings_are_checked_by_name():
    with pytest.raises(ValueError, match="method.*'als'"):
        ImplicitConfig(method="als")
    with pytest.raises(ValueError, match="mask_share.*1.5"):
        ImplicitConfig(mask_share=1.5)


def test_holdout_removes_each_users_latest_new_merchant_from_training():
    t = pd.Timestamp("2026-01-01")
    frame = pd.DataFrame({"user_id": ["a", "a", "a", "a", "b"], "merchant_id": ["x", "y", "x", "z", "x"],
                          "timestamp": [t, t + pd.Timedelta("1D"), t + pd.Timedelta("5D"), t + pd.Timedelta("3D"), t]})
    holdout = holdout_latest(frame)
    train = holdout.train
    assert [train.users[u] for u in holdout.test_users] == ["a"]  # b has one merchant: nothing to hold out
    assert [train.merchants[m] for m in holdout.test_merchants] == ["z"]  # x was used again later, but first on day 0
    assert train.matrix[train.user_index("a"), train.merchant_index("z")] == 0
    assert train.matrix[train.user_index("a"), train.merchant_index("x")] == 2


def test_hit_rate_and_ndcg_follow_the_rank_of_the_held_out_merchant():
    frame = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"] * 1, "merchant_id": ["m1", "m2", "m1", "m3", "m1"],
                          "timestamp": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-01", "2026-01-02", "2026-01-01"])})
    holdout = holdout_latest(frame)  # a holds out m2, b holds out m3; popularity in training: m1 by 3 users, m2 and m3 by none
    evaluation = evaluate_sources(holdout, [PopularitySource()], k=1)
    row = evaluation.row("popularity")
    # m1 is used by both, so the candidates are m2 and m3, tied at 0: neither is beaten, both rank first.
    assert row.pairs == 2 and row.hit_rate == 1.0 and row.ndcg == pytest.approx(1.0)


def test_already_used_merchants_are_never_recommended(frame, fitted):
    interactions, model, info = fitted
    for source in (implicit_source(model), PopularitySource()):
        for user in interactions.users[:25]:
            result = recommend_for_user(source, interactions, info, user, k=MERCHANTS)
            used = set(interactions.merchants[interactions.used(interactions.user_index(user))])
            assert used and not used & set(result["merchant_id"])
            assert len(result) == MERCHANTS - len(used)
            assert result["score"].is_monotonic_decreasing


def test_recommendations_favour_the_users_own_group(fitted):
    interactions, model, info = fitted
    user = interactions.users[7]  # group 3
    top = recommend_for_user(implicit_source(model), interactions, info, user, k=3)
    assert [int(m[1:]) % GROUPS for m in top["merchant_id"]].count(7 % GROUPS) >= 2


def test_fraud_rate_category_and_country_filters(fitted):
    interactions, model, info = fitted
    source = implicit_source(model)
    assert info.loc[RISKY, "fraud_rate"] == 1.0
    users_without_risky = [u for u in interactions.users if interactions.merchant_index(RISKY) not in interactions.used(interactions.user_index(u))]
    user = users_without_risky[0]
    everything = recommend_for_user(source, interactions, info, user, k=MERCHANTS)
    assert RISKY in set(everything["merchant_id"])
    safe = recommend_for_user(source, interactions, info, user, k=MERCHANTS, filters=Filters(max_fraud_rate=0.1))
    assert RISKY not in set(safe["merchant_id"]) and (safe["fraud_rate"] <= 0.1).all() and len(safe) > 0
    travel = recommend_for_user(source, interactions, info, user, k=5, filters=Filters(category="travel"))
    assert len(travel) == 5 and set(travel["category"]) == {"travel"}
    french = similar_merchants(source, interactions, info, "M010", k=5, filters=Filters(country="FR", category="fashion"))
    assert set(french["country"]) == {"FR"} and set(french["category"]) == {"fashion"} and "M010" not in set(french["merchant_id"])


def test_similar_merchants_are_mostly_of_the_same_group(fitted):
    interactions, model, info = fitted
    similar = similar_merchants(implicit_source(model), interactions, info, "M005", k=5)
    assert "M005" not in set(similar["merchant_id"])
    assert sum(int(m[1:]) % GROUPS == 1 for m in similar["merchant_id"]) >= 4


def test_unknown_user_or_merchant_is_a_readable_error(fitted):
    interactions, model, info = fitted
    with pytest.raises(RecommendError, match="User 'nobody'"):
        recommend_for_user(implicit_source(model), interactions, info, "nobody")
    with pytest.raises(RecommendError, match="Merchant 'nowhere'"):
        similar_merchants(implicit_source(model), interactions, info, "nowhere")


def test_the_fraud_models_merchant_embeddings_are_read_row_by_vocabulary_value(frame):
    vocab = ["M001", "M002", "M003"]
    table = torch.nn.Embedding(len(vocab) + 1, 2)
    with torch.no_grad():
        table.weight.copy_(torch.tensor([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [0.9, 0.1]]))
    model = SimpleNamespace(encoder=SimpleNamespace(categorical_names=["user_id", "merchant_id"],
                                                    vocabularies_=[SimpleNamespace(values=["U1"]), SimpleNamespace(values=vocab)]),
                            net=SimpleNamespace(embeddings=[torch.nn.Embedding(2, 2), table]))
    source = fraud_model_source(model)
    assert list(source.merchants) == vocab and source.merchant_vectors[0].tolist() == [1.0, 0.0]
    interactions = Interactions.from_frame(frame)
    info = merchant_table(frame, "merchant_category")
    similar = similar_merchants(source, interactions, info, "M001", k=5)
    assert list(similar["merchant_id"]) == ["M003", "M002"]  # the rest have no embedding (below min frequency)


def test_artifact_round_trip(tmp_path, fitted):
    _, model, _ = fitted
    model.info["evaluation"] = {"k": 10, "rows": [], "chosen": None}
    folder = save_implicit(model, tmp_path / "recommenders" / "ds-1")
    save_implicit(model, folder)  # replacing an existing one works and leaves nothing behind
    assert sorted(p.name for p in folder.parent.iterdir()) == ["ds-1"]
    loaded = load_implicit(folder)
    assert list(loaded.users) == list(model.users) and list(loaded.merchants) == list(model.merchants)
    np.testing.assert_array_equal(loaded.user_factors, model.user_factors)
    np.testing.assert_array_equal(loaded.merchant_bias, model.merchant_bias)
    assert loaded.config == model.config and loaded.info["evaluation"]["k"] == 10


def test_a_tampered_artifact_is_refused(tmp_path, fitted):
    _, model, _ = fitted
    folder = save_implicit(model, tmp_path / "ds-2")
    weights = (folder / "model.pt").read_bytes()
    (folder / "model.pt").write_bytes(weights[:-10] + b"0123456789")
    with pytest.raises(RecommenderFormatError, match="checksum"):
        load_implicit(folder)
    folder = save_implicit(model, tmp_path / "ds-3")
    meta = json.loads((folder / "model.json").read_text())
    meta["users"] = meta["users"][:-1]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(RecommenderFormatError, match="do not match"):
        load_implicit(folder)
    with pytest.raises(RecommenderFormatError, match="No implicit recommender"):
        load_implicit(tmp_path / "missing")


def test_an_artifact_saved_before_the_softmax_model_still_loads_as_bpr(tmp_path, fitted):
    interactions, _, _ = fitted
    model = train_implicit(interactions, ImplicitConfig(method="bpr", epochs=1))
    folder = save_implicit(model, tmp_path / "ds-old")
    meta = json.loads((folder / "model.json").read_text())
    meta.update(format=1, kind="implicit_bpr",
                config={k: meta["config"][k] for k in ("dim", "epochs", "batch_size", "learning_rate", "l2", "seed", "threads")})
    (folder / "model.json").write_text(json.dumps(meta))
    loaded = load_implicit(folder)
    assert loaded.config.method == "bpr" and not implicit_source(loaded).user_from_history
    np.testing.assert_array_equal(loaded.merchant_factors, model.merchant_factors)


def test_merchant_table_and_category_column(frame):
    info = merchant_table(frame, find_category_column(frame))
    assert find_category_column(frame) == "merchant_category"
    assert len(info) == MERCHANTS and info["transactions"].sum() == len(frame)
    assert info.loc["M004", "category"] == "travel" and info.loc["M005", "country"] == "FR"


def test_merchant_map_samples_and_keeps_facts(fitted):
    interactions, model, info = fitted
    projected = merchant_map(implicit_source(model).aligned(interactions), info, max_points=30)
    assert len(projected.points) == 30 and projected.total == MERCHANTS
    busiest = info["transactions"].nlargest(15).index
    assert set(busiest) <= set(projected.points["merchant_id"])
    assert 0 < projected.explained[0] <= 1 and projected.explained[1] <= projected.explained[0]


def test_planting_moves_users_to_their_groups_merchants():
    base = planted_frame(rows=3000)
    out = plant_preferences(base, groups=2, share=1.0, seed=3)
    per_user = out.assign(g=out["merchant_id"].str[1:].astype(int) % 2).groupby("user_id")["g"].nunique()
    assert (per_user == 1).all() and len(out) == len(base)
