import numpy as np
import pytest

from apps.speech import text


@pytest.mark.parametrize(
    "number, words",
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (47, "forty seven"),
        (100, "one hundred"),
        (105, "one hundred and five"),
        (1000, "one thousand"),
        (1005, "one thousand and five"),
        (1998, "one thousand nine hundred and ninety eight"),
        (20000, "twenty thousand"),
    ],
)
def test_number_to_words(number, words):
    assert text.number_to_words(number) == words


def test_number_to_words_refuses_out_of_range():
    with pytest.raises(ValueError, match="number"):
        text.number_to_words(-1)


def test_normalize_text_maps_case_digits_and_punctuation():
    assert (
        text.normalize_text("Hello, World!  It's 42.") == "hello world it's forty two"
    )
    assert (
        text.normalize_text("Call 5551234") == "call five five five one two three four"
    )


def test_encode_decode_round_trip_and_blank():
    ids = text.encode("ace of spades")
    assert ids.min() >= 1
    assert text.decode(ids) == "ace of spades"
    assert text.decode([0, -1, *ids, 0]) == "ace of spades"
    with pytest.raises(ValueError, match="outside the alphabet"):
        text.encode("Ace")


def test_text_generators_are_reproducible_and_in_alphabet():
    for domain in text.DOMAINS:
        first = [text.make_text(np.random.default_rng(3), domain) for _ in range(5)]
        second = [text.make_text(np.random.default_rng(3), domain) for _ in range(5)]
        assert first == second
        for sentence in first:
            assert sentence and set(sentence) <= set(text.ALPHABET)
    with pytest.raises(ValueError, match="domain"):
        text.make_text(np.random.default_rng(0), "poetry")
