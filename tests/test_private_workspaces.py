"""Private workspaces seen through the pages: callbacks called directly, as alice, bob or an admin.

Alice has a mapped dataset and a trained model version; bob tries her ids on every page and
gets "not found", never her data. Sharing, per-user training runs and two users training at
once are checked the same way.
"""
from __future__ import annotations

import base64
import dataclasses
import threading
from types import SimpleNamespace

import pytest
from dash.exceptions import PreventUpdate

from core.access import LOCAL, Principal
from core.errors import TxlabError
from core.mapping import apply_mapping
from core.registry import ModelRegistry
from core.runs import RunStore
from core.train_config import TrainConfig
from core.training_job import run_training
from core.workspace import Workspace
from dashboard import context
from dashboard.components import components_in, figures_in, find_component
from tests.conftest import component_text as _raw_text
from tests.test_money_page import _form as money_form
from tests.test_predict_page import FAST, MAPPING, _form_state, raw_frame
from tests.test_train_page import _form as train_form

ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("root", admin=True)
_user = threading.local()  # who the current thread acts for: two users train at once in two threads


def text(component) -> str:
    return " ".join(_raw_text(component).split())


def _has(component, id_) -> bool:
    return any(getattr(c, "id", None) == id_ for c in components_in(component))


def _mapped_dataset(settings, who: Principal, name: str):
    workspace = Workspace(settings.data_dir, viewer=who)
    raw = raw_frame()
    meta = workspace.add_dataset(raw, name=name, source="upload")
    mapped, report = apply_mapping(raw, MAPPING)
    return workspace.save_mapping(meta.id, MAPPING, mapped, report.to_dict())


@pytest.fixture(scope="module")
def pages(txlab_app):
    from dashboard.pages import data, explore, mapping, models, money, predict, recommend, score, train

    return SimpleNamespace(data=data, explore=explore, mapping=mapping, models=models, money=money, predict=predict,
                           recommend=recommend, score=score, train=train)


@pytest.fixture(scope="module")
def alice(app_settings, txlab_app, tmp_path_factory):
    """Folders of this module's own, accounts on (LAN mode); alice's mapped dataset and model version."""
    root = tmp_path_factory.mktemp("private")
    settings = dataclasses.replace(app_settings, data_dir=root / "data", models_dir=root / "models", cache_dir=root / "cache", auth="on")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(context, "_settings", settings)
        dataset = _mapped_dataset(settings, ALICE, "alice-cards")
        record = run_training(workspace=Workspace(settings.data_dir, viewer=ALICE), models_dir=settings.models_dir,
                              dataset_id=dataset.id, config=TrainConfig(**FAST))
        assert record.status == "finished" and record.owner == "alice", record.message
        yield SimpleNamespace(settings=settings, dataset=dataset, version=record.version)


@pytest.fixture
def as_user(alice, monkeypatch):
    """``as_user(principal)`` makes the pages act for that user (in this thread)."""
    monkeypatch.setattr(context, "principal", lambda: getattr(_user, "who", LOCAL))

    def switch(who: Principal) -> None:
        _user.who = who

    yield switch
    _user.who = LOCAL


def _trigger(id_: dict, value) -> None:
    """Make Dash's ctx report the pattern-matching input ``id_`` as the one that fired, with ``value``."""
    import json

    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    prop = json.dumps(id_, sort_keys=True, separators=(",", ":")) + ".value"
    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop, "value": value}]))


# --- datasets -----------------------------------------------------------------------------------


def test_the_data_page_lists_only_the_users_own_datasets(pages, alice, as_user):
    as_user(BOB)
    _, own = pages.data.generate(1, 2000, 3, 0.02, 10, None, None)
    listing = pages.data.list_datasets(None, None)
    assert "synthetic-2000-seed3" in text(listing) and "alice-cards" not in text(listing)
    assert "Owner" not in text(listing.children[0])  # no Owner column for a plain user
    assert Workspace(alice.settings.data_dir).get(own).owner == "bob"  # what bob brings in is his
    as_user(ADMIN)
    listing = pages.data.list_datasets(None, None)
    assert "alice-cards" in text(listing) and "synthetic-2000-seed3" in text(listing)
    assert "Owner" in text(listing.children[0]) and "alice" in text(listing) and "bob" in text(listing)


def test_without_accounts_the_tables_have_no_owner_or_sharing_columns(pages, alice, as_user, monkeypatch):
    monkeypatch.setattr(context, "_settings", dataclasses.replace(alice.settings, auth="auto"))
    as_user(LOCAL)  # what principal() is without accounts
    head = text(pages.data.list_datasets(None, None).children[0])
    assert "Shared" not in head and "Owner" not in head and "Name" in head
    table = pages.models.show_table(None, None, None, None)
    assert "Shared" not in text(table.children[0]) and not _has(table, {"type": "models-share", "index": alice.version})


