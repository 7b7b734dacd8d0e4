"""Tests of apps/recsys/data.py: loaders, preprocessing, iterator, simulator."""

import numpy as np
import pytest

from apps.recsys.data import (
    Events,
    ItemIndex,
    NegativeSampler,
    PreprocessConfig,
    SessionParallelIterator,
    Sessions,
    SessionSimulator,
    SimulatorConfig,
    load_events,
    load_yoochoose,
    preprocess,
    save_events,
)

# --------------------------------------------------------------------------- loaders


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_events_reads_columns_in_any_order(tmp_path):
    path = write(tmp_path, "e.csv", "Time,ItemId,SessionId\n10,5,1\n11.5,6,1\n3,5,2\n")
    events = load_events(path)
    assert events.session_ids.tolist() == [1, 1, 2]
    assert events.item_ids.tolist() == [5, 6, 5]
    assert events.times.tolist() == [10.0, 11.5, 3.0]


def test_load_events_tsv_and_custom_names(tmp_path):
    path = write(tmp_path, "e.tsv", "sid\titem\tts\n7\t8\t2024-01-01T00:00:01Z\n")
    events = load_events(path, "sid", "item", "ts")
    assert events.times.tolist() == [1704067201.0]


def test_load_events_streams_in_chunks(tmp_path):
    rows = "".join(f"{i // 3},{i % 7},{i}\n" for i in range(50))
    path = write(tmp_path, "e.csv", "SessionId,ItemId,Time\n" + rows)
    events = load_events(path, chunksize=7)
    assert len(events) == 50
    assert events.item_ids[-1] == 49 % 7


def test_save_then_load_round_trip(tmp_path):
    events = Events([1, 1, 2], [3, 4, 3], [0.5, 1.0, 2.0])
    save_events(events, tmp_path / "x.csv")
    loaded = load_events(tmp_path / "x.csv")
    assert loaded.item_ids.tolist() == [3, 4, 3]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("SessionId,ItemId\n1,2\n", ["missing column", "Time"]),
        ("SessionId,ItemId,Time\n1,2,3\n1,abc,4\n", ["line 3", "'ItemId'", "abc"]),
        ("SessionId,ItemId,Time\n1,2,3\nx,2,4\n", ["line 3", "'SessionId'"]),
        ("SessionId,ItemId,Time\n1,2.5,3\n", ["line 2", "integer"]),
        ("SessionId,ItemId,Time\n1,2,3\n1,2,yesterday\n", ["line 3", "'Time'"]),
        ("SessionId,ItemId,Time\n1,2,3\n1,2,3,4\n", ["malformed row", "line 3"]),
        ("SessionId,ItemId,Time\n", ["no data rows"]),
        ("", ["empty"]),
    ],
)
def test_load_events_bad_input_names_file_line_column(tmp_path, text, fragments):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ValueError) as error:
        load_events(path)
    message = str(error.value)
    assert "bad.csv" in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_load_events_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_events(tmp_path / "nope.csv")


def test_load_yoochoose_format(tmp_path):
    text = (
        "1,2014-04-07T10:51:09.277Z,214536502,0\n"
        "1,2014-04-07T10:54:09.868Z,214536500,S\n"
        "2,2014-04-06T18:26:24.000Z,214662742,0\n"
    )
    events = load_yoochoose(write(tmp_path, "clicks.dat", text))
    assert events.item_ids.tolist() == [214536502, 214536500, 214662742]
    assert events.times[1] - events.times[0] == pytest.approx(180.591)


def test_load_yoochoose_bad_timestamp(tmp_path):
    text = "1,2014-04-07T10:51:09.277Z,2,0\n1,not-a-time,3,0\n"
    with pytest.raises(ValueError, match=r"clicks.dat: line 2, column 'Time'"):
        load_yoochoose(write(tmp_path, "clicks.dat", text))


# --------------------------------------------------------------------- preprocessing


