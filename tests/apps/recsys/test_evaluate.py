"""Tests of apps/recsys/evaluate.py on hand-worked cases, every tie branch."""

import numpy as np
import pytest

from apps.recsys.data import Sessions, SessionSimulator, SimulatorConfig
from apps.recsys.evaluate import (
    BayesScorer,
    ItemKNNScorer,
    MarkovScorer,
    PopularityScorer,
    RankAccumulator,
    SessionPopularityScorer,
    evaluate_baselines,
    evaluate_scorer,
    format_table,
    target_ranks,
)

# ------------------------------------------------------------------------- ranks


def test_rank_without_ties_is_the_same_for_both_rules():
    scores = np.array([[0.1, 0.9, 0.5], [0.1, 0.9, 0.5]])
    targets = np.array([2, 1])
    assert target_ranks(scores, targets, "conservative").tolist() == [2, 1]
    assert target_ranks(scores, targets, "standard").tolist() == [2, 1]


def test_rank_with_ties_conservative_counts_every_tied_item():
    # Target 0 ties with item 2, item 1 is higher: 3 items score >= target.
    scores = np.array([[0.5, 0.9, 0.5, 0.1]])
    assert target_ranks(scores, np.array([0]), "conservative").tolist() == [3]
    assert target_ranks(scores, np.array([0]), "standard").tolist() == [2]


def test_rank_of_a_constant_scorer():
    scores = np.zeros((1, 5))
    assert target_ranks(scores, np.array([3]), "conservative").tolist() == [5]
    assert target_ranks(scores, np.array([3]), "standard").tolist() == [1]


def test_rank_nan_target_is_worst_and_bad_rule_raises():
    scores = np.array([[np.nan, 0.2, 0.1]])
    assert target_ranks(scores, np.array([0]), "conservative").tolist() == [3]
    assert target_ranks(scores, np.array([0]), "standard").tolist() == [3]
    with pytest.raises(ValueError, match="ties"):
        target_ranks(scores, np.array([0]), "optimistic")


def test_recall_and_mrr_at_k_hand_worked():
    accumulator = RankAccumulator(cutoffs=(1, 5, 20))
    accumulator.add([1, 3, 25])
    accumulator.add([5])  # rank exactly K counts as a hit at K=5
    result = accumulator.result()
    assert result["recall@1"] == pytest.approx(1 / 4)
    assert result["mrr@1"] == pytest.approx(1 / 4)
    assert result["recall@5"] == pytest.approx(3 / 4)
    assert result["mrr@5"] == pytest.approx((1 + 1 / 3 + 1 / 5) / 4)
    assert result["recall@20"] == pytest.approx(3 / 4)  # rank 25 is past 20: 0
    assert result["mrr@20"] == pytest.approx((1 + 1 / 3 + 1 / 5) / 4)
    assert result["n_targets"] == 4


def test_accumulator_errors():
    with pytest.raises(ValueError, match="no targets"):
        RankAccumulator().result()
    with pytest.raises(ValueError, match="cutoffs"):
        RankAccumulator(cutoffs=(0,))


# ---------------------------------------------------------------------- baselines

TRAIN = Sessions.from_lists([[0, 1], [0, 1], [0, 2]])  # counts 3, 2, 1, 0


