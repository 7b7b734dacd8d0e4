"""Next-item evaluation (Recall@K, MRR@K) and the baselines of the papers.

Every event after a session's first is a target; the scorer sees the session
prefix only (state zeroed at each session start) and ranks the target among
all training items (items already seen in the session are not excluded).

Ties: with `ties="conservative"` (default) the target's rank is the number of
items scoring >= the target, the target included, i.e. every tied item is
assumed to come first. `ties="standard"` is 1 + the number scoring strictly
higher (optimistic: a constant scorer would get rank 1 for everything). A NaN
target score gets the worst rank (n_items).

Scorers follow one protocol, so GRU4Rec, the baselines and the simulator's
Bayes ceiling run through the same session-parallel loop:

    scorer.start(batch_size)                 # allocate per-row state
    scores = scorer.step(items, reset)       # (B,) item indices -> (B, n_items)
"""

from __future__ import annotations

import time

import numpy as np

from apps.recsys.data import SessionParallelIterator, Sessions, concatenated_ranges

DEFAULT_CUTOFFS = (1, 5, 10, 20)


def target_ranks(scores, targets, ties="conservative"):
    """Rank (1 = best) of each row's target item.

    Args:
        scores: (B, n_items) float scores.
        targets: (B,) item indices.
        ties: "conservative" (count items scoring >= the target, the target
            included) or "standard" (1 + count strictly higher).

    Example:
        >>> target_ranks(np.array([[0.5, 0.9, 0.5]]), np.array([0]))
        array([3])
    """
    scores = np.asarray(scores)
    targets = np.asarray(targets)
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    if ties == "conservative":
        ranks = (scores >= target_scores).sum(axis=1)
    elif ties == "standard":
        ranks = 1 + (scores > target_scores).sum(axis=1)
    else:
        raise ValueError(f"ties must be 'conservative' or 'standard', got {ties!r}")
    ranks = np.where(np.isnan(target_scores[:, 0]), scores.shape[1], ranks)
    return ranks.astype(np.int64)


class RankAccumulator:
    """Accumulates Recall@K and MRR@K from ranks."""

    def __init__(self, cutoffs=DEFAULT_CUTOFFS):
        if not cutoffs or min(cutoffs) < 1:
            raise ValueError(f"cutoffs must be positive integers, got {cutoffs}")
        self.cutoffs = tuple(int(k) for k in cutoffs)
        self.hits = {k: 0 for k in self.cutoffs}
        self.reciprocal = {k: 0.0 for k in self.cutoffs}
        self.count = 0

    def add(self, ranks):
        ranks = np.asarray(ranks)
        self.count += len(ranks)
        for k in self.cutoffs:
            inside = ranks <= k
            self.hits[k] += int(inside.sum())
            self.reciprocal[k] += float((1.0 / ranks[inside]).sum())

    def result(self):
        if self.count == 0:
            raise ValueError("no targets were evaluated")
        metrics = {}
        for k in self.cutoffs:
            metrics[f"recall@{k}"] = self.hits[k] / self.count
            metrics[f"mrr@{k}"] = self.reciprocal[k] / self.count
        metrics["n_targets"] = self.count
        return metrics


def evaluate_scorer(
    scorer,
    sessions: Sessions,
    cutoffs=DEFAULT_CUTOFFS,
    batch_size=256,
    ties="conservative",
):
    """Recall@K / MRR@K of `scorer` over every target of `sessions`.

    Memory is batch_size x n_items scores at a time, so a 40k-item catalogue
    with batch 256 needs ~40 MB.
    """
    accumulator = RankAccumulator(cutoffs)
    batch_size = max(1, min(batch_size, len(sessions)))
    scorer.start(batch_size)
    started = time.perf_counter()
    for batch in SessionParallelIterator(sessions, batch_size, finish="pad"):
        scores = scorer.step(batch.inputs, batch.reset)
        rows = np.flatnonzero(batch.active)
        accumulator.add(target_ranks(scores[rows], batch.targets[rows], ties))
    metrics = accumulator.result()
    metrics["seconds"] = time.perf_counter() - started
    return metrics


def item_counts(sessions: Sessions, n_items):
    return np.bincount(sessions.items, minlength=n_items).astype(np.float64)


# ---------------------------------------------------------------------------
# Baselines (Hidasi et al. 2016, section 4.2)
# ---------------------------------------------------------------------------


class PopularityScorer:
    """POP: always the training popularity (count) of each item.

    `train` is the training `Sessions` or directly the count per item.
    """

    name = "POP"

    def __init__(self, train, n_items):
        if isinstance(train, Sessions):
            self.popularity = item_counts(train, n_items)
        else:
            self.popularity = np.asarray(train, dtype=np.float64)

    def start(self, batch_size):
        self.batch_size = batch_size

    def step(self, items, reset):
        return np.broadcast_to(self.popularity, (len(items), len(self.popularity)))


