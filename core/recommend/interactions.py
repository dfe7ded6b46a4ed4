"""User x merchant interaction counts, per-merchant facts, and the leave-latest-out split.

Ids are compared as strings (as the fraud model's vocabularies store them).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.errors import TxlabError
from core.schema import FIELD_NAMES


class InteractionsError(TxlabError):
    """The frame cannot give user-merchant interactions (a column is missing, nothing to learn from)."""


@dataclass
class Interactions:
    """``matrix[u, m]`` = transactions of user ``users[u]`` at merchant ``merchants[m]`` (CSR, float32)."""

    users: pd.Index  # str
    merchants: pd.Index  # str
    matrix: sp.csr_matrix

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_merchants(self) -> int:
        return len(self.merchants)

    def used(self, user_index: int) -> np.ndarray:
        """Merchant indices the user has transacted with."""
        return self.matrix.indices[self.matrix.indptr[user_index]:self.matrix.indptr[user_index + 1]]

    def user_index(self, user_id: str) -> int:
        """Row of ``user_id``, or -1 when unknown."""
        return int(self.users.get_indexer([str(user_id)])[0])

    def merchant_index(self, merchant_id: str) -> int:
        return int(self.merchants.get_indexer([str(merchant_id)])[0])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Interactions":
        """Counts from a mapped frame with ``user_id`` and ``merchant_id``."""
        users, merchants, u, m = _codes(frame)
        return cls(users, merchants, _matrix(u, m, len(users), len(merchants)))


@dataclass
class Holdout:
    """Training interactions without each evaluated user's latest new merchant(s), and those merchants."""

    train: Interactions
    test_users: np.ndarray  # user row per held-out pair
    test_merchants: np.ndarray  # merchant column per held-out pair


def holdout_latest(frame: pd.DataFrame, n_latest: int = 1) -> Holdout:
    """Hold out, for every user with more than ``n_latest`` merchants, the ``n_latest`` merchants first used last.

    All of that user's transactions at a held-out merchant leave the training counts, so the held-out
    merchant is new to the user there and can be recommended (already-used merchants never are).
    Time is ``timestamp`` when mapped, else row order.
    """
    if n_latest < 1:
        raise InteractionsError(f"n_latest must be at least 1, got {n_latest!r}.")
    frame = _with_ids(frame)
    users, merchants, u, m = _codes(frame)
    when = (pd.to_datetime(frame["timestamp"], errors="coerce").to_numpy(dtype="datetime64[ns]").astype(np.int64)
            if "timestamp" in frame else np.arange(len(frame), dtype=np.int64))
    pairs = (pd.DataFrame({"u": u, "m": m, "t": when}).groupby(["u", "m"], sort=False)["t"].agg(["min", "size"]).reset_index())
    pairs = pairs.sort_values(["u", "min"], ascending=[True, False], kind="stable")
    rank = pairs.groupby("u", sort=False).cumcount().to_numpy()
    distinct = pairs.groupby("u", sort=False)["m"].transform("size").to_numpy()
    held = (rank < n_latest) & (distinct > n_latest)
    keep = pairs[~held]
    matrix = sp.csr_matrix((keep["size"].to_numpy(np.float32), (keep["u"].to_numpy(), keep["m"].to_numpy())),
                           shape=(len(users), len(merchants)))
    test = pairs[held]
    return Holdout(Interactions(users, merchants, matrix), test["u"].to_numpy(np.int64), test["m"].to_numpy(np.int64))


def find_category_column(frame: pd.DataFrame) -> str | None:
    """A non-canonical column naming the merchant's category (e.g. ``merchant_category``), if mapped."""
    for column in frame.columns:
        if column not in FIELD_NAMES and "categor" in str(column).lower():
            return str(column)
    return None


def merchant_table(frame: pd.DataFrame, category_column: str | None = None) -> pd.DataFrame:
    """Per merchant (index: id as str): ``transactions``, ``fraud_rate``, ``country`` (most frequent), ``category``."""
    _check_columns(frame, ["merchant_id"])
    ids = frame["merchant_id"].astype("str")
    table = pd.DataFrame({"transactions": ids.value_counts(sort=False)})
    table.index.name = "merchant_id"
    if "label" in frame:
        table["fraud_rate"] = pd.to_numeric(frame["label"], errors="coerce").groupby(ids).mean()
    else:
        table["fraud_rate"] = np.nan
    for name, column in (("country", "country"), ("category", category_column)):
        if column and column in frame:
            table[name] = _mode_by(ids, frame[column].astype("str"))
        else:
            table[name] = None
    return table.sort_index()


def _mode_by(keys: pd.Series, values: pd.Series) -> pd.Series:
    counts = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()}).groupby(["k", "v"], sort=False).size()
    counts = counts.sort_values(ascending=False, kind="stable")
    top = counts[~counts.index.get_level_values(0).duplicated()]
    return pd.Series(top.index.get_level_values(1), index=top.index.get_level_values(0))


def _with_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with both ids."""
    _check_columns(frame, ["user_id", "merchant_id"])
    present = frame["user_id"].notna() & frame["merchant_id"].notna()
    if not present.any():
        raise InteractionsError("No transaction has both a user_id and a merchant_id: nothing to recommend from.")
    return frame if present.all() else frame[present]


def _codes(frame: pd.DataFrame) -> tuple[pd.Index, pd.Index, np.ndarray, np.ndarray]:
    frame = _with_ids(frame)
    u, users = pd.factorize(frame["user_id"].astype("str"), sort=True)
    m, merchants = pd.factorize(frame["merchant_id"].astype("str"), sort=True)
    return pd.Index(users, dtype="str"), pd.Index(merchants, dtype="str"), u.astype(np.int64), m.astype(np.int64)


def _matrix(u: np.ndarray, m: np.ndarray, n_users: int, n_merchants: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, m)), shape=(n_users, n_merchants))
    matrix.sum_duplicates()
    return matrix


def _check_columns(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise InteractionsError(f"Recommendations need the column(s) {', '.join(missing)}, which the mapped data lacks.")
