"""Text for the synthetic speech corpus: the domains a voice interface meets.

Every generator takes a `numpy.random.Generator`, so a corpus is reproducible
from one seed. Transcripts are lower-case words drawn from `ALPHABET`; the TTS
engines are given the same words (never numerals), so what is said is what is
written.
"""

import re

import numpy as np

ALPHABET = " 'abcdefghijklmnopqrstuvwxyz"
"""Output characters; index 0 of the model's classes is the CTC blank."""

DOMAINS = ("digits", "numbers", "commands", "cards", "sentences")

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

RANKS = "ace two three four five six seven eight nine ten jack queen king".split()
SUITS = "hearts spades clubs diamonds".split()

COMMAND_TEMPLATES = (
    "go forward {n} meters",
    "go back {n} meters",
    "move forward {n} steps",
    "move back {n} steps",
    "turn left",
    "turn right",
    "turn left {n} degrees",
    "turn right {n} degrees",
    "stop",
    "start",
    "wait {n} seconds",
    "set volume to {n}",
    "set the timer for {n} minutes",
    "call {name}",
    "send a message to {name}",
    "open the {thing}",
    "close the {thing}",
    "turn on the {thing}",
    "turn off the {thing}",
    "play some {genre} music",
    "what time is it",
    "what is the weather like today",
    "cancel",
    "repeat that please",
    "go to the {room}",
    "pick up the {color} {object}",
    "put the {color} {object} on the table",
)
NAMES = "anna ben carol david emma frank grace henry iris jack kate liam".split()
THINGS = "door window lights fan heater oven garage curtains radio".split()
GENRES = "jazz rock classical pop folk country".split()
ROOMS = "kitchen bedroom garden office hallway bathroom garage".split()
COLORS = "red green blue yellow black white orange purple brown".split()
OBJECTS = "box ball cup book pen key bottle bag hat shoe".split()

# A small grammar for general sentences; about five hundred common words.
SUBJECTS = (
    "the man|the woman|the child|the teacher|my friend|our neighbour|the doctor|"
    "the farmer|the driver|a small dog|the old cat|my brother|her sister|"
    "his father|their mother|the student|the young girl|the tall boy|"
    "the pilot|the baker|the nurse|the police officer|the king|the queen|"
    "everyone|nobody|the team|the family|the crowd|the captain"
).split("|")
VERBS_TRANSITIVE = (
    "found lost bought sold opened closed painted cleaned carried dropped "
    "watched built broke fixed moved washed cooked ate read wrote sent "
    "needed wanted liked hated loved kept left saw heard took gave made "
    "brought caught held pushed pulled chose counted"
).split()
VERBS_INTRANSITIVE = (
    "smiled laughed waited slept walked ran jumped sang danced worked "
    "listened shouted cried agreed arrived stayed rested travelled "
    "whispered answered"
).split()
ADJECTIVES = (
    "old new big small red green blue yellow black white heavy light "
    "bright dark quiet loud warm cold clean dirty empty full short long "
    "strange simple happy sad quick slow soft hard sweet fresh broken "
    "wooden golden silver round square early late"
).split()
NOUNS = (
    "house car boat book letter table chair window door garden river "
    "bridge road city village market shop school church station train "
    "bottle glass plate knife spoon basket coat shirt hat shoe ring clock "
    "picture song story paper pencil bag box key phone camera lamp bread "
    "apple orange cake cheese milk coffee tea water flower tree stone "
    "horse bird fish ticket map wallet guitar piano bicycle blanket"
).split()
PLACES = (
    "in the morning|at night|after lunch|before dinner|on monday|on friday|"
    "last week|yesterday|today|near the river|by the window|in the garden|"
    "at the station|under the bridge|in the kitchen|at school|in the city|"
    "on the hill|behind the house|across the road|during the storm|"
    "after the game|before the party|every evening|in the summer|in winter"
).split("|")
ADVERBS = (
    "slowly quickly quietly loudly carefully happily suddenly again together alone"
).split()
QUESTIONS = (
    "where is the {noun}|did you see the {adj} {noun}|who took my {noun}|"
    "can you find the {noun}|is the {noun} {adj}|why is the {noun} so {adj}|"
    "how much is the {adj} {noun}|do you like the {noun}"
).split("|")