class SessionPopularityScorer:
    """S-POP: items by their count in the current session, ties by popularity."""

    name = "S-POP"

    def __init__(self, train: Sessions, n_items):
        popularity = item_counts(train, n_items)
        # Popularity rescaled into [0, 0.5) only breaks ties between session counts.
        self.tiebreak = 0.5 * popularity / (popularity.max() + 1.0)
        self.n_items = n_items

    def start(self, batch_size):
        self.counts = np.zeros((batch_size, self.n_items))

    def step(self, items, reset):
        self.counts[reset] = 0.0
        self.counts[np.arange(len(items)), items] += 1.0
        return self.counts + self.tiebreak


class _SparseRows:
    """Rows of an n x n matrix in CSR form (item -> scored items), for catalogues
    too large for a dense matrix (YooChoose: 37k items)."""

    def __init__(self, rows, columns, values, n_items):
        order = np.lexsort((columns, rows))
        self.columns = columns[order].astype(np.int64)
        self.values = values[order].astype(np.float64)
        self.pointers = np.searchsorted(rows[order], np.arange(n_items + 1))

    def add_to(self, base, items):
        """`base` (n_items,) broadcast to (B, n_items) plus the rows of `items`."""
        scores = np.repeat(base[None, :], len(items), axis=0)
        starts = self.pointers[items]
        lengths = self.pointers[np.asarray(items) + 1] - starts
        if lengths.sum():
            positions = concatenated_ranges(starts, lengths)
            batch_rows = np.repeat(np.arange(len(items)), lengths)
            scores[batch_rows, self.columns[positions]] += self.values[positions]
        return scores


def _tiebreak(train, n_items):
    """Popularity squeezed into [0, 0.5): breaks ties between integer-ish scores
    (or, scaled down, between similarities) without reordering them."""
    popularity = item_counts(train, n_items)
    return 0.5 * popularity / (popularity.max() + 1.0)


class ItemKNNScorer:
    """Item-KNN: cosine similarity of the last item's session co-occurrence.

    sim(i, j) = |S_i & S_j| / (sqrt(|S_i| |S_j|) + regularization) over the
    training sessions S_i containing item i (the 2016 paper's baseline, with
    its shrinkage); only the `n_neighbors` most similar items per item are
    kept. Pairs are counted sparsely, so large catalogues fit.
    """

    name = "Item-KNN"

    def __init__(self, train: Sessions, n_items, n_neighbors=100, regularization=20.0):
        session_of_event = np.repeat(np.arange(len(train)), np.diff(train.offsets))
        keys = np.unique(session_of_event.astype(np.int64) * n_items + train.items)
        sessions, items = np.divmod(keys, n_items)
        starts = np.searchsorted(sessions, np.arange(len(train)))
        lengths = np.diff(np.append(starts, len(sessions)))
        # every ordered pair (i, j) of distinct items sharing a session
        left = np.repeat(items, lengths[sessions])
        right = items[concatenated_ranges(starts[sessions], lengths[sessions])]
        distinct = left != right
        pair_keys, counts = np.unique(
            left[distinct] * n_items + right[distinct], return_counts=True
        )
        rows, columns = np.divmod(pair_keys, n_items)
        support = np.bincount(items, minlength=n_items).astype(np.float64)
        similarity = counts / (
            np.sqrt(support[rows] * support[columns]) + regularization
        )
        # keep the n_neighbors best per row: sort by row, then similarity desc
        order = np.lexsort((-similarity, rows))
        rows, columns, similarity = rows[order], columns[order], similarity[order]
        first = np.searchsorted(rows, rows)
        keep = np.arange(len(rows)) - first < n_neighbors
        self.similarity = _SparseRows(
            rows[keep], columns[keep], similarity[keep], n_items
        )
        self.tiebreak = 1e-9 * _tiebreak(train, n_items)

    def start(self, batch_size):
        pass

    def step(self, items, reset):
        return self.similarity.add_to(self.tiebreak, items)


class MarkovScorer:
    """First-order Markov: transition counts from the last item, ties by popularity."""

    name = "Markov"

    def __init__(self, train: Sessions, n_items):
        within = np.ones(train.n_events, dtype=bool)
        within[train.offsets[1:] - 1] = False
        current = train.items[within].astype(np.int64)
        following = train.items[np.flatnonzero(within) + 1]
        keys, counts = np.unique(current * n_items + following, return_counts=True)
        rows, columns = np.divmod(keys, n_items)
        self.transitions = _SparseRows(
            rows, columns, counts.astype(np.float64), n_items
        )
        self.tiebreak = _tiebreak(train, n_items)

    def start(self, batch_size):
        pass

    def step(self, items, reset):
        return self.transitions.add_to(self.tiebreak, items)