def test_a_dataset_shared_on_the_data_page_is_usable_but_not_deletable_by_others(pages, alice, as_user):
    switch = {"type": pages.data.SHARE, "index": alice.dataset.id}
    as_user(ALICE)
    _trigger(switch, True)
    assert "is shared" in text(pages.data.share_dataset([True]))
    try:
        as_user(BOB)
        listing = pages.data.list_datasets(None, None)
        assert "alice-cards" in text(listing) and "shared by alice" in text(listing)
        assert not _has(listing, switch)  # bob gets no switch for her dataset ...
        assert find_component(listing, {"type": "data-delete", "index": alice.dataset.id}).disabled  # ... nor a delete button
        _trigger(switch, False)
        assert "Only its owner (alice)" in text(pages.data.share_dataset([False]))
        _, _, message = pages.data.delete_dataset(1, alice.dataset.id)
        assert "Only its owner (alice)" in text(message)
        assert not pages.explore.show_controls(alice.dataset.id)[1]  # explorable: the body is shown
    finally:
        as_user(ALICE)
        _trigger(switch, False)
        assert "no longer shared" in text(pages.data.share_dataset([False]))
    _trigger(switch, False)
    with pytest.raises(PreventUpdate):  # the list was redrawn, nothing flipped
        pages.data.share_dataset([False])


def test_another_users_dataset_id_is_not_found_on_every_page(pages, alice, as_user):
    as_user(BOB)
    hidden = alice.dataset.id
    status, body_hidden, *_ = pages.explore.show_controls(hidden)
    assert f"Dataset '{hidden}' not found" in text(status) and body_hidden
    with pytest.raises(PreventUpdate):
        pages.explore.show_overview(hidden)
    no_dataset_hidden, form_hidden, *_ = pages.mapping.show_mapping_form(hidden)
    assert (no_dataset_hidden, form_hidden) == (False, True)
    view, train_off = pages.train.show_dataset(hidden)
    assert train_off and "alice-cards" not in text(view)
    message = pages.train.train(lambda _: None, 1, *train_form(), hidden)
    assert "not found" in text(message) and RunStore(alice.settings.models_dir, viewer=BOB).list_runs() == []
    sources, chosen = pages.score.list_sources(None, hidden, None)
    assert chosen is None and hidden not in [o["value"] for o in sources]
    assert pages.money.fill_revenue(hidden) == ([], None)
    _, _, message, _ = pages.money.compute(lambda _: None, 1, "active", hidden, "amount", *money_form())
    assert "not found" in text(message)
    _, _, message = pages.data.delete_dataset(1, hidden)
    assert "not found" in text(message)
    assert Workspace(alice.settings.data_dir).get(hidden).name == "alice-cards"  # still there


# --- model versions -----------------------------------------------------------------------------


def test_another_users_model_id_is_not_found_on_every_page(pages, alice, as_user):
    as_user(ALICE)
    form = pages.predict.show_form(alice.version)[0]  # alice's model is now in the process's model cache
    state = _form_state(form)
    _, scored = pages.score.score(lambda _: None, 1, alice.version, alice.dataset.id, None, "csv")
    key, *_ = pages.money.compute(lambda _: None, 1, alice.version, alice.dataset.id, "amount", *money_form())
    assert figures_in(pages.money.show(key, 0.5, None, "day")[0])

    as_user(BOB)
    missing = f"No model version '{alice.version}'"
    assert pages.predict.list_versions(None, None) == ([], None)
    form, note, _, score_off, _ = pages.predict.show_form(alice.version)
    assert form is None and missing in text(note) and score_off
    assert missing in text(pages.predict.score(1, alice.version, *state, 0.5))
    with pytest.raises(PreventUpdate):
        pages.predict.search_values("M", None, {"type": "predict-cat", "name": "merchant_id"}, alice.version)
    own = _mapped_dataset(alice.settings, BOB, "bob-cards")
    view, score_off = pages.score.check_mapping(alice.version, own.id, None)
    assert missing in text(view) and score_off
    result, file = pages.score.score(lambda _: None, 1, alice.version, own.id, None, "csv")
    assert missing in text(result) and file is None
    with pytest.raises(PreventUpdate):  # her scored file, by its id
        pages.score.download(1, scored)
    main, charts, summary = pages.money.show(key, 0.5, None, "day")  # her analysis is in the process's cache
    assert missing in text(main) and not figures_in(main) and charts is None
    _, _, message, _ = pages.money.compute(lambda _: None, 1, alice.version, own.id, "amount", *money_form())
    assert missing in text(message)
    assert missing in text(pages.recommend.show_context(alice.version, None, None)[0])
    assert pages.models.list_versions(None, None, None, None, None)[0] == []
    detail, activate_off, delete_off = pages.models.show_version(alice.version, None)
    assert missing in text(detail) and activate_off and delete_off
    assert missing in text(pages.models.mark_active(1, alice.version)[1])
    assert missing in text(pages.models.delete_version(1, alice.version)[1])
    assert missing in text(pages.models.show_comparison(alice.version, alice.version + "x"))

    as_user(ALICE)
    assert pages.score.download(1, scored)["filename"].endswith("-scored.csv")  # still hers
    assert ModelRegistry(alice.settings.models_dir).get_info(alice.version).owner == "alice"


