"""Session data for GRU4Rec: loaders, the papers' preprocessing, a simulator.

Everything is held as numpy columns (one array per field), never as Python
objects per event, so a 33M-click YooChoose file fits in a few hundred MB.

Pipeline:
    events = load_events("clicks.csv")            # or load_yoochoose / simulate
    train, test = preprocess(events)              # Hidasi et al. 2016, section 4
    index = ItemIndex.from_events(train)
    train_sessions = Sessions.from_events(train, index)
    for batch in SessionParallelIterator(train_sessions, batch_size=64): ...
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import tempfile

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86_400.0


# ---------------------------------------------------------------------------
# Events and loaders
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Events:
    """Click events as three parallel numpy columns.

    Args:
        session_ids: int64 session id per event.
        item_ids: int64 item id per event (the raw ids of the source file).
        times: float64 time per event, seconds (any origin).
    """

    session_ids: np.ndarray
    item_ids: np.ndarray
    times: np.ndarray

    def __post_init__(self):
        self.session_ids = np.asarray(self.session_ids, dtype=np.int64)
        self.item_ids = np.asarray(self.item_ids, dtype=np.int64)
        self.times = np.asarray(self.times, dtype=np.float64)
        n = len(self.session_ids)
        if len(self.item_ids) != n or len(self.times) != n:
            raise ValueError(
                "Events columns must have equal lengths, got "
                f"{n}, {len(self.item_ids)}, {len(self.times)}"
            )

    def __len__(self):
        return len(self.session_ids)

    @property
    def n_sessions(self):
        return len(np.unique(self.session_ids))

    def take(self, mask_or_index):
        return Events(
            self.session_ids[mask_or_index],
            self.item_ids[mask_or_index],
            self.times[mask_or_index],
        )

    def sorted(self):
        """Events sorted by session, then time (stable, so file order breaks ties)."""
        order = np.lexsort((self.times, self.session_ids))
        return self.take(order)

    def nbytes(self):
        return self.session_ids.nbytes + self.item_ids.nbytes + self.times.nbytes


def _first_bad_row(values: pd.Series) -> int | None:
    """Position of the first value that is not a finite number, or None."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna().to_numpy() | ~np.isfinite(numeric.to_numpy(dtype=float))
    if bad.any():
        return int(np.argmax(bad))
    return None


def _integer_column(chunk, column, path, first_line):
    values = chunk[column]
    if not pd.api.types.is_integer_dtype(values.dtype):
        position = _first_bad_row(values)
        if position is None:
            numeric = pd.to_numeric(values).to_numpy()
            fractional = numeric != np.floor(numeric)
            position = int(np.argmax(fractional)) if fractional.any() else None
            if position is None:
                return numeric.astype(np.int64)
        raise ValueError(
            f"{path}: line {first_line + position}, column {column!r}: expected an "
            f"integer id, got {values.iloc[position]!r}"
        )
    return values.to_numpy(dtype=np.int64)


def _time_column(chunk, column, path, first_line, time_format):
    values = chunk[column]
    if time_format == "auto":
        # Numbers if the column (or its first value) is numeric, else ISO 8601.
        first = pd.to_numeric(values.iloc[:1], errors="coerce")
        numeric = pd.api.types.is_numeric_dtype(values.dtype) or first.notna().all()
        time_format = "numeric" if numeric else "iso"
    if time_format == "numeric":
        position = _first_bad_row(values)
        if position is not None:
            raise ValueError(
                f"{path}: line {first_line + position}, column {column!r}: expected a "
                f"sortable time (a number of seconds), got {values.iloc[position]!r}"
            )
        return pd.to_numeric(values).to_numpy(dtype=np.float64)
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        position = int(np.argmax(bad))
        raise ValueError(
            f"{path}: line {first_line + position}, column {column!r}: expected a "
            f"sortable time (seconds or an ISO 8601 timestamp), got "
            f"{values.iloc[position]!r}"
        )
    epoch = pd.Timestamp(0, tz="UTC")
    return ((parsed - epoch) / pd.Timedelta(1, "s")).to_numpy(dtype=np.float64)


