"""CTC decoding: greedy and beam (`keras.ops.ctc_decode`), a CTC prefix beam
search with a word n-gram language model (shallow fusion), a forced alignment
for word timings, and WER/CER.

The prefix beam search follows Hannun et al. 2014 ("First-pass large vocabulary
continuous speech recognition using bi-directional recurrent DNNs", Algorithm
1): each prefix keeps the probability of ending in blank and in non-blank;
when a word ends (a space, or the end of the utterance) the language model
adds `lm_weight * log P(word | history) + word_bonus`.

Example:
    >>> lm = NgramLM(order=2).fit(["turn left", "turn right"])
    >>> texts = prefix_beam_search(log_probs, lm=lm)
"""

import collections
import json
import math
import os
import pathlib

import numpy as np

from apps.speech import text as text_lib

BLANK = 0
SPACE = text_lib.ALPHABET.index(" ") + 1


# ---------------------------------------------------------------- language model


class NgramLM:
    """Word n-gram LM with interpolated absolute discounting (Ney et al. 1994).

    P(w | h) = max(c(h, w) - D, 0) / c(h) + D * N1+(h, .) / c(h) * P(w | h')
    down to a unigram interpolated with a uniform distribution over the
    vocabulary + <unk>. `lexicon` is the training vocabulary; `prefixes` all
    its word prefixes, used to penalise spellings that lead to no known word.
    """

    def __init__(self, order: int = 3, discount: float = 0.7):
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        if not 0.0 < discount < 1.0:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.order = order
        self.discount = discount
        self.counts = {}  # history tuple -> Counter of next words
        self.lexicon = set()
        self.prefixes = set()
        self._cache = {}

    def fit(self, sentences) -> "NgramLM":
        counts = collections.defaultdict(collections.Counter)
        for sentence in sentences:
            words = ["<s>"] * (self.order - 1) + sentence.split() + ["</s>"]
            self.lexicon.update(sentence.split())
            for index in range(self.order - 1, len(words)):
                for n in range(self.order):
                    history = tuple(words[index - n : index])
                    counts[history][words[index]] += 1
        self.counts = {history: dict(counter) for history, counter in counts.items()}
        self._finish()
        return self

    def _finish(self):
        self.prefixes = {
            word[:end] for word in self.lexicon for end in range(1, len(word) + 1)
        }
        self._totals = {
            history: sum(counter.values()) for history, counter in self.counts.items()
        }
        self._cache = {}

    def log_prob(self, word: str, history=()) -> float:
        """Natural-log P(word | the last order-1 words of history)."""
        history = tuple(history)[-(self.order - 1) :] if self.order > 1 else ()
        history = ("<s>",) * (self.order - 1 - len(history)) + history
        key = (history, word)
        if key not in self._cache:
            self._cache[key] = math.log(self._prob(word, history))
        return self._cache[key]

    def _prob(self, word, history):
        if not history and history not in self.counts:
            return 1.0 / (len(self.lexicon) + 2)
        lower = (
            1.0 / (len(self.lexicon) + 2)
            if not history
            else self._prob(word, history[1:])
        )
        counter = self.counts.get(history)
        if not counter:
            return lower
        total = self._totals[history]
        count = counter.get(word, 0)
        backoff = self.discount * len(counter) / total
        return max(count - self.discount, 0.0) / total + backoff * lower

    def to_dict(self) -> dict:
        return {
            "order": self.order,
            "discount": self.discount,
            "lexicon": sorted(self.lexicon),
            "counts": [
                [list(history), counter] for history, counter in self.counts.items()
            ],
        }

    @classmethod
    def from_dict(cls, values) -> "NgramLM":
        lm = cls(values["order"], values["discount"])
        lm.lexicon = set(values["lexicon"])
        lm.counts = {tuple(history): counter for history, counter in values["counts"]}
        lm._finish()
        return lm

    def save(self, path) -> None:
        path = pathlib.Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict()))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "NgramLM":
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"language model {path} not found")
        return cls.from_dict(json.loads(path.read_text()))