def number_to_words(number: int) -> str:
    """Spell 0 <= number < 1,000,000 as English words ("two hundred and five").

    Args:
        number: the integer to spell.

    Example:
        >>> number_to_words(1998)
        'one thousand nine hundred and ninety eight'
    """
    if not 0 <= number < 1_000_000:
        raise ValueError(f"number must be in [0, 1000000), got {number}")
    if number < 20:
        return ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return TENS[tens] + ("" if ones == 0 else " " + ONES[ones])
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        head = ONES[hundreds] + " hundred"
        return head if rest == 0 else head + " and " + number_to_words(rest)
    thousands, rest = divmod(number, 1000)
    head = number_to_words(thousands) + " thousand"
    if rest == 0:
        return head
    joiner = " and " if rest < 100 else " "
    return head + joiner + number_to_words(rest)


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def make_digits(rng: np.random.Generator) -> str:
    length = int(rng.integers(3, 9))
    return " ".join(ONES[int(d)] for d in rng.integers(0, 10, size=length))


def make_number(rng: np.random.Generator) -> str:
    kind = rng.random()
    if kind < 0.3:
        value = int(rng.integers(0, 100))
    elif kind < 0.7:
        value = int(rng.integers(100, 1000))
    else:
        value = int(rng.integers(1000, 100_000))
    return number_to_words(value)


def make_command(rng: np.random.Generator) -> str:
    template = _pick(rng, COMMAND_TEMPLATES)
    return template.format(
        n=number_to_words(
            int(_pick(rng, (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 45, 90, 180)))
        ),
        name=_pick(rng, NAMES),
        thing=_pick(rng, THINGS),
        genre=_pick(rng, GENRES),
        room=_pick(rng, ROOMS),
        color=_pick(rng, COLORS),
        object=_pick(rng, OBJECTS),
    )


def make_card(rng: np.random.Generator) -> str:
    cards = [
        f"{_pick(rng, RANKS)} of {_pick(rng, SUITS)}"
        for _ in range(int(rng.integers(1, 3)))
    ]
    return " and ".join(cards)


def make_sentence(rng: np.random.Generator) -> str:
    kind = rng.random()
    noun_phrase = f"the {_pick(rng, ADJECTIVES)} {_pick(rng, NOUNS)}"
    if kind < 0.45:
        text = f"{_pick(rng, SUBJECTS)} {_pick(rng, VERBS_TRANSITIVE)} {noun_phrase}"
        if rng.random() < 0.5:
            text += " " + _pick(rng, PLACES)
    elif kind < 0.75:
        text = f"{_pick(rng, SUBJECTS)} {_pick(rng, VERBS_INTRANSITIVE)}"
        text += " " + (
            _pick(rng, ADVERBS) if rng.random() < 0.5 else _pick(rng, PLACES)
        )
    else:
        text = _pick(rng, QUESTIONS).format(
            noun=_pick(rng, NOUNS), adj=_pick(rng, ADJECTIVES)
        )
    return text


GENERATORS = {
    "digits": make_digits,
    "numbers": make_number,
    "commands": make_command,
    "cards": make_card,
    "sentences": make_sentence,
}


def make_text(rng: np.random.Generator, domain: str) -> str:
    """One transcript of `domain` (one of `DOMAINS`)."""
    if domain not in GENERATORS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    return GENERATORS[domain](rng)


def normalize_text(text: str) -> str:
    """Lower-case, map digits/punctuation away, keep only `ALPHABET`.

    Real corpora (LibriSpeech, LJSpeech) carry punctuation and case; the model
    only knows letters, apostrophe and space.
    """
    text = text.lower().replace("-", " ")
    text = re.sub(r"\d+", lambda m: " " + _spell_digits(m.group()) + " ", text)
    text = "".join(ch if ch in ALPHABET else " " for ch in text)
    return " ".join(text.split())


def _spell_digits(digits: str) -> str:
    if len(digits) <= 5:
        return number_to_words(int(digits))
    return " ".join(ONES[int(d)] for d in digits)


def encode(text: str) -> np.ndarray:
    """Transcript -> int32 class ids (1..len(ALPHABET)); 0 is the blank."""
    unknown = sorted(set(text) - set(ALPHABET))
    if unknown:
        raise ValueError(f"text has characters outside the alphabet: {unknown}")
    return np.array([ALPHABET.index(ch) + 1 for ch in text], dtype=np.int32)


def decode(ids) -> str:
    """Class ids -> text; ids <= 0 (blank, -1 padding) are skipped."""
    return "".join(ALPHABET[i - 1] for i in ids if 0 < i <= len(ALPHABET))