def test_preprocess_follows_the_papers_steps():
    day = 86_400.0
    rows = [
        # session, item, time
        (1, 10, 0),
        (1, 11, 1),
        (1, 10, 2),  # train
        (2, 10, 5),
        (2, 11, 6),  # train
        (3, 12, 7),  # length 1: dropped first
        (4, 10, 8),
        (4, 13, 9),  # item 13 rare -> session left 1
        (5, 11, 10),
        (5, 10, 11),
        (5, 11, 12),  # train
        (6, 10, 3 * day),
        (6, 11, 3 * day + 1),  # test (last day)
        (7, 11, 3 * day + 2),
        (7, 14, 3 * day + 3),  # 14 rare -> dropped -> short
        (8, 10, 2.5 * day),
        (8, 11, 3 * day + 4),  # ends in last day -> test
    ]
    rows += [(100 + i, 11, 20 + i) for i in range(0)]
    session, item, time = map(np.array, zip(*rows, strict=True))
    train, test = preprocess(Events(session, item, time), PreprocessConfig())
    # Item support counts events after step 1 (session 3 removed): item 10 has
    # 7 events, item 11 has 7, item 13 and 14 one each.
    assert sorted(set(train.session_ids.tolist())) == [1, 2, 5]
    assert sorted(set(test.session_ids.tolist())) == [6, 8]
    assert set(train.item_ids.tolist()) == {10, 11}


def test_preprocess_drops_test_items_unseen_in_train():
    day = 86_400.0
    rows = [(s, 1 + (k % 2), s * 10 + k) for s in range(1, 6) for k in range(2)]
    rows += [(9, 1, 5 * day), (9, 2, 5 * day + 1), (9, 3, 5 * day + 2)]
    rows += [(s, 3, 5 * day + s) for s in range(20, 24) for _ in range(2)]
    session, item, time = map(np.array, zip(*rows, strict=True))
    train, test = preprocess(Events(session, item, time))
    # item 3 occurs only in test sessions: dropped from session 9; sessions
    # 20-23 are left empty.
    assert 3 not in test.item_ids
    assert sorted(set(test.session_ids.tolist())) == [9]
    assert test.item_ids.tolist() == [1, 2]


def test_preprocess_all_filtered_raises():
    with pytest.raises(ValueError, match="no events left"):
        preprocess(Events([1, 2], [1, 2], [0, 1]))


# ------------------------------------------------------------------ index, sessions


def test_item_index_maps_and_names_unknown_ids():
    index = ItemIndex([40, 10, 30, 10])
    assert index.to_index([10, 30, 40]).tolist() == [0, 1, 2]
    assert index.contains([10, 20, 50]).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="unknown item id 20"):
        index.to_index([10, 20])


def test_sessions_ordered_by_start_time_events_by_time():
    events = Events([5, 5, 3, 3, 3], [1, 2, 3, 1, 2], [10, 9, 20, 21, 19])
    sessions = Sessions.from_events(events, ItemIndex([1, 2, 3]))
    assert sessions.session_ids.tolist() == [5, 3]
    assert sessions.session(0).tolist() == [1, 0]
    assert sessions.session(1).tolist() == [1, 2, 0]
    assert sessions.n_targets == 3


# ---------------------------------------------------------- session-parallel iterator


def hand_sessions():
    # s0: 0 1 2 | s1: 3 4 | s2: 5 6 7 8 | s3: 9 10
    return Sessions.from_lists([[0, 1, 2], [3, 4], [5, 6, 7, 8], [9, 10]])


def test_session_parallel_iterator_hand_worked_drop_mode():
    steps = list(SessionParallelIterator(hand_sessions(), batch_size=2))
    assert [s.inputs.tolist() for s in steps] == [[0, 3], [1, 5], [9, 6]]
    assert [s.targets.tolist() for s in steps] == [[1, 4], [2, 6], [10, 7]]
    assert [s.reset.tolist() for s in steps] == [
        [True, True],
        [False, True],
        [True, False],
    ]
    # After step 3 row 0 finishes and no session is left: the papers' loop stops.