# ---------------------------------------------------------------- decoders


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def keras_decode(logits, lengths, strategy="greedy", beam_width=32) -> list:
    """Greedy or beam decoding with `keras.ops.ctc_decode` (raw logits in)."""
    import keras

    decoded, _ = keras.ops.ctc_decode(
        keras.ops.convert_to_tensor(np.asarray(logits, np.float32)),
        keras.ops.convert_to_tensor(np.asarray(lengths, np.int32)),
        strategy=strategy,
        beam_width=beam_width,
        top_paths=1,
        mask_index=BLANK,
    )
    paths = keras.ops.convert_to_numpy(decoded[0])
    return [" ".join(text_lib.decode(path).split()) for path in paths]


def greedy_path_text(log_probs: np.ndarray) -> str:
    """Best path: argmax per frame, merge repeats, drop blanks (numpy)."""
    best = np.argmax(log_probs, axis=-1)
    keep = np.ones_like(best, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return " ".join(text_lib.decode(best[keep & (best != BLANK)]).split())


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high = max(a, b)
    return high + math.log1p(math.exp(-abs(a - b)))


def prefix_beam_search(
    log_probs: np.ndarray,
    *,
    lm: NgramLM | None = None,
    lm_weight: float = 0.8,
    word_bonus: float = 1.0,
    oov_penalty: float = -6.0,
    beam_width: int = 24,
    prune_log_prob: float = -8.0,
) -> str:
    """CTC prefix beam search with optional word-LM shallow fusion.

    Args:
        log_probs: (frames, classes) log-softmax of one utterance's logits.
        lm: word LM; None gives plain prefix beam search.
        lm_weight: weight of the LM log-probability per word.
        word_bonus: added per word (balances the LM's preference for few words).
        oov_penalty: added when a word prefix leaves the LM's lexicon (once).
        beam_width: prefixes kept per frame.
        prune_log_prob: characters below this log-probability in a frame are
            not extended (CTC outputs are peaky, so usually 1-3 remain).

    Returns:
        The best transcript.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    # A beam entry: prefix (tuple of class ids) -> [log p_blank, log p_nonblank].
    # The LM's view of a prefix is kept beside it, built one character at a
    # time: `context[prefix] = (LM score so far, closed words, open word)`.
    beams = {(): [0.0, -math.inf]}
    context = {(): (0.0, (), "")}
    prefixes = lm.prefixes if lm is not None else set()

    def word_score(words, word):
        """LM term for closing `word` after `words`."""
        if lm is None or not word:
            return 0.0
        return lm_weight * lm.log_prob(word, words) + word_bonus

    def extend(prefix, char):
        lm_score, words, partial = context[prefix]
        if char == SPACE:
            lm_score += word_score(words, partial)
            return lm_score, words + (partial,), ""
        longer = partial + text_lib.ALPHABET[char - 1]
        # Penalise (once) a spelling that leaves every word of the lexicon.
        if prefixes and longer not in prefixes and (not partial or partial in prefixes):
            lm_score += oov_penalty
        return lm_score, words, longer

    for frame in log_probs:
        candidates = np.flatnonzero(frame >= prune_log_prob)
        if candidates.size == 1 and candidates[0] == BLANK:
            # Most CTC frames are blank only: every prefix moves to "ends in
            # blank" by the same amount, so the ranking stays as it is.
            p = frame[BLANK]
            beams = {
                prefix: [_logsumexp(p_blank, p_nonblank) + p, -math.inf]
                for prefix, (p_blank, p_nonblank) in beams.items()
            }
            continue
        next_beams = collections.defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (p_blank, p_nonblank) in beams.items():
            total = _logsumexp(p_blank, p_nonblank)
            last = prefix[-1] if prefix else None
            for char in candidates.tolist():
                p = frame[char]
                if char == BLANK:
                    entry = next_beams[prefix]
                    entry[0] = _logsumexp(entry[0], total + p)
                    continue
                if char == last:
                    # Repeat without a blank between collapses into the prefix.
                    entry = next_beams[prefix]
                    entry[1] = _logsumexp(entry[1], p_nonblank + p)
                    extend_from = p_blank
                else:
                    extend_from = total
                if char == SPACE and (not prefix or last == SPACE):
                    continue  # no leading or double spaces
                new_prefix = prefix + (char,)
                if new_prefix not in context:
                    context[new_prefix] = extend(prefix, char)
                entry = next_beams[new_prefix]
                entry[1] = _logsumexp(entry[1], extend_from + p)

        def score(item):
            prefix, (p_blank, p_nonblank) = item
            return _logsumexp(p_blank, p_nonblank) + context[prefix][0]

        beams = dict(sorted(next_beams.items(), key=score, reverse=True)[:beam_width])

    def final_score(item):
        prefix, (p_blank, p_nonblank) = item
        lm_score, words, partial = context[prefix]
        if lm is not None and prefix:
            lm_score += word_score(words, partial)
            words = words + (partial,) if partial else words
            lm_score += lm_weight * lm.log_prob("</s>", words)
        return _logsumexp(p_blank, p_nonblank) + lm_score

    best = max(beams.items(), key=final_score)[0]
    return " ".join(text_lib.decode(best).split())


# ---------------------------------------------------------------- alignment


def forced_align(log_probs: np.ndarray, labels) -> np.ndarray:
    """CTC Viterbi alignment: the frame at which each label is first emitted.

    Args:
        log_probs: (frames, classes) log-probabilities.
        labels: class ids (no blanks) of the transcript.

    Returns:
        int array (len(labels),) of frame indices, non-decreasing. Raises
        ValueError if the transcript needs more frames than there are.
    """
    labels = list(labels)
    frames = log_probs.shape[0]
    if not labels:
        return np.zeros(0, dtype=np.int64)
    states = [BLANK]
    for label in labels:
        states += [label, BLANK]
    states = np.array(states)
    num_states = len(states)
    repeats = sum(a == b for a, b in zip(labels, labels[1:], strict=False))
    if len(labels) + repeats > frames:
        raise ValueError(
            f"transcript of {len(labels)} characters needs more than "
            f"the {frames} frames available"
        )
    # Transition from s-2 allowed into a label that differs from the label at s-2.
    skip = np.zeros(num_states, dtype=bool)
    skip[3::2] = states[3::2] != states[1:-2:2]
    score = np.full(num_states, -np.inf)
    score[0] = log_probs[0, states[0]]
    score[1] = log_probs[0, states[1]]
    back = np.zeros((frames, num_states), dtype=np.int8)
    for t in range(1, frames):
        stay = score
        step = np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        choices = np.stack([stay, step, jump])
        back[t] = np.argmax(choices, axis=0)
        score = choices[back[t], np.arange(num_states)] + log_probs[t, states]
    state = num_states - 1 if score[-1] >= score[-2] else num_states - 2
    path = np.zeros(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    first = np.full(len(labels), -1)
    for t in range(frames - 1, -1, -1):
        if path[t] % 2 == 1:
            first[path[t] // 2] = t
    return first


def word_timings(
    log_probs: np.ndarray, transcript: str, seconds_per_frame: float
) -> list:
    """[(word, start_s, end_s)] from the CTC alignment of transcript."""
    if not transcript:
        return []
    labels = text_lib.encode(transcript)
    starts = forced_align(log_probs, labels)
    frames = log_probs.shape[0]
    timings, index = [], 0
    for word in transcript.split(" "):
        first, last = index, index + len(word) - 1
        end_frame = starts[last + 1] if last + 1 < len(starts) else frames
        # The word ends where its last letter's emission stops; the next
        # character (space) is emitted later, after trailing blanks.
        letter_end = min(
            end_frame,
            starts[last] + 1 + _trailing(log_probs, starts[last], labels[last]),
        )
        timings.append(
            (
                word,
                round(float(starts[first]) * seconds_per_frame, 3),
                round(float(letter_end) * seconds_per_frame, 3),
            )
        )
        index = last + 2
    return timings


def _trailing(log_probs, frame, label):
    count = 0
    while (
        frame + count + 1 < len(log_probs)
        and np.argmax(log_probs[frame + count + 1]) == label
    ):
        count += 1
    return count


# ---------------------------------------------------------------- metrics


def error_rates(references, hypotheses) -> dict:
    """Corpus WER and CER (jiwer): edit distance / reference length."""
    import jiwer

    references = [" ".join(r.split()) for r in references]
    hypotheses = [" ".join(h.split()) for h in hypotheses]
    if not references:
        raise ValueError("error_rates needs at least one reference")
    if any(not r for r in references):
        raise ValueError("references must not be empty")
    return {
        "wer": float(jiwer.wer(references, hypotheses)),
        "cer": float(jiwer.cer(references, hypotheses)),
    }