class BayesScorer:
    """The simulator's exact next-item distribution given the prefix (the ceiling).

    Keeps per row the log-posterior over latent intents and the last item:
    log p(z | x_1..x_t) = log pi_z + log p_z(x_1) + sum_s log((1 - m) p_z(x_s) +
    m T[x_(s-1), x_s]); next-item probability = (1 - m) sum_z p(z | .) p_z +
    m T[x_t]. Restricted to the catalogue (`item_ids` maps indices to raw ids).
    """

    name = "Bayes ceiling"

    def __init__(self, simulator, catalogue_raw_ids):
        columns = np.asarray(catalogue_raw_ids) - 1
        self.markov_weight = simulator.config.markov_weight
        self.intent_items = simulator.intent_items[:, columns]
        self.transitions = simulator.transitions[np.ix_(columns, columns)]
        self.log_prior = np.log(simulator.intent_prior)

    def start(self, batch_size):
        self.log_posterior = np.zeros((batch_size, len(self.log_prior)))
        self.last = np.zeros(batch_size, dtype=np.int64)

    def step(self, items, reset):
        m = self.markov_weight
        emission = self.intent_items[:, items].T  # (B, Z)
        continued = np.log(
            (1 - m) * emission + m * self.transitions[self.last, items][:, None]
        )
        first = self.log_prior + np.log(emission)
        self.log_posterior = np.where(
            reset[:, None], first, self.log_posterior + continued
        )
        self.last = np.asarray(items, dtype=np.int64)
        posterior = np.exp(
            self.log_posterior - self.log_posterior.max(axis=1, keepdims=True)
        )
        posterior /= posterior.sum(axis=1, keepdims=True)
        return (1 - m) * posterior @ self.intent_items + m * self.transitions[items]


BASELINES = {
    "pop": PopularityScorer,
    "spop": SessionPopularityScorer,
    "itemknn": ItemKNNScorer,
    "markov": MarkovScorer,
}


def evaluate_baselines(train, test, n_items, names=tuple(BASELINES), **kwargs):
    """Metrics of each named baseline on `test`; returns {name: metrics}."""
    results = {}
    for name in names:
        scorer = BASELINES[name](train, n_items)
        results[scorer.name] = evaluate_scorer(scorer, test, **kwargs)
    return results


def format_table(results, cutoffs=(5, 20), ceiling_name=None):
    """Markdown table of Recall@K / MRR@K per method (and share of the ceiling)."""
    header = ["Method"]
    for k in cutoffs:
        header += [f"Recall@{k}", f"MRR@{k}"]
    if ceiling_name:
        header += ["Recall@20 / ceiling", "MRR@20 / ceiling"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, metrics in results.items():
        row = [name]
        for k in cutoffs:
            row += [f"{metrics[f'recall@{k}']:.4f}", f"{metrics[f'mrr@{k}']:.4f}"]
        if ceiling_name:
            ceiling = results[ceiling_name]
            row += [
                f"{metrics['recall@20'] / ceiling['recall@20']:.1%}",
                f"{metrics['mrr@20'] / ceiling['mrr@20']:.1%}",
            ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def evaluate_run(
    run_dir,
    baselines=tuple(BASELINES),
    cutoffs=DEFAULT_CUTOFFS,
    ties="conservative",
    batch_size=None,
    log=print,
):
    """GRU4Rec of a run folder vs baselines vs the Bayes ceiling on its test split.

    The split is rebuilt from the run's `config.json` (same data, same seed),
    and the simulator from its `simulator.json` when the data was simulated.
    Returns {method name: metrics}.
    """
    import pathlib

    from apps.recsys.recommend import Recommender
    from apps.recsys.train import GRU4RecScorer, TrainConfig, prepare_data
    from core.config import load_config

    run_dir = pathlib.Path(run_dir)
    config = load_config(TrainConfig, run_dir / "config.json")
    if config.data == "simulator" and (run_dir / "simulator.json").is_file():
        config.simulator_config = str(run_dir / "simulator.json")
    batch_size = batch_size or config.eval_batch_size
    recommender = Recommender.load(run_dir)
    data = prepare_data(config)
    if not np.array_equal(data.index.item_ids, recommender.index.item_ids):
        raise ValueError(
            f"{run_dir}: the rebuilt training catalogue differs from the model's "
            "catalogue.npz; was the data changed since training?"
        )
    log(
        f"test split: {data.summary['test_sessions']} sessions, "
        f"{data.summary['test_targets']} targets, {data.summary['items']} items"
    )
    options = dict(cutoffs=cutoffs, ties=ties, batch_size=batch_size)
    results = {}
    if data.simulator is not None:
        results[BayesScorer.name] = evaluate_scorer(
            BayesScorer(data.simulator, data.index.item_ids), data.test, **options
        )
    results[GRU4RecScorer.name] = evaluate_scorer(
        GRU4RecScorer(recommender.model), data.test, **options
    )
    for name in baselines:
        if name not in BASELINES:
            raise ValueError(
                f"unknown baseline {name!r}; expected one of {list(BASELINES)}"
            )
        scorer = BASELINES[name](data.train, len(data.index))
        results[scorer.name] = evaluate_scorer(scorer, data.test, **options)
    return results
