"""Tests of apps/recsys/train.py: losses, state reset, compiled step, learning."""

import numpy as np
import pytest
import tensorflow as tf

from apps.recsys.data import Sessions
from apps.recsys.evaluate import PopularityScorer, evaluate_scorer
from apps.recsys.model import GRU4Rec
from apps.recsys.train import (
    GRU4RecScorer,
    SessionParallelTrainer,
    TrainConfig,
    bpr_loss,
    bpr_max_loss,
    cross_entropy_loss,
    negative_mask_for,
    top1_loss,
    top1_max_loss,
)

# Two rows, targets [0, 1]; sampled columns: targets then extras [2, 0].
SCORES = np.array([[2.0, 0.5, -1.0, 1.0], [0.0, 1.0, 3.0, 0.0]], np.float32)
SAMPLE_IDS = np.array([0, 1, 2, 0], np.int32)
TARGETS = np.array([0, 1], np.int32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mask():
    return negative_mask_for(tf.constant(TARGETS), tf.constant(SAMPLE_IDS))


def test_negative_mask_drops_positive_and_duplicates_of_the_target():
    # Row 0's target 0 also appears as extra column 3: not a negative.
    assert mask().numpy().tolist() == [
        [False, True, True, False],
        [True, False, True, True],
    ]


def test_cross_entropy_hand_worked_with_and_without_logq():
    row0 = -np.log(np.exp(2) / (np.exp(2) + np.exp(0.5) + np.exp(-1)))
    row1 = -np.log(np.exp(1) / (np.exp(0) + np.exp(1) + np.exp(3) + np.exp(0)))
    value = cross_entropy_loss(tf.constant(SCORES), mask())
    assert float(value) == pytest.approx((row0 + row1) / 2, rel=1e-5)
    log_q = np.log(np.array([0.5, 0.25, 0.125, 0.5], np.float32))
    shifted = SCORES - log_q
    row0 = -np.log(np.exp(shifted[0, 0]) / np.exp(shifted[0, :3]).sum())
    row1 = -np.log(np.exp(shifted[1, 1]) / np.exp(shifted[1]).sum())
    value = cross_entropy_loss(tf.constant(SCORES), mask(), tf.constant(log_q))
    assert float(value) == pytest.approx((row0 + row1) / 2, rel=1e-5)


def softmax_neg(row, valid):
    weights = np.where(valid, np.exp(row), 0.0)
    return weights / weights.sum()


def test_bpr_max_and_top1_max_hand_worked():
    valid = mask().numpy()
    bpr, top1 = [], []
    for b in range(2):
        weights = softmax_neg(SCORES[b], valid[b])
        positive = SCORES[b, b]
        bpr.append(
            -np.log((weights * sigmoid(positive - SCORES[b])).sum())
            + 0.5 * (weights * SCORES[b] ** 2).sum()
        )
        top1.append(
            (weights * (sigmoid(SCORES[b] - positive) + sigmoid(SCORES[b] ** 2))).sum()
        )
    assert float(bpr_max_loss(tf.constant(SCORES), mask(), bpreg=0.5)) == (
        pytest.approx(np.mean(bpr), rel=1e-5)
    )
    assert float(top1_max_loss(tf.constant(SCORES), mask())) == (
        pytest.approx(np.mean(top1), rel=1e-5)
    )


def test_bpr_and_top1_2016_hand_worked():
    valid = mask().numpy()
    bpr, top1 = [], []
    for b in range(2):
        negatives = SCORES[b][valid[b]]
        positive = SCORES[b, b]
        bpr.append(-np.log(sigmoid(positive - negatives)).mean())
        top1.append((sigmoid(negatives - positive) + sigmoid(negatives**2)).mean())
    assert float(bpr_loss(tf.constant(SCORES), mask())) == pytest.approx(
        np.mean(bpr), rel=1e-5
    )
    assert float(top1_loss(tf.constant(SCORES), mask())) == pytest.approx(
        np.mean(top1), rel=1e-5
    )


def tiny_config(**overrides):
    values = dict(
        hidden_units=(6,),
        batch_size=2,
        n_sample=3,
        steps_per_call=2,
        optimizer="sgd",
        learning_rate=1e-3,
        sample_store_size=60,
    )
    values.update(overrides)
    return TrainConfig(**values)


def test_hidden_state_reset_on_hand_worked_schedule():
    # Rows: s0 = [0 1 2], s1 = [3 4]; step 2 moves s2 = [5 6] into row 1.
    sessions = Sessions.from_lists([[0, 1, 2], [3, 4], [5, 6]])
    model = GRU4Rec(7, hidden_units=[6])
    trainer = SessionParallelTrainer(
        model, tiny_config(learning_rate=1e-9), np.ones(7), compiled=False
    )
    trainer.train_epoch(sessions, max_steps=1)
    after_first = [v.numpy().copy() for v in trainer.hidden][0]
    expected, _ = model.step(np.array([0, 3]), model.initial_states(2))
    np.testing.assert_allclose(after_first, expected, rtol=1e-4, atol=1e-6)
    # Second step: row 0 continues (state carried), row 1 restarts from zero.
    trainer._step(
        tf.constant([1, 5]),
        tf.constant([2, 6]),
        tf.constant([False, True]),
        tf.constant([0, 1, 2]),
    )
    carried, _ = model.step(np.array([1]), [after_first[:1]])
    fresh, _ = model.step(np.array([5]), model.initial_states(1))
    hidden = trainer.hidden[0].numpy()
    np.testing.assert_allclose(hidden[0], carried[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(hidden[1], fresh[0], rtol=1e-4, atol=1e-6)


def test_compiled_step_traces_once_and_matches_eager():
    sessions = Sessions.from_lists([[0, 1, 2, 3], [3, 4], [5, 6, 1], [2, 2, 3]] * 3)
    losses = {}
    for compiled in (True, False):
        tf.keras.utils.set_random_seed(1)
        model = GRU4Rec(7, hidden_units=[6])
        trainer = SessionParallelTrainer(
            model, tiny_config(), np.ones(7), compiled=compiled
        )
        losses[compiled] = [trainer.train_epoch(sessions)[0] for _ in range(3)]
        if compiled:
            # 3 epochs, chunks of 2 steps then a shorter last chunk: one trace.
            assert trainer.traces == 1
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)


@pytest.mark.parametrize(
    "loss, activation", [("cross-entropy", "linear"), ("bpr-max", "elu-0.5")]
)
def test_training_learns_a_deterministic_cycle_better_than_pop(loss, activation):
    # Sessions walk the cycle 0 -> 1 -> ... -> 7 -> 0 from random starts: the
    # next item is determined by the current one, popularity is uniform.
    rng = np.random.default_rng(0)

    def walk():
        start = rng.integers(8)
        return [(start + k) % 8 for k in range(rng.integers(3, 7))]

    train = Sessions.from_lists([walk() for _ in range(300)])
    test = Sessions.from_lists([walk() for _ in range(40)])
    tf.keras.utils.set_random_seed(0)
    model = GRU4Rec(8, hidden_units=[8], final_activation=activation)
    config = tiny_config(
        loss=loss,
        batch_size=8,
        n_sample=4,
        optimizer="adam",
        learning_rate=0.05,
        steps_per_call=16,
        bpreg=0.1,
    )
    counts = np.bincount(train.items, minlength=8)
    trainer = SessionParallelTrainer(model, config, counts)
    first = trainer.train_epoch(train)[0]
    for _ in range(5):
        last = trainer.train_epoch(train)[0]
    assert last < first
    learned = evaluate_scorer(GRU4RecScorer(model), test, cutoffs=(1,))
    baseline = evaluate_scorer(PopularityScorer(train, 8), test, cutoffs=(1,))
    assert learned["recall@1"] > 0.9 > baseline["recall@1"] + 0.5


def test_config_validation():
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="mse").validate()
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs").validate()
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0).validate()