def test_a_shared_model_is_usable_by_others_but_only_its_owner_deletes_or_unshares_it(pages, alice, as_user):
    switch = {"type": "models-share", "index": alice.version}
    as_user(ALICE)
    table = pages.models.show_table(alice.version, None, None, None)
    assert find_component(table, switch).value is False and "Owner" not in text(table.children[0])
    _trigger(switch, True)
    changed, message = pages.models.share_version([True])
    assert changed and "every user can score and compare with it" in text(message)
    try:
        as_user(BOB)
        options, value, *_ = pages.models.list_versions(None, None, None, None, None)
        assert [o["value"] for o in options] == [alice.version]
        table = pages.models.show_table(value, None, None, None)
        assert "shared by alice" in text(table) and not _has(table, switch)
        detail, _, delete_off = pages.models.show_version(alice.version, None)
        assert "Loss per epoch" in [f.layout.title.text for f in figures_in(detail)] and delete_off
        assert "Only its owner (alice)" in text(pages.models.delete_version(1, alice.version)[1])
        _trigger(switch, False)
        assert "Only its owner (alice)" in text(pages.models.share_version([False])[1])
        form, note, _, score_off, _ = pages.predict.show_form(alice.version)
        assert form is not None and not score_off and alice.version in text(note)
        assert "now active" in text(pages.models.mark_active(1, alice.version)[1])  # bob's own default
        assert pages.predict.list_versions(None, None)[1] == alice.version
        as_user(ADMIN)
        table = pages.models.show_table(None, None, None, None)
        assert "Owner" in text(table.children[0]) and find_component(table, switch).value is True
    finally:
        as_user(ALICE)
        _trigger(switch, False)
        assert "no longer shared" in text(pages.models.share_version([False])[1])
    as_user(BOB)
    assert pages.predict.list_versions(None, None) == ([], None)  # gone from his pickers, his active one included


def test_the_profit_page_caches_each_users_active_model_under_its_own_id(pages, alice, as_user):
    """A key saying "active" (the browser sends the key) is this user's active version, never an analysis cached for another."""
    from core.finance import Assumptions
    from dashboard import money_views

    models = alice.settings.models_dir
    loaded = ModelRegistry(models).load(alice.version)
    weights = {k: v * 0.5 if v.is_floating_point() else v for k, v in loaded.weights.items()}  # another model, same inputs
    bobs = ModelRegistry(models, viewer=BOB).save_version(weights=weights, meta=loaded.meta, history=loaded.history, tables=loaded.tables)
    ModelRegistry(models, viewer=BOB).set_active(bobs)
    Workspace(alice.settings.data_dir, viewer=ALICE).share(alice.dataset.id, True)
    try:
        active = money_views.make_key("active", alice.dataset.id, "amount", Assumptions())
        as_user(ALICE)
        hers = money_views.analysis(active)
        as_user(BOB)
        his = money_views.analysis(active)
        assert not (his.model.scores == hers.model.scores).all()  # scored by his model, not hers
        assert his is money_views.analysis({**active, "version": bobs})  # one cache entry per version id
        as_user(ALICE)
        assert hers is money_views.analysis({**active, "version": alice.version})
    finally:
        Workspace(alice.settings.data_dir, viewer=ALICE).share(alice.dataset.id, False)
        ModelRegistry(models, viewer=BOB).delete(bobs)


