"""A trained fraud model as one object: feature pipeline state, input encoding, network.

``score(frame)`` runs the same code as training on a mapped frame: behaviour features from the
stored history plus the frame's own earlier rows (its labels are never read), the stored
vocabularies and scalers, then the network. ``artifacts()`` and ``from_artifacts()`` turn it into
what the registry stores (a state_dict, JSON, Parquet tables) and back, with no pickle.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from core.encoding import InputEncoder
from core.errors import TxlabError
from core.features import BehaviourState, FeatureConfig, build_features
from core.model import FraudNet, NetConfig


class ModelFormatError(TxlabError):
    """A stored model's description does not match what this version of txlab can load."""


class FraudModel:
    def __init__(self, net: FraudNet, encoder: InputEncoder, features: FeatureConfig,
                 state: BehaviourState | None) -> None:
        self.net = net
        self.encoder = encoder
        self.features = features
        self.state = state

    def inputs(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's inputs for a mapped frame (same row order)."""
        frame = frame.reset_index(drop=True)
        features = build_features(frame.drop(columns=["label"], errors="ignore"), self.features, state=self.state)
        codes, numbers = self.encoder.transform(frame, features)
        return torch.from_numpy(codes), torch.from_numpy(numbers)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Fraud probability of every row of a mapped frame."""
        codes, numbers = self.inputs(frame)
        return self.net.predict_proba(codes, numbers).numpy().astype(np.float64)

    def artifacts(self) -> tuple[dict[str, torch.Tensor], dict, dict[str, pd.DataFrame]]:
        """``(weights, model description, tables)`` for ``ModelRegistry.save_version``."""
        weights = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        description = {"architecture": self.net.config.to_dict(), "encoding": self.encoder.to_dict(),
                       "features": self.features.to_dict()}
        tables = self.state.to_tables() if self.state is not None else {}
        return weights, description, tables

    @classmethod
    def from_artifacts(cls, weights: dict[str, torch.Tensor], meta: dict, tables: dict[str, pd.DataFrame]) -> "FraudModel":
        """Rebuild a stored model; a description that does not fit its weights is refused."""
        try:
            net = FraudNet(NetConfig.from_dict(meta["architecture"]))
            encoder = InputEncoder.from_dict(meta["encoding"])
            features = FeatureConfig.from_dict(meta["features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"The model description is incomplete or malformed ({exc}).") from None
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        given = {k: tuple(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)}
        if expected != given:
            raise ModelFormatError("The model's weights do not match its described architecture.")
        if encoder.cardinalities != net.config.cardinalities or len(encoder.numeric_names) != net.config.n_numeric:
            raise ModelFormatError("The model's input encoding does not match its architecture.")
        net.load_state_dict(weights)
        net.eval()
        state = BehaviourState.from_tables(tables) if tables else None
        return cls(net, encoder, features, state)