def test_adagrad_momentum_hand_worked():
    from apps.recsys.train import make_optimizer

    optimizer = make_optimizer(
        TrainConfig(optimizer="adagrad", learning_rate=0.5, momentum=0.5)
    )
    weight = tf.Variable([1.0])
    optimizer.build([weight])
    optimizer.apply([tf.constant([2.0])], [weight])
    # acc = 4, step = 0.5 * 2 / sqrt(4) = 0.5, v = 0.5 -> w = 0.5
    assert float(weight[0]) == pytest.approx(0.5, abs=1e-5)
    optimizer.apply([tf.constant([0.0])], [weight])
    # zero gradient: v = 0.5 * 0.5 = 0.25 (momentum carries on) -> w = 0.25
    assert float(weight[0]) == pytest.approx(0.25, abs=1e-5)


def test_scorer_session_parallel_equals_one_session_at_a_time():
    # Evaluation resets the state per row: batching must not leak across sessions.
    from apps.recsys.data import SessionParallelIterator

    sessions = Sessions.from_lists([[1, 2, 3], [4, 5], [6, 1, 2, 3], [0, 0]])
    model = GRU4Rec(7, hidden_units=[5])
    scorer = GRU4RecScorer(model)
    scorer.start(2)
    prefixes = [[], []]
    checked = 0
    for batch in SessionParallelIterator(sessions, 2, finish="pad"):
        scores = scorer.step(batch.inputs, batch.reset)
        for row in np.flatnonzero(batch.active):
            if batch.reset[row]:
                prefixes[row] = []
            prefixes[row].append(int(batch.inputs[row]))
            alone = np.asarray(model(np.array([prefixes[row]])))[0]
            np.testing.assert_allclose(scores[row], alone, rtol=1e-4, atol=1e-6)
            checked += 1
    assert checked == sessions.n_targets == 7


