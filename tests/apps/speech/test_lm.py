import math

import numpy as np
import pytest

from apps.speech import lm, text


def frames_from_probs(rows):
    """rows: list of {char: prob}; '_' is the blank; the rest share 1e-6."""
    out = np.full((len(rows), len(text.ALPHABET) + 1), 1e-6)
    for t, row in enumerate(rows):
        for char, prob in row.items():
            out[t, 0 if char == "_" else text.ALPHABET.index(char) + 1] = prob
    return np.log(out / out.sum(axis=1, keepdims=True))


def test_ngram_lm_hand_worked_probabilities():
    model = lm.NgramLM(order=2, discount=0.5).fit(["a b", "a c"])
    # unigram history (): counts a2 b1 c1 </s>2 (total 6, 4 types), uniform 1/5
    assert math.exp(model.log_prob("b", [])) == pytest.approx(
        math.exp(model.log_prob("b", ["<s>"]))
    )
    unigram_b = 0.5 / 6 + 0.5 * 4 / 6 * 0.2
    assert model._prob("b", ()) == pytest.approx(unigram_b)
    # bigram after a: b1 c1 (total 2, 2 types)
    assert math.exp(model.log_prob("b", ["a"])) == pytest.approx(
        0.5 / 2 + 0.5 * 2 / 2 * unigram_b
    )
    # an unseen word only gets the backed-off mass
    assert model.log_prob("zzz", ["a"]) < model.log_prob("b", ["a"])
    assert {"a", "b", "c"} == model.lexicon and "a" in model.prefixes


def test_ngram_lm_distribution_sums_to_one_over_vocabulary():
    model = lm.NgramLM(order=3).fit(["turn left", "turn right", "go left now"])
    vocabulary = [*model.lexicon, "</s>", "<unk>"]
    for history in ([], ["turn"], ["go", "left"]):
        total = sum(math.exp(model.log_prob(w, history)) for w in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-9)


def test_ngram_lm_save_load(tmp_path):
    model = lm.NgramLM(order=2).fit(["turn left", "turn right"])
    model.save(tmp_path / "lm.json")
    again = lm.NgramLM.load(tmp_path / "lm.json")
    assert again.log_prob("left", ["turn"]) == model.log_prob("left", ["turn"])


def test_prefix_beam_sums_paths_where_greedy_does_not():
    # Two frames of (blank .4, a .35, b .25): the best path is blank-blank (""),
    # but "a" has probability .35*.35 + 2 * .35*.4 = .4025 > .16.
    row = {"_": 0.4, "a": 0.35, "b": 0.25}
    log_probs = frames_from_probs([row, row])
    assert lm.greedy_path_text(log_probs) == ""
    assert lm.keras_decode(log_probs[None], [2])[0] == ""
    assert lm.prefix_beam_search(log_probs) == "a"
    assert lm.keras_decode(log_probs[None], [2], "beam_search")[0] == "a"


def test_prefix_beam_merges_repeats_only_across_blanks():
    log_probs = frames_from_probs([{"o": 1.0}, {"o": 1.0}, {"_": 1.0}, {"o": 1.0}])
    assert lm.prefix_beam_search(log_probs) == "oo"
    assert lm.greedy_path_text(log_probs) == "oo"


def test_language_model_fixes_an_acoustic_confusion():
    # Acoustically "lefd" is slightly ahead of "left"; the LM knows only "left".
    rows = [{"l": 1.0}, {"e": 1.0}, {"f": 1.0}, {"d": 0.55, "t": 0.45}]
    log_probs = frames_from_probs(rows)
    assert lm.prefix_beam_search(log_probs) == "lefd"
    model = lm.NgramLM(order=2).fit(["turn left", "go left"])
    assert lm.prefix_beam_search(log_probs, lm=model) == "left"
    # with no LM weight and no OOV penalty the acoustics win again
    assert (
        lm.prefix_beam_search(log_probs, lm=model, lm_weight=0.0, oov_penalty=0.0)
        == "lefd"
    )


def test_oov_penalty_applies_from_the_first_letter():
    # No lexicon word starts with "x": the spelling leaves the lexicon at once.
    log_probs = frames_from_probs([{"x": 0.6, "g": 0.4}, {"o": 1.0}])
    model = lm.NgramLM(order=2).fit(["go left"])
    assert lm.prefix_beam_search(log_probs) == "xo"
    assert lm.prefix_beam_search(log_probs, lm=model, lm_weight=0.0,
                                 word_bonus=0.0) == "go"
    assert lm.prefix_beam_search(log_probs, lm=model, lm_weight=0.0,
                                 word_bonus=0.0, oov_penalty=0.0) == "xo"


def test_blank_only_frames_keep_the_ranking():
    # Long blank runs between characters take the fast path; the result must
    # be the one the general path gives with the same frames spread out.
    rows = [{"g": 0.9, "_": 0.1}, {"_": 1.0}, {"_": 1.0}, {"o": 0.7, "a": 0.3},
            {"_": 1.0}, {" ": 0.8, "_": 0.2}, {"_": 1.0}, {"l": 1.0}]
    model = lm.NgramLM(order=2).fit(["go left", "ga"])
    dense = frames_from_probs([r for r in rows if r != {"_": 1.0}])
    sparse = frames_from_probs(rows)
    assert lm.prefix_beam_search(sparse, lm=model) == lm.prefix_beam_search(
        dense, lm=model) == "go l"


def test_forced_align_and_word_timings():
    seq = "_tt_u_r_nn_ _l_e_ff_t__"
    log_probs = frames_from_probs([{ch: 1.0} for ch in seq])
    starts = lm.forced_align(log_probs, text.encode("turn left"))
    assert starts.tolist() == [1, 4, 6, 8, 11, 13, 15, 17, 20]
    timings = lm.word_timings(log_probs, "turn left", 0.02)
    assert timings == [("turn", 0.02, 0.2), ("left", 0.26, 0.42)]
    with pytest.raises(ValueError, match="frames"):
        lm.forced_align(log_probs[:3], text.encode("turn left"))


def test_error_rates_hand_worked():
    # one substitution in 3 words; 1 of 5 characters
    assert lm.error_rates(["a b c"], ["a x c"]) == {
        "wer": pytest.approx(1 / 3),
        "cer": pytest.approx(1 / 5),
    }
    # deletion of everything, and an insertion (WER can exceed 1)
    assert lm.error_rates(["ab"], [""])["wer"] == 1.0
    assert lm.error_rates(["a"], ["a b c"])["wer"] == 2.0
    # corpus-level: errors summed over references, not averaged per sentence
    rates = lm.error_rates(["a b", "c d e f"], ["a b", "c x e f"])
    assert rates["wer"] == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="empty"):
        lm.error_rates([""], ["a"])