def test_session_parallel_iterator_pad_mode_visits_every_target_once():
    sessions = hand_sessions()
    steps = list(SessionParallelIterator(sessions, batch_size=2, finish="pad"))
    assert len(steps) == 4
    assert steps[3].active.tolist() == [False, True]
    assert steps[3].inputs[1] == 7 and steps[3].targets[1] == 8
    pairs = sorted(
        (int(s.inputs[b]), int(s.targets[b]))
        for s in steps
        for b in np.flatnonzero(s.active)
    )
    expected = sorted(
        (int(a), int(b))
        for k in range(len(sessions))
        for a, b in zip(sessions.session(k)[:-1], sessions.session(k)[1:], strict=True)
    )
    assert pairs == expected and len(pairs) == sessions.n_targets


def test_session_parallel_iterator_more_rows_than_sessions():
    sessions = Sessions.from_lists([[1, 2]])
    assert list(SessionParallelIterator(sessions, batch_size=3)) == []
    steps = list(SessionParallelIterator(sessions, batch_size=3, finish="pad"))
    assert len(steps) == 1 and steps[0].active.tolist() == [True, False, False]


def test_session_parallel_iterator_schedule_and_errors():
    inputs, targets, reset = SessionParallelIterator(hand_sessions(), 2).schedule()
    assert inputs.shape == (3, 2) and reset[0].all()
    with pytest.raises(ValueError, match="at least 2 events"):
        SessionParallelIterator(Sessions.from_lists([[1]]), 1)
    with pytest.raises(ValueError, match="batch_size"):
        SessionParallelIterator(hand_sessions(), 0)


# ----------------------------------------------------------------------- sampler


def test_negative_sampler_follows_popularity_power():
    sampler = NegativeSampler(
        [1, 4, 0, 16], n_sample=100, alpha=0.5, store_size=1000, seed=1
    )
    draws = sampler.sample(300)  # spans several store refills
    assert draws.shape == (300, 100) and draws.dtype == np.int32
    frequency = np.bincount(draws.ravel(), minlength=4) / draws.size
    assert frequency[2] == 0.0
    np.testing.assert_allclose(frequency, [1 / 7, 2 / 7, 0, 4 / 7], atol=0.01)


def test_negative_sampler_alpha_zero_is_uniform_and_rejects_bad_counts():
    sampler = NegativeSampler([1, 100], n_sample=10, alpha=0.0, seed=0)
    frequency = np.bincount(sampler.sample(2000).ravel()) / 20000
    np.testing.assert_allclose(frequency, [0.5, 0.5], atol=0.02)
    with pytest.raises(ValueError):
        NegativeSampler([0, 0], n_sample=2)


# ---------------------------------------------------------------------- simulator


def tiny_simulator(**overrides):
    values = dict(
        n_items=30, n_intents=4, items_per_intent=8, n_sessions=400, n_days=4, seed=3
    )
    values.update(overrides)
    return SessionSimulator(SimulatorConfig(**values))


def test_simulator_is_reproducible_and_well_formed():
    simulator = tiny_simulator()
    first, second = simulator.simulate(), simulator.simulate()
    np.testing.assert_array_equal(first.item_ids, second.item_ids)
    assert first.item_ids.min() >= 1 and first.item_ids.max() <= 30
    assert np.unique(first.session_ids, return_counts=True)[1].min() >= 2
    np.testing.assert_allclose(simulator.intent_items.sum(axis=1), 1.0)
    np.testing.assert_allclose(simulator.transitions.sum(axis=1), 1.0)


def test_simulator_next_item_frequencies_match_the_model():
    # One intent, no Markov part: items are i.i.d. from the intent distribution.
    simulator = tiny_simulator(n_intents=1, markov_weight=0.0, n_sessions=4000)
    events = simulator.simulate()
    frequency = np.bincount(events.item_ids - 1, minlength=30) / len(events)
    np.testing.assert_allclose(frequency, simulator.intent_items[0], atol=0.01)


def test_simulator_rejects_bad_config():
    with pytest.raises(ValueError, match="items_per_intent"):
        tiny_simulator(items_per_intent=100)
    with pytest.raises(ValueError, match="mean_session_length"):
        tiny_simulator(mean_session_length=1.5)