def test_prepare_data_from_events_file_with_max_train_events(tmp_path):
    from apps.recsys.data import SessionSimulator, SimulatorConfig, save_events
    from apps.recsys.train import prepare_data

    simulator = SessionSimulator(
        SimulatorConfig(
            n_items=30,
            n_intents=3,
            items_per_intent=8,
            n_sessions=600,
            n_days=6,
            seed=4,
        )
    )
    path = tmp_path / "events.csv"
    save_events(simulator.simulate(), path)
    full = prepare_data(TrainConfig(data=str(path)))
    assert full.simulator is None
    assert full.summary["train_sessions"] + full.summary["test_sessions"] <= 600
    small = prepare_data(TrainConfig(data=str(path), max_train_events=1000))
    assert 1000 <= small.summary["train_events"] < 1000 + 40
    assert small.test.items.max() < len(small.index)


def test_adagrad_momentum_sparse_rows_match_dense_and_skip_untouched_rows():
    from apps.recsys.train import make_optimizer

    gradient_rows = tf.IndexedSlices(
        tf.constant([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]),
        tf.constant([2, 0, 2]),
        tf.constant([3, 2]),
    )
    dense_gradient = tf.convert_to_tensor(gradient_rows)  # rows 0 and 2, row 1 zero
    results = {}
    for name, gradient in (("sparse", gradient_rows), ("dense", dense_gradient)):
        optimizer = make_optimizer(TrainConfig(optimizer="adagrad", learning_rate=0.1))
        weight = tf.Variable(tf.ones((3, 2)))
        optimizer.build([weight])
        optimizer.apply([gradient], [weight])
        optimizer.apply([gradient], [weight])
        results[name] = weight.numpy()
    np.testing.assert_allclose(results["sparse"], results["dense"], rtol=1e-6)
    # with momentum, an untouched row keeps its value (no decaying velocity)
    optimizer = make_optimizer(
        TrainConfig(optimizer="adagrad", learning_rate=0.1, momentum=0.5)
    )
    weight = tf.Variable(tf.ones((3, 2)))
    optimizer.build([weight])
    optimizer.apply([gradient_rows], [weight])
    touched = weight.numpy().copy()
    optimizer.apply(
        [
            tf.IndexedSlices(
                tf.constant([[1.0, 1.0]]), tf.constant([0]), tf.constant([3, 2])
            )
        ],
        [weight],
    )
    np.testing.assert_allclose(weight.numpy()[2], touched[2])
    assert not np.allclose(weight.numpy()[0], touched[0])
