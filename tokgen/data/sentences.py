"""A seeded generator of varied English sentences for speech synthesis.

A small phrase grammar over word lists: statements, questions, requests, reports with
numbers and times, and compound sentences. No fixed sentence list: the space is large
enough that a corpus of thousands of sentences has no repeats by construction
(:func:`unique_sentences` also de-duplicates explicitly).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


NAMES = _words(
    "Anna Ben Clara David Emma Frank Grace Henry Irene Jack Laura Martin Nora Oliver Paula "
    "Robert Sarah Thomas Victor Wendy Alice Peter Helen George Susan Daniel Maria Edward"
)
PEOPLE = _words(
    "teacher doctor farmer driver baker painter student captain pilot neighbor nurse "
    "engineer musician writer singer gardener sailor manager child friend stranger artist"
)
THINGS = _words(
    "book letter window garden table bottle ticket basket picture engine river bridge "
    "road lamp clock coat phone camera box map door chair boat train car bicycle bag "
    "kettle piano guitar umbrella wallet blanket candle mirror ladder envelope"
)
PLACES = _words(
    "the station|the market|the library|the office|the kitchen|the harbor|the village|"
    "the hospital|the museum|the park|the school|the airport|the bakery|the hotel|"
    "the garden|the river|the mountain|the city center|the old church|the farm",
    "|",
)
ADJECTIVES = _words(
    "old new small large red blue green yellow heavy quiet noisy bright dark warm cold "
    "clean broken empty famous strange simple wooden silver careful tired happy busy"
)
ADVERBS = _words(
    "quickly slowly carefully quietly suddenly happily early late loudly gently often "
    "rarely easily again together"
)
# (base, third person, past)
TRANSITIVE = [
    ("open", "opens", "opened"),
    ("carry", "carries", "carried"),
    ("clean", "cleans", "cleaned"),
    ("paint", "paints", "painted"),
    ("find", "finds", "found"),
    ("bring", "brings", "brought"),
    ("sell", "sells", "sold"),
    ("buy", "buys", "bought"),
    ("fix", "fixes", "fixed"),
    ("move", "moves", "moved"),
    ("watch", "watches", "watched"),
    ("read", "reads", "read"),
    ("build", "builds", "built"),
    ("check", "checks", "checked"),
    ("borrow", "borrows", "borrowed"),
    ("lose", "loses", "lost"),
    ("send", "sends", "sent"),
    ("keep", "keeps", "kept"),
]
INTRANSITIVE = [
    ("walk", "walks", "walked"),
    ("wait", "waits", "waited"),
    ("arrive", "arrives", "arrived"),
    ("sing", "sings", "sang"),
    ("work", "works", "worked"),
    ("sleep", "sleeps", "slept"),
    ("laugh", "laughs", "laughed"),
    ("travel", "travels", "traveled"),
    ("listen", "listens", "listened"),
    ("return", "returns", "returned"),
    ("rest", "rests", "rested"),
    ("talk", "talks", "talked"),
]
PREPOSITIONS = _words("near|behind|inside|outside|next to|across from|in front of|beyond", "|")
TIMES = _words(
    "this morning|last night|on monday|every evening|after lunch|before dinner|"
    "in the summer|on friday|at noon|tomorrow|yesterday|next week|at midnight|today",
    "|",
)
WEATHER = _words("rain|snow|wind|fog|sunshine|thunder|heat|frost", "|")
NUMBERS = (
    *_words("two three four five six seven eight nine ten eleven twelve fifteen twenty thirty"),
    *("forty", "fifty", "sixty", "a hundred", "two hundred"),
)
CONNECTORS = _words("and|but|so|because|while|although|before|after", "|")


def _pick(rng: random.Random, words: list[str] | tuple[str, ...]) -> str:
    return words[rng.randrange(len(words))]


def _noun_phrase(rng: random.Random) -> str:
    noun = _pick(rng, THINGS if rng.random() < 0.7 else PEOPLE)
    det = _pick(rng, ["the", "a", "my", "your", "this", "that", "our", "her", "his"])
    if det == "a" and rng.random() < 0.5:
        adjective = _pick(rng, ADJECTIVES)
        det = "an" if adjective[0] in "aeiou" else "a"
        return f"{det} {adjective} {noun}"
    if det == "a" and noun[0] in "aeiou":
        det = "an"
    if rng.random() < 0.35:
        return f"{det} {_pick(rng, ADJECTIVES)} {noun}"
    return f"{det} {noun}"


def _subject(rng: random.Random) -> tuple[str, bool]:
    """A subject and whether it takes a third-person singular verb."""
    roll = rng.random()
    if roll < 0.35:
        return _pick(rng, NAMES), True
    if roll < 0.6:
        return f"the {_pick(rng, ADJECTIVES) + ' ' if rng.random() < 0.4 else ''}" + _pick(
            rng, PEOPLE
        ), True
    if roll < 0.8:
        return _pick(rng, ["we", "they", "you", "I"]), False
    return _pick(rng, ["she", "he"]), True


def _verb_phrase(rng: random.Random, third: bool, tense: str) -> str:
    if rng.random() < 0.6:
        base, s_form, past = TRANSITIVE[rng.randrange(len(TRANSITIVE))]
        obj = " " + _noun_phrase(rng)
    else:
        base, s_form, past = INTRANSITIVE[rng.randrange(len(INTRANSITIVE))]
        obj = ""
    verb = {"past": past, "present": s_form if third else base, "future": f"will {base}"}[tense]
    tail = ""
    if rng.random() < 0.5:
        tail += f" {_pick(rng, PREPOSITIONS)} {_pick(rng, PLACES)}"
    if rng.random() < 0.35:
        tail += f" {_pick(rng, ADVERBS)}"
    if rng.random() < 0.3:
        tail += f" {_pick(rng, TIMES)}"
    return f"{verb}{obj}{tail}"


def _clause(rng: random.Random) -> str:
    subject, third = _subject(rng)
    tense = _pick(rng, ["past", "present", "future"])
    return f"{subject} {_verb_phrase(rng, third, tense)}"


def _statement(rng: random.Random) -> str:
    return _clause(rng) + "."


def _compound(rng: random.Random) -> str:
    return f"{_clause(rng)} {_pick(rng, CONNECTORS)} {_clause(rng)}."


def _question(rng: random.Random) -> str:
    subject, third = _subject(rng)
    base, _, _ = TRANSITIVE[rng.randrange(len(TRANSITIVE))]
    aux = _pick(rng, ["did", "will", "can", "should"] + (["does"] if third else ["do"]))
    wh = rng.random()
    if wh < 0.4:
        return f"{aux} {subject.lower() if subject == 'I' else subject} {base} {_noun_phrase(rng)}?"
    if wh < 0.7:
        return f"where {aux} {subject} {base} {_noun_phrase(rng)}?"
    return f"why is {_noun_phrase(rng)} {_pick(rng, PREPOSITIONS)} {_pick(rng, PLACES)}?"


def _request(rng: random.Random) -> str:
    base, _, _ = TRANSITIVE[rng.randrange(len(TRANSITIVE))]
    polite = _pick(rng, ["please ", "", "could you ", "remember to ", "do not "])
    where = f" {_pick(rng, PREPOSITIONS)} {_pick(rng, PLACES)}" if rng.random() < 0.5 else ""
    end = "?" if polite == "could you " else "."
    return f"{polite}{base} {_noun_phrase(rng)}{where}{end}"


def _report(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return (
            f"{_pick(rng, NUMBERS)} {_pick(rng, PEOPLE)}s {_pick(rng, ['waited', 'worked', 'met'])}"
            f" at {_pick(rng, PLACES)} {_pick(rng, TIMES)}."
        )
    if roll < 0.65:
        return (
            f"the train to {_pick(rng, PLACES)[4:]} leaves at {_pick(rng, NUMBERS[:11])} "
            f"{_pick(rng, ['o clock', 'thirty', 'fifteen', 'forty five'])}."
        )
    return (
        f"expect {_pick(rng, WEATHER)} {_pick(rng, TIMES)} and "
        f"{_pick(rng, WEATHER)} {_pick(rng, TIMES)}."
    )


FORMS: tuple[tuple[float, Callable[[random.Random], str]], ...] = (
    (0.35, _statement),
    (0.2, _compound),
    (0.17, _question),
    (0.13, _request),
    (0.15, _report),
)


def sentence(rng: random.Random) -> str:
    """One sentence (lower case, ends with . or ?), its form and words drawn from ``rng``."""
    roll, total = rng.random(), 0.0
    for weight, form in FORMS:
        total += weight
        if roll < total:
            text = form(rng)
            break
    else:
        text = FORMS[-1][1](rng)
    return text[0].upper() + text[1:]


def unique_sentences(rng: random.Random, seen: set[str]) -> Iterator[str]:
    """Sentences never returned before (``seen`` is updated); an endless iterator."""
    while True:
        text = sentence(rng)
        if text.lower() not in seen:
            seen.add(text.lower())
            yield text
