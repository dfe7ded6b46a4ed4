"""Merchant recommendations from learned embeddings, with an offline evaluation.

``interactions``: user x merchant counts, merchant facts, the leave-latest-out split.
``sources``: embedding sources (the fraud model's id embeddings, the implicit model, popularity).
``implicit``: the implicit-feedback model's settings, training and on-disk artifact; ``softmax`` is the
model (merchant embeddings, users as the mean of their merchants', full-softmax loss), ``bpr`` the
earlier BPR matrix factorisation kept as evidence.
``ranking``: top-K for a user, similar merchants, filters.
``evaluate``: HR@K and NDCG@K of each source against a popularity baseline.
``service``: the whole loop (split, fit, evaluate, refit) as one call for pages and scripts.
"""
from core.recommend.evaluate import Evaluation, EvaluationRow, evaluate_sources
from core.recommend.implicit import (ImplicitConfig, ImplicitModel, RecommenderFormatError, load_implicit,
                                     recommender_folder, save_implicit, train_implicit)
from core.recommend.interactions import Interactions, Holdout, find_category_column, holdout_latest, merchant_table
from core.recommend.ranking import Filters, RecommendError, recommend_for_user, similar_merchants
from core.recommend.sources import EmbeddingSource, PopularitySource, fraud_model_source, implicit_source
from core.recommend.service import RecommenderBuild, build_recommender

__all__ = [
    "Evaluation", "EvaluationRow", "evaluate_sources", "ImplicitConfig", "ImplicitModel", "RecommenderFormatError",
    "load_implicit", "recommender_folder", "save_implicit", "train_implicit", "Interactions", "Holdout",
    "find_category_column", "holdout_latest", "merchant_table", "Filters", "RecommendError", "recommend_for_user",
    "similar_merchants", "EmbeddingSource", "PopularitySource", "fraud_model_source", "implicit_source",
    "RecommenderBuild", "build_recommender",
]