def _read_columns(
    path, *, columns, names, header, sep, time_format, chunksize, skip_lines=1
):
    """Streams a delimited file in chunks and returns (sessions, items, times)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such events file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty, expected click events")
    session_col, item_col, time_col = columns
    try:
        reader = pd.read_csv(
            path,
            sep=sep,
            header=header,
            names=names,
            index_col=False,
            # ids parse as numbers; ISO times (and unused columns of a
            # headerless file, e.g. YooChoose's category "S") stay strings
            dtype=(
                {name: str for name in (names or [time_col]) if name not in columns[:2]}
                if time_format == "iso"
                else None
            ),
            chunksize=chunksize,
            engine="c",
            skip_blank_lines=True,
        )
        parts = []
        first_line = skip_lines + 1
        for chunk in reader:
            missing = [column for column in columns if column not in chunk.columns]
            if missing:
                raise ValueError(
                    f"{path}: missing column(s) {missing}; expected columns "
                    f"{list(columns)}, found {list(chunk.columns)}"
                )
            parts.append(
                (
                    _integer_column(chunk, session_col, path, first_line),
                    _integer_column(chunk, item_col, path, first_line),
                    _time_column(chunk, time_col, path, first_line, time_format),
                )
            )
            first_line += len(chunk)
    except pd.errors.EmptyDataError as error:
        raise ValueError(f"{path}: the file has no data rows") from error
    except pd.errors.ParserError as error:
        message = str(error).strip().splitlines()[-1]
        raise ValueError(
            f"{path}: malformed row ({message}); expected {len(names or columns)} "
            "delimited fields per line"
        ) from error
    except ValueError as error:
        text = str(error)
        if "Usecols do not match columns" in text or "not in list" in text:
            raise ValueError(
                f"{path}: missing column(s); expected columns {list(columns)} ({text})"
            ) from error
        raise
    if not parts or sum(len(p[0]) for p in parts) == 0:
        raise ValueError(f"{path}: the file has no data rows")
    sessions = np.concatenate([p[0] for p in parts])
    items = np.concatenate([p[1] for p in parts])
    times = np.concatenate([p[2] for p in parts])
    return Events(sessions, items, times)


def load_events(
    path,
    session_column="SessionId",
    item_column="ItemId",
    time_column="Time",
    sep=None,
    time_format="auto",
    chunksize=1_000_000,
):
    """Loads a CSV/TSV events file with a header row.

    Args:
        path: the file. The separator is a tab for `.tsv`/`.txt`, else a comma,
            unless `sep` is given.
        session_column, item_column, time_column: header names of the columns.
        time_format: "numeric" (seconds), "iso" (ISO 8601) or "auto".
        chunksize: rows parsed per chunk (memory stays at the numpy columns).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: empty file, missing column, malformed row, non-integer id or
            unsortable time, naming the file, line and column.
    """
    path = pathlib.Path(path)
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    return _read_columns(
        path,
        columns=(session_column, item_column, time_column),
        names=None,
        header=0,
        sep=sep,
        time_format=time_format,
        chunksize=chunksize,
    )


YOOCHOOSE_NAMES = ["SessionId", "Time", "ItemId", "Category"]


def load_yoochoose(path, chunksize=1_000_000):
    """Loads RecSys Challenge 2015 `yoochoose-clicks.dat` (no header).

    Rows are `SessionID,Timestamp,ItemID,Category` with ISO timestamps such as
    `2014-04-07T10:51:09.277Z`; the category is ignored.
    """
    return _read_columns(
        path,
        columns=("SessionId", "ItemId", "Time"),
        names=YOOCHOOSE_NAMES,
        header=None,
        sep=",",
        time_format="iso",
        chunksize=chunksize,
        skip_lines=0,
    )


def save_events(events: Events, path):
    """Writes events as a SessionId,ItemId,Time CSV atomically (temp + rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "SessionId": events.session_ids,
            "ItemId": events.item_ids,
            "Time": events.times,
        }
    )
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        frame.to_csv(temp, index=False, float_format="%.3f")
        os.replace(temp, path)
    except BaseException:
        pathlib.Path(temp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------
# Preprocessing (Hidasi et al. 2016, section 4.1)
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class PreprocessConfig:
    min_session_length: int = 2
    min_item_support: int = 5
    test_days: float = 1.0


def _session_lengths(session_ids):
    _, inverse, counts = np.unique(session_ids, return_inverse=True, return_counts=True)
    return counts[inverse]


def _item_support(item_ids):
    _, inverse, counts = np.unique(item_ids, return_inverse=True, return_counts=True)
    return counts[inverse]


def preprocess(events: Events, config: PreprocessConfig | None = None):
    """The papers' filtering and time split; returns (train, test) Events.

    1. drop sessions of length 1 (< `min_session_length`);
    2. drop items with fewer than `min_item_support` events;
    3. drop sessions left shorter than `min_session_length`;
    4. test = sessions whose last event is within the final `test_days` days;
    5. drop test events whose item is not in train, then test sessions left
       shorter than `min_session_length`.
    """
    config = config or PreprocessConfig()
    if len(events) == 0:
        raise ValueError("preprocess: no events")
    events = events.sorted()
    events = events.take(
        _session_lengths(events.session_ids) >= config.min_session_length
    )
    events = events.take(_item_support(events.item_ids) >= config.min_item_support)
    events = events.take(
        _session_lengths(events.session_ids) >= config.min_session_length
    )
    if len(events) == 0:
        raise ValueError(
            "preprocess: no events left after dropping short sessions and rare items"
        )
    unique_sessions, inverse = np.unique(events.session_ids, return_inverse=True)
    session_end = np.full(len(unique_sessions), -np.inf)
    np.maximum.at(session_end, inverse, events.times)
    split_time = events.times.max() - config.test_days * SECONDS_PER_DAY
    is_test = session_end[inverse] >= split_time
    train = events.take(~is_test)
    test = events.take(is_test)
    test = test.take(np.isin(test.item_ids, np.unique(train.item_ids)))
    test = test.take(_session_lengths(test.session_ids) >= config.min_session_length)
    return train, test


# ---------------------------------------------------------------------------
# Item index and sessions
# ---------------------------------------------------------------------------


class ItemIndex:
    """Maps raw item ids to dense indices 0..n_items-1 (sorted raw ids)."""

    def __init__(self, item_ids):
        self.item_ids = np.unique(np.asarray(item_ids, dtype=np.int64))

    @classmethod
    def from_events(cls, events: Events):
        return cls(events.item_ids)

    def __len__(self):
        return len(self.item_ids)

    def contains(self, raw_ids):
        raw_ids = np.asarray(raw_ids, dtype=np.int64)
        position = np.searchsorted(self.item_ids, raw_ids)
        position = np.minimum(position, len(self.item_ids) - 1)
        return self.item_ids[position] == raw_ids

    def to_index(self, raw_ids):
        """Dense indices of raw ids; ValueError naming the first unknown id."""
        raw_ids = np.asarray(raw_ids, dtype=np.int64)
        known = self.contains(raw_ids)
        if not known.all():
            unknown = raw_ids[~known]
            raise ValueError(
                f"unknown item id {int(unknown[0])} ({len(unknown)} unknown in total); "
                "expected ids seen in training"
            )
        return np.searchsorted(self.item_ids, raw_ids).astype(np.int32)

    def to_raw(self, indices):
        return self.item_ids[np.asarray(indices)]


@dataclasses.dataclass
class Sessions:
    """Sessions as one flat item-index array plus offsets.

    Session `s` is `items[offsets[s]:offsets[s + 1]]`. Sessions are ordered by
    start time (ties by session id), events by time, as the session-parallel
    iterator expects.
    """

    items: np.ndarray
    offsets: np.ndarray
    session_ids: np.ndarray

    @classmethod
    def from_events(cls, events: Events, index: ItemIndex):
        events = events.sorted()
        unique_sessions, starts, counts = np.unique(
            events.session_ids, return_index=True, return_counts=True
        )
        start_times = events.times[starts]
        order = np.lexsort((unique_sessions, start_times))
        event_order = (
            np.concatenate([np.arange(starts[s], starts[s] + counts[s]) for s in order])
            if len(order) < 200_000
            else concatenated_ranges(starts[order], counts[order])
        )
        items = index.to_index(events.item_ids[event_order])
        offsets = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(counts[order], out=offsets[1:])
        return cls(items, offsets, unique_sessions[order])

    @classmethod
    def from_lists(cls, sessions):
        """Builds Sessions from lists of item indices (tests, recommend)."""
        lengths = [len(s) for s in sessions]
        offsets = np.zeros(len(sessions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = (
            np.concatenate([np.asarray(s, dtype=np.int32) for s in sessions])
            if sessions
            else np.zeros(0, np.int32)
        )
        return cls(items.astype(np.int32), offsets, np.arange(len(sessions)))

    def __len__(self):
        return len(self.offsets) - 1

    @property
    def n_events(self):
        return int(self.offsets[-1])

    @property
    def n_targets(self):
        """Number of next-item targets (every event after a session's first)."""
        return self.n_events - len(self)

    def session(self, s):
        return self.items[self.offsets[s] : self.offsets[s + 1]]


def concatenated_ranges(starts, counts):
    """Concatenation of arange(start, start + count) for each pair, vectorised."""
    total = int(counts.sum())
    offsets = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    base = np.repeat(starts - offsets, counts)
    return base + np.arange(total)


# ---------------------------------------------------------------------------
# Session-parallel mini-batches (Hidasi et al. 2016, section 3.1.1, figure 2)
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class SessionParallelBatch:
    """One step of session-parallel mini-batching.

    inputs[b] is the current item of row b and targets[b] the next one;
    reset[b] is True where a new session starts in row b at this step (its
    hidden state must be zeroed before the step); active[b] is False for rows
    with no session left (only in `finish="pad"` mode; their values are 0).
    """

    inputs: np.ndarray
    targets: np.ndarray
    reset: np.ndarray
    active: np.ndarray


class SessionParallelIterator:
    """Yields `SessionParallelBatch`es over sessions ordered by start time.

    The first `batch_size` sessions take rows 0..B-1. Each step feeds every
    row's current event and asks for the next one. When a row's session has no
    next event, the next unused session takes that row (rows in ascending
    order) and the row is flagged for a state reset.

    Args:
        sessions: `Sessions` (each of length >= 2).
        batch_size: number of rows B.
        finish: "drop" stops as soon as a finished row cannot be refilled (the
            papers' training loop, fixed shape, no padding); "pad" keeps going
            with that row inactive until every session is done (evaluation: every
            target is visited exactly once).
    """

    def __init__(self, sessions: Sessions, batch_size: int, finish: str = "drop"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if finish not in ("drop", "pad"):
            raise ValueError(f"finish must be 'drop' or 'pad', got {finish!r}")
        lengths = np.diff(sessions.offsets)
        if len(lengths) and lengths.min() < 2:
            raise ValueError("every session needs at least 2 events")
        self.sessions = sessions
        self.batch_size = batch_size
        self.finish = finish

    def __iter__(self):
        items = self.sessions.items
        offsets = self.sessions.offsets
        n_sessions = len(self.sessions)
        batch = self.batch_size
        if n_sessions == 0 or (self.finish == "drop" and n_sessions < batch):
            return
        row_session = np.arange(batch)
        active = row_session < n_sessions
        row_session = np.where(active, row_session, 0)
        position = offsets[row_session].copy()
        end = offsets[row_session + 1].copy()
        next_session = batch
        reset = np.ones(batch, dtype=bool)
        while True:
            inputs = np.where(
                active, items[np.minimum(position, len(items) - 1)], 0
            ).astype(np.int32)
            targets = np.where(
                active, items[np.minimum(position + 1, len(items) - 1)], 0
            )
            yield SessionParallelBatch(
                inputs, targets.astype(np.int32), reset, active.copy()
            )
            position = position + 1
            finished = np.flatnonzero(active & (position + 1 >= end))
            reset = np.zeros(batch, dtype=bool)
            if len(finished):
                new_sessions = next_session + np.arange(len(finished))
                next_session += len(finished)
                available = new_sessions < n_sessions
                if self.finish == "drop" and not available.all():
                    return
                refill = finished[available]
                position[refill] = offsets[new_sessions[available]]
                end[refill] = offsets[new_sessions[available] + 1]
                reset[refill] = True
                active[finished[~available]] = False
            if not active.any():
                return

    def schedule(self):
        """The whole epoch as arrays (inputs, targets, reset), each (steps, B)."""
        batches = list(self)
        if not batches:
            shape = (0, self.batch_size)
            return (
                np.zeros(shape, np.int32),
                np.zeros(shape, np.int32),
                np.zeros(shape, bool),
            )
        return (
            np.stack([b.inputs for b in batches]),
            np.stack([b.targets for b in batches]),
            np.stack([b.reset for b in batches]),
        )


# ---------------------------------------------------------------------------
# Negative sampling store (Hidasi & Karatzoglou 2018, section 3.3)
# ---------------------------------------------------------------------------


class NegativeSampler:
    """Shared extra negatives drawn from popularity^alpha, pre-generated in bulk.

    A store of `store_size` ids is drawn at once with numpy `searchsorted` on the
    cumulative distribution; each training step takes the next `n_sample` ids.

    Args:
        item_counts: training event count per item index.
        n_sample: extra negatives per step (shared by the whole mini-batch).
        alpha: exponent on the counts (0 uniform, 1 popularity).
        store_size: ids per regeneration (rounded to whole steps).
        seed: numpy seed.
    """

    def __init__(self, item_counts, n_sample, alpha=0.5, store_size=10_000_000, seed=0):
        counts = np.asarray(item_counts, dtype=np.float64)
        if counts.ndim != 1 or len(counts) == 0 or (counts < 0).any():
            raise ValueError("item_counts must be a non-empty vector of counts >= 0")
        weights = counts**alpha
        if weights.sum() <= 0:
            raise ValueError("item_counts must not be all zero")
        self.probabilities = weights / weights.sum()
        self.cumulative = np.cumsum(self.probabilities)
        self.cumulative[-1] = 1.0
        self.n_sample = int(n_sample)
        self.steps_per_store = max(1, store_size // max(1, self.n_sample))
        self.rng = np.random.default_rng(seed)
        self._store = np.zeros((0, self.n_sample), np.int32)
        self._next = 0

    def _refill(self):
        uniform = self.rng.random(self.steps_per_store * self.n_sample)
        ids = np.searchsorted(self.cumulative, uniform, side="right")
        ids = np.minimum(ids, len(self.cumulative) - 1).astype(np.int32)
        self._store = ids.reshape(self.steps_per_store, self.n_sample)
        self._next = 0

    def sample(self, n_steps):
        """Negatives for `n_steps` steps as an (n_steps, n_sample) int32 array."""
        parts = []
        needed = n_steps
        while needed > 0:
            if self._next >= len(self._store):
                self._refill()
            take = min(needed, len(self._store) - self._next)
            parts.append(self._store[self._next : self._next + take])
            self._next += take
            needed -= take
        if not parts:
            return np.zeros((0, self.n_sample), np.int32)
        return np.concatenate(parts)


def sample_store_python_loop(item_counts, size, alpha=0.5, seed=0):
    """Reference store built one draw at a time in Python (benchmark baseline)."""
    import bisect
    import random

    weights = np.asarray(item_counts, dtype=np.float64) ** alpha
    cumulative = list(np.cumsum(weights / weights.sum()))
    generator = random.Random(seed)
    return [
        min(bisect.bisect_right(cumulative, generator.random()), len(cumulative) - 1)
        for _ in range(size)
    ]


# ---------------------------------------------------------------------------
# Simulator with a latent session intent and an exact predictive distribution
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class SimulatorConfig:
    """Defaults of the embedded simulation (see README for the ceiling).

    Each session draws a latent intent z ~ intent_prior. Its first item is drawn
    from p_z; each later item from (1 - markov_weight) p_z + markov_weight
    T[previous item]. p_z concentrates on `items_per_intent` items (chosen by
    Zipf popularity) plus a small popularity background; T gives every item a
    few successors. The intent is never observed, so the best predictor
    accumulates evidence over the whole prefix; a first-order Markov model
    cannot.
    """

    n_items: int = 500
    n_intents: int = 30
    items_per_intent: int = 25
    zipf_exponent: float = 1.0
    background_weight: float = 0.05
    markov_weight: float = 0.1
    successors_per_item: int = 3
    mean_session_length: float = 8.0
    n_sessions: int = 80_000
    n_days: float = 15.0
    seed: int = 0


class SessionSimulator:
    """Generates sessions and gives the exact next-item distribution.

    Raw item ids are 1..n_items; raw session ids 1..n_sessions.
    """

    def __init__(self, config: SimulatorConfig | None = None):
        self.config = config = config or SimulatorConfig()
        if config.n_items < 2 or config.n_intents < 1:
            raise ValueError("n_items must be >= 2 and n_intents >= 1")
        if not 1 <= config.items_per_intent <= config.n_items:
            raise ValueError("items_per_intent must be in [1, n_items]")
        if not 0 <= config.markov_weight < 1 or not 0 <= config.background_weight < 1:
            raise ValueError("markov_weight and background_weight must be in [0, 1)")
        if config.mean_session_length <= 2:
            raise ValueError("mean_session_length must be > 2")
        rng = np.random.default_rng(config.seed)
        n, z = config.n_items, config.n_intents
        ranks = rng.permutation(n) + 1
        popularity = 1.0 / ranks.astype(np.float64) ** config.zipf_exponent
        popularity /= popularity.sum()
        self.popularity = popularity
        intents = np.zeros((z, n))
        for k in range(z):
            members = rng.choice(
                n,
                size=config.items_per_intent,
                replace=False,
                p=np.sqrt(popularity) / np.sqrt(popularity).sum(),
            )
            intents[k, members] = popularity[members] ** 0.5 * rng.gamma(
                1.0, size=len(members)
            )
        # Every item belongs to at least one intent, so none is background-only.
        uncovered = np.flatnonzero(intents.sum(axis=0) == 0)
        owners = rng.integers(0, z, size=len(uncovered))
        intents[owners, uncovered] = popularity[uncovered] ** 0.5 * rng.gamma(
            1.0, size=len(uncovered)
        )
        intents /= intents.sum(axis=1, keepdims=True)
        self.intent_items = (
            1 - config.background_weight
        ) * intents + config.background_weight * popularity
        prior = rng.gamma(2.0, size=z)
        self.intent_prior = prior / prior.sum()
        k = config.successors_per_item
        self.successors = np.stack(
            [rng.choice(n, size=k, replace=False, p=popularity) for _ in range(n)]
        )
        self.successor_probabilities = rng.dirichlet(np.ones(k), size=n)
        transitions = np.zeros((n, n))
        np.put_along_axis(transitions, self.successors, self.successor_probabilities, 1)
        self.transitions = transitions

    @property
    def item_ids(self):
        return np.arange(1, self.config.n_items + 1, dtype=np.int64)

    def simulate(self, n_sessions=None, seed=None):
        """Draws sessions; returns Events with raw ids (items 1..n_items)."""
        config = self.config
        n_sessions = config.n_sessions if n_sessions is None else n_sessions
        rng = np.random.default_rng(config.seed + 1 if seed is None else seed)
        n = config.n_items
        lengths = (
            2 + rng.geometric(1.0 / (config.mean_session_length - 1), n_sessions) - 1
        )
        intents = rng.choice(config.n_intents, size=n_sessions, p=self.intent_prior)
        max_length = int(lengths.max())
        from_intent = np.zeros((n_sessions, max_length), dtype=np.int64)
        uniform = rng.random((n_sessions, max_length))
        for k in range(config.n_intents):
            rows = intents == k
            cdf = np.cumsum(self.intent_items[k])
            from_intent[rows] = np.searchsorted(cdf, uniform[rows] * cdf[-1], "right")
        successor_cdf = np.cumsum(self.successor_probabilities, axis=1)
        use_markov = rng.random((n_sessions, max_length)) < config.markov_weight
        uniform = rng.random((n_sessions, max_length))
        items = from_intent
        for t in range(1, max_length):
            previous = items[:, t - 1]
            cdf = successor_cdf[previous]
            choice = (cdf < uniform[:, t, None] * cdf[:, -1:]).sum(axis=1)
            choice = np.minimum(choice, cdf.shape[1] - 1)
            from_markov = self.successors[previous, choice]
            items[:, t] = np.where(use_markov[:, t], from_markov, items[:, t])
        items = np.minimum(items, n - 1)
        mask = np.arange(max_length)[None, :] < lengths[:, None]
        starts = np.sort(rng.random(n_sessions)) * config.n_days * SECONDS_PER_DAY
        gaps = rng.uniform(5.0, 120.0, size=(n_sessions, max_length))
        gaps[:, 0] = 0.0
        times = starts[:, None] + np.cumsum(gaps, axis=1)
        session_ids = np.broadcast_to(np.arange(1, n_sessions + 1)[:, None], mask.shape)
        return Events(session_ids[mask], items[mask] + 1, np.round(times[mask], 3))

    def save(self, path):
        """Stores the simulator's parameters (config JSON) atomically."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(path.suffix + ".tmp")
        temp.write_text(json.dumps(dataclasses.asdict(self.config), indent=2) + "\n")
        os.replace(temp, path)