def test_pop_end_to_end_hand_worked():
    test = Sessions.from_lists([[1, 0], [2, 1, 2]])
    # Targets 0, 1, 2 have popularity ranks 1, 2, 3 (item 3 has count 0).
    result = evaluate_scorer(
        PopularityScorer(TRAIN, 4), test, cutoffs=(1, 5), batch_size=2
    )
    assert result["n_targets"] == 3
    assert result["recall@1"] == pytest.approx(1 / 3)
    assert result["recall@5"] == pytest.approx(1.0)
    assert result["mrr@5"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_spop_counts_session_items_and_resets():
    scorer = SessionPopularityScorer(TRAIN, 4)
    scorer.start(1)
    scorer.step(np.array([2]), np.array([True]))
    scorer.step(np.array([1]), np.array([False]))
    scores = scorer.step(np.array([2]), np.array([False]))[0]
    # item 2 seen twice > item 1 once > item 0 (most popular, unseen) > item 3
    assert np.argsort(-scores).tolist() == [2, 1, 0, 3]
    scores = scorer.step(np.array([3]), np.array([True]))[0]
    assert np.argsort(-scores).tolist() == [3, 0, 1, 2]


def test_markov_transition_counts_hand_worked():
    train = Sessions.from_lists([[0, 1, 0, 1], [0, 2]])
    scorer = MarkovScorer(train, 3)
    scorer.start(1)
    scores = scorer.step(np.array([0]), np.array([True]))[0]
    # 0 -> 1 twice, 0 -> 2 once, 0 -> 0 never (popularity tie-break < 0.5)
    assert scores[1] == pytest.approx(2, abs=0.5)
    assert scores[2] == pytest.approx(1, abs=0.5)
    assert scores.argsort()[::-1].tolist() == [1, 2, 0]
    # session ends are not transitions: 1 -> 0 once, 2 -> nothing
    assert scorer.step(np.array([2]), np.array([False]))[0].max() < 0.5


def test_item_knn_cosine_hand_worked_with_tie():
    train = Sessions.from_lists([[0, 1], [0, 1, 2], [2, 3]])
    scorer = ItemKNNScorer(train, 4, regularization=0.0)
    row = scorer.step(np.array([2]), np.array([True]))[0]
    # |S_2| = 2, co-occurrence with 0 and 1: 1 each -> 1/2; with 3: 1/sqrt(2)
    np.testing.assert_allclose(row, [0.5, 0.5, 0.0, 2**-0.5], atol=1e-6)
    # items 0 and 1 tie exactly (same popularity): conservative rank of 0 is 3
    assert target_ranks(row[None], np.array([0]))[0] == 3
    assert target_ranks(row[None], np.array([0]), "standard")[0] == 2
    nearest = ItemKNNScorer(train, 4, n_neighbors=1, regularization=0.0)
    row = nearest.step(np.array([2]), np.array([True]))[0]
    assert np.flatnonzero(row > 1e-6).tolist() == [3]


def test_evaluate_baselines_and_table():
    test = Sessions.from_lists([[1, 0], [2, 1, 2]])
    results = evaluate_baselines(TRAIN, test, 4, batch_size=2)
    assert set(results) == {"POP", "S-POP", "Item-KNN", "Markov"}
    table = format_table(results, ceiling_name="POP")
    assert table.count("\n") == 5 and "100.0%" in table


# ---------------------------------------------------------------------- Bayes ceiling


def brute_force_predictive(simulator, prefix):
    m = simulator.config.markov_weight
    p, t = simulator.intent_items, simulator.transitions
    likelihood = simulator.intent_prior * p[:, prefix[0]]
    for previous, item in zip(prefix[:-1], prefix[1:], strict=True):
        likelihood = likelihood * ((1 - m) * p[:, item] + m * t[previous, item])
    posterior = likelihood / likelihood.sum()
    return (1 - m) * posterior @ p + m * t[prefix[-1]]


def test_bayes_scorer_matches_brute_force_and_resets():
    simulator = SessionSimulator(
        SimulatorConfig(n_items=12, n_intents=3, items_per_intent=4, seed=5)
    )
    catalogue = np.arange(1, 13)
    scorer = BayesScorer(simulator, catalogue)
    scorer.start(2)
    prefixes = [[3, 7, 7, 1], [0, 11, 5, 2]]
    for t in range(4):
        items = np.array([prefixes[0][t], prefixes[1][t]])
        reset = np.array([t == 0, t in (0, 2)])  # row 1 starts a new session at t=2
        scores = scorer.step(items, reset)
    np.testing.assert_allclose(
        scores[0], brute_force_predictive(simulator, [3, 7, 7, 1])
    )
    np.testing.assert_allclose(scores[1], brute_force_predictive(simulator, [5, 2]))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)


def test_bayes_ceiling_beats_markov_on_simulated_sessions():
    from apps.recsys.data import ItemIndex, preprocess

    simulator = SessionSimulator(
        SimulatorConfig(
            n_items=60,
            n_intents=6,
            items_per_intent=10,
            n_sessions=3000,
            n_days=5,
            seed=2,
        )
    )
    train_events, test_events = preprocess(simulator.simulate())
    index = ItemIndex.from_events(train_events)
    train = Sessions.from_events(train_events, index)
    test = Sessions.from_events(test_events, index)
    ceiling = evaluate_scorer(BayesScorer(simulator, index.item_ids), test)
    markov = evaluate_scorer(MarkovScorer(train, len(index)), test)
    pop = evaluate_scorer(PopularityScorer(train, len(index)), test)
    assert ceiling["recall@5"] > markov["recall@5"] > pop["recall@5"]
    assert ceiling["mrr@5"] > markov["mrr@5"]


def test_forty_thousand_item_catalogue_is_evaluated_in_batches():
    rng = np.random.default_rng(0)
    n_items = 40_000
    train = Sessions.from_lists([rng.integers(0, n_items, 5) for _ in range(2000)])
    test = Sessions.from_lists([rng.integers(0, n_items, 4) for _ in range(300)])
    for scorer in (
        PopularityScorer(train, n_items),
        MarkovScorer(train, n_items),
        ItemKNNScorer(train, n_items),
    ):
        result = evaluate_scorer(scorer, test, batch_size=128, cutoffs=(20,))
        assert result["n_targets"] == 900
        assert 0.0 <= result["recall@20"] < 0.05  # random data: near chance