def test_another_users_score_page_upload_is_gone_like_a_pruned_one(pages, alice, as_user):
    from dashboard import predict_views

    cache = alice.settings.cache_folder
    contents = "data:text/csv;base64," + base64.b64encode(raw_frame(rows=50).to_csv(index=False).encode()).decode()
    as_user(ALICE)
    store, _ = pages.score.upload_file(contents, "alice.csv")
    value = f"upload:{store['id']}"
    assert predict_views.resolve_source(context.workspace(), cache, value, store).rows == 50
    as_user(BOB)
    with pytest.raises(TxlabError) as hers:
        predict_views.resolve_source(context.workspace(), cache, value, store)
    pruned = {**store, "id": "0" * 32}
    with pytest.raises(TxlabError) as gone:
        predict_views.resolve_source(context.workspace(), cache, f"upload:{pruned['id']}", pruned)
    assert str(hers.value) == str(gone.value) == "The uploaded file is no longer available: upload it again."
    result, file = pages.score.score(lambda _: None, 1, "active", value, store, "csv")
    assert "no longer available" in text(result) and file is None
    as_user(ADMIN)
    assert predict_views.resolve_source(context.workspace(), cache, value, store).name == "alice.csv"


# --- training -----------------------------------------------------------------------------------


def test_each_train_page_follows_only_its_users_runs(pages, alice, as_user):
    store = RunStore(alice.settings.models_dir)
    config = TrainConfig(epochs=4).to_dict()
    runs = {who.name: RunStore(alice.settings.models_dir, viewer=who).start(dataset_id="ds-000000000001", dataset_name=f"{who.name}-live",
                                                                              config=config, epochs_total=4) for who in (ALICE, BOB)}
    try:
        for who, other in ((ALICE, BOB), (BOB, ALICE)):
            as_user(who)
            for own, followed in ((None, None), (runs[other.name].id, None), (None, runs[other.name].id)):
                out = pages.train.follow(0, own, followed)
                assert out[7] == runs[who.name].id, (who, own, followed)  # the run shown: always the user's own
            assert "Could not cancel" in text(pages.train.cancel(1, runs[other.name].id, None))
            assert not store.cancel_requested(runs[other.name].id)
            runs_table = text(pages.models.show_runs(None, None, None)[0])
            assert f"{who.name}-live" in runs_table and f"{other.name}-live" not in runs_table
    finally:
        for record in runs.values():
            store.finish(record.id, "cancelled")


def test_two_users_training_at_once_get_two_runs_two_versions_and_their_own_curves(pages, alice, as_user, monkeypatch):
    bob_data = _mapped_dataset(alice.settings, BOB, "bob-train")
    start = threading.Barrier(2)
    updates: dict[str, list] = {"alice": [], "bob": []}
    errors: list = []

    def train(who: Principal, dataset_id: str) -> None:
        _user.who = who
        try:
            start.wait(timeout=60)
            message = pages.train.train(updates[who.name].append, 1, *train_form(epochs=2, baselines=False, batch_size=2048), dataset_id)
            assert message is None, text(message)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=train, args=args) for args in ((ALICE, alice.dataset.id), (BOB, bob_data.id))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    run_ids = {name: {u[6] for u in stream} for name, stream in updates.items()}
    assert all(len(ids) == 1 for ids in run_ids.values()) and run_ids["alice"] != run_ids["bob"]  # each stream: one run, its own
    records = {name: RunStore(alice.settings.models_dir).get(next(iter(ids))) for name, ids in run_ids.items()}
    assert {name: r.owner for name, r in records.items()} == {"alice": "alice", "bob": "bob"}
    assert all(r.status == "finished" for r in records.values())
    registry = ModelRegistry(alice.settings.models_dir)
    assert {n: registry.get_info(r.version).owner for n, r in records.items()} == {"alice": "alice", "bob": "bob"}
    assert records["alice"].version != records["bob"].version
    for who, other in ((ALICE, BOB), (BOB, ALICE)):
        as_user(who)
        out = pages.train.follow(0, records[who.name].id, None)
        assert out[7] == records[who.name].id and records[who.name].version in text(out[-1])
        assert pages.train.follow(0, records[other.name].id, None)[7] is None  # the other's run id shows nothing
        versions = [o["value"] for o in pages.predict.list_versions(None, None)[0]]
        assert records[who.name].version in versions and records[other.name].version not in versions


def test_pages_open_stores_only_through_the_users_context():
    """A page or view that built its own ModelRegistry, RunStore or Workspace would see every user's items."""
    import re
    from pathlib import Path

    import dashboard

    root = Path(dashboard.__file__).parent
    offenders = [f"{path.name}: {found}" for path in [*root.glob("pages/*.py"), *root.glob("*_views.py")]
                 for found in re.findall(r"\b(?:ModelRegistry|RunStore|Workspace)\(", path.read_text(encoding="utf-8"))]
    assert offenders == []
