"""Top-k next-item recommendations for a session from a trained GRU4Rec run.

    recommender = Recommender.load("apps/recsys/checkpoints/simulator")
    result = recommender.recommend([12, 45, 7], k=10)
    result.items      # [(raw item id, score), ...] best first
    result.unknown    # raw ids not in the training catalogue (skipped)
    result.fallback   # True when no item was known: popularity ranking instead

A run folder (what `train` writes, and the shipped checkpoint) holds
`model.keras` and `catalogue.npz` (raw item ids and training counts).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np

CHECKPOINT_DIR = pathlib.Path(__file__).parent / "checkpoints" / "simulator"


@dataclasses.dataclass
class Recommendation:
    session: list
    items: list
    unknown: list
    fallback: bool

    def as_dict(self):
        return {
            "session": self.session,
            "recommendations": [
                {"item_id": int(item), "score": float(score)}
                for item, score in self.items
            ],
            "unknown_items": self.unknown,
            "fallback": "popularity" if self.fallback else None,
        }

    def lines(self):
        """Human-readable lines: warnings first, then one line per item."""
        out = []
        if self.unknown:
            out.append(
                "warning: unknown item id(s) skipped: "
                + ", ".join(str(i) for i in self.unknown)
            )
        if self.fallback:
            out.append("note: no known item in the session; falling back to popularity")
        for rank, (item, score) in enumerate(self.items, 1):
            out.append(f"{rank:3d}. item {int(item)}  score {score:.4f}")
        return out


class Recommender:
    """Wraps a GRU4Rec model and its catalogue.

    Args:
        model: a `GRU4Rec`.
        index: `ItemIndex` of the training catalogue.
        item_counts: training counts per item index (the popularity fallback).
    """

    def __init__(self, model, index, item_counts):
        import tensorflow as tf

        if model.n_items != len(index):
            raise ValueError(
                f"model has {model.n_items} items but the catalogue has {len(index)}"
            )
        self.model = model
        self.index = index
        self.item_counts = np.asarray(item_counts, dtype=np.float64)

        def step(items, states):
            return model.step(items, states, training=False)

        self._step = tf.function(step, reduce_retracing=True, autograph=False)

    @classmethod
    def load(cls, run_dir=CHECKPOINT_DIR):
        import apps.recsys.model  # noqa: F401  (registers GRU4Rec)
        from apps.recsys.train import load_catalogue
        from core.runs import load_model

        run_dir = pathlib.Path(run_dir)
        model = load_model(run_dir / "model.keras")
        index, counts = load_catalogue(run_dir / "catalogue.npz")
        return cls(model, index, counts)

    def scores(self, known_indices):
        """Scores over the catalogue after feeding `known_indices` (non-empty)."""
        states = self.model.initial_states(1)
        output = None
        for item in known_indices:
            output, states = self._step(np.array([item], np.int32), states)
        return np.asarray(self.model.score_all(output))[0]

    def recommend(self, session, k=10):
        """Top-k for a session of raw item ids (unknown ids skipped and named)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        session = [int(item) for item in session]
        known = (
            self.index.contains(np.asarray(session, dtype=np.int64)) if session else []
        )
        unknown = [item for item, ok in zip(session, known, strict=True) if not ok]
        kept = [item for item, ok in zip(session, known, strict=True) if ok]
        if kept:
            scores = self.scores(self.index.to_index(kept))
            fallback = False
        else:
            scores = self.item_counts
            fallback = True
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        items = list(
            zip(self.index.to_raw(top).tolist(), scores[top].tolist(), strict=True)
        )
        return Recommendation(session, items, unknown, fallback)


_SEPARATORS = re.compile(r"[,\s]+")


def parse_session(text, source="--session", line=None):
    """'12,45,7' or '12 45 7' -> [12, 45, 7]; ValueError naming a bad token."""
    where = f"{source}" + (f": line {line}" if line is not None else "")
    tokens = [token for token in _SEPARATORS.split(text.strip()) if token]
    if not tokens:
        raise ValueError(f"{where}: empty session, expected item ids like 12,45,7")
    items = []
    for position, token in enumerate(tokens, 1):
        try:
            items.append(int(token))
        except ValueError:
            raise ValueError(
                f"{where}: item {position} is {token!r}, expected an integer item id"
            ) from None
    return items


def read_sessions_file(path):
    """One session per line (ids separated by commas or spaces); '#' comments."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sessions file not found")
    sessions = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        sessions.append(parse_session(text, str(path), number))
    if not sessions:
        raise ValueError(f"{path}: no sessions, expected one line of item ids each")
    return sessions
