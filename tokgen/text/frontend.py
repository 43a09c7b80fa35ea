"""The TTS text front end: normalize English text and map it to character ids.

Character-based, so inference needs no phonemizer. :func:`normalize_text` spells out what a
reader would say (numbers, years, ordinals, decimals, currency, symbols, abbreviations) and
keeps only ``a-z``, space, apostrophe and ``, . ? ! -``; :class:`TextFrontend` maps that to
ids over :data:`CHARACTERS`. No special tokens are added: the model adds its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from tokgen.errors import InvalidInputError

CHARACTERS = " abcdefghijklmnopqrstuvwxyz'-,.?!"
"""Every character :func:`normalize_text` can produce; a character's id is its index here."""

_CHAR_TO_ID = {char: i for i, char in enumerate(CHARACTERS)}

# --- numbers to words ----------------------------------------------------------------------

_ONES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_MAX_CARDINAL = 10**15 - 1  # larger numbers are read digit by digit
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> str:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest or not hundreds:
        words.append(_ONES[rest])
    return " ".join(words)


def _cardinal(n: int) -> str:
    """``1234`` -> ``"one thousand two hundred thirty four"`` (no "and", no hyphens)."""
    if n < 0:
        return "minus " + _cardinal(-n)
    if n > _MAX_CARDINAL:
        return _digits(str(n))
    words = []
    for value, name in _SCALES:
        count, n = divmod(n, value)
        if count:
            words += [_below_thousand(count), name]
    if n or not words:
        words.append(_below_thousand(n))
    return " ".join(words)


def _digits(digits: str) -> str:
    """``"007"`` -> ``"zero zero seven"``."""
    return " ".join(_ONES[int(d)] for d in digits)


def _integer(digits: str) -> str:
    """A digit string (maybe ``"1,234"``) as a cardinal; ``"007"`` is read digit by digit."""
    if "," in digits:
        return _cardinal(_whole(digits))
    if len(digits) > 1 and digits.startswith("0"):
        return _digits(digits)
    return _cardinal(int(digits))


def _ordinal(n: int) -> str:
    """``21`` -> ``"twenty first"``, ``100`` -> ``"one hundredth"``."""
    *head, last = _cardinal(n).split()
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _year(n: int) -> str:
    """``1984`` -> ``"nineteen eighty four"``, ``1905`` -> ``"nineteen oh five"``,
    ``1900`` -> ``"nineteen hundred"``, ``2005`` -> ``"two thousand five"``,
    ``2024`` -> ``"twenty twenty four"``."""
    if 2000 <= n <= 2009:
        return _cardinal(n)
    century, rest = divmod(n, 100)
    if rest == 0:
        return f"{_cardinal(century)} hundred"
    return _two_part(century, rest)


def _two_part(first: int, second: int) -> str:
    """Years and clock times read in two parts: ``19, 5`` -> ``"nineteen oh five"``."""
    if second < 10:
        return f"{_cardinal(first)} oh {_ONES[second]}"
    return f"{_cardinal(first)} {_cardinal(second)}"


def _plural(words: str) -> str:
    """``"nineteen eighty"`` -> ``"nineteen eighties"``."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _is_year(n: int) -> bool:
    return 1100 <= n <= 2099


# --- the normalization passes ------------------------------------------------------------

_UNICODE_MAP = str.maketrans(
    {
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",  # ‚
        "\u201b": "'",  # ‛
        "\u2032": "'",  # ′
        "`": "'",
        "\u00b4": "'",  # ´
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u201f": '"',  # ‟
        "\u2033": '"',  # ″
        "\u00ab": '"',  # «
        "\u00bb": '"',  # »
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": " - ",  # em dash
        "\u2015": " - ",  # horizontal bar
        "\u2212": "-",  # minus sign
        "\u2026": "...",  # ellipsis
        "\u00df": "ss",  # ß
        "\u00e6": "ae",  # æ
        "\u00c6": "AE",
        "\u0153": "oe",  # œ
        "\u0152": "OE",
        "\u00f8": "o",  # ø
        "\u00d8": "O",
        "\u0142": "l",  # ł
        "\u0141": "L",
        "\u0111": "d",  # đ
        "\u0110": "D",
        "\u00fe": "th",  # þ
        "\u00de": "TH",
    }
)

_ABBREVIATIONS = {
    "mr": "mister",
    "mrs": "missus",
    "dr": "doctor",
    "prof": "professor",
    "jr": "junior",
    "sr": "senior",
    "vs": "versus",
    "etc": "et cetera",
    "e.g": "for example",
    "i.e": "that is",
}
_ABBREVIATION_RE = re.compile(
    # a letter ends the word, a digit does not: "St0" reads "street zero" on every pass
    r"(?<![\w.])(mrs|mr|dr|prof|jr|sr|vs|etc|e\.g|i\.e|st)(?![a-z])(\.?)",
    re.IGNORECASE,
)

_CURRENCIES = {  # symbol: (unit, units, subunit, subunits)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_SCALE_WORD = r"(?:\s+(thousand|million|billion|trillion)\b)?"
_NUMBER = r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(\d+))?"  # groups: whole (maybe 1,234), fraction
_CURRENCY_RE = re.compile(r"([$£€])\s?" + _NUMBER + _SCALE_WORD)
_TIME_RE = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_NEGATIVE_RE = re.compile(r"(?<![\w.,-])-" + _NUMBER)
_GROUPED_RE = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?(?![\d,])")
_DECIMAL_RE = re.compile(r"(?<![\d.])(\d*)\.(\d+)")
_ORDINAL_RE = re.compile(r"(?<!\d)(\d+)(st|nd|rd|th)(?![a-z])")
_DECADE_RE = re.compile(r"(?<!\d)(\d+)s(?![a-z'])")
_DASHES_RE = re.compile(r"-{2,}")
_INTEGER_RE = re.compile(r"\d+")
_SYMBOLS = (("&", " and "), ("%", " percent "), ("+", " plus "), ("@", " at "))
_DISALLOWED_RE = re.compile(r"[^a-z' ,.?!-]+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r" +([,.?!])")
# An apostrophe stays inside a word ("don't") or after a plural s ("dogs'"); quotes go.
_STRAY_APOSTROPHE_RE = re.compile(r"(?<![a-z])'|(?<!s)'(?![a-z])")
_WHITESPACE_RE = re.compile(r"\s+")


def _sub_words(pattern: re.Pattern[str], words: Callable[[re.Match[str]], str], text: str) -> str:
    """Replace each match by ``words(match)``, padding with a space next to letters/digits."""

    def replace(match: re.Match[str]) -> str:
        out = words(match)
        start, end = match.start(), match.end()
        if start > 0 and text[start - 1].isalnum():
            out = " " + out
        if end < len(text) and text[end].isalnum():
            out += " "
        return out

    return pattern.sub(replace, text)


def _expand_abbreviation(match: re.Match[str]) -> str:
    word, dot = match.group(1).lower(), match.group(2)
    after = match.string[match.end() :]
    if word == "st":
        # "St. Louis" (a capitalized name follows) is a saint; "Main St." is a street.
        word_out = "saint" if re.match(r"\s*[A-Z]", after) else "street"
    else:
        word_out = _ABBREVIATIONS[word]
    # The dot was also a full stop when the text ends there, or when "etc." ends a sentence.
    ends_sentence = not after.strip() or (word == "etc" and re.match(r"\s+[A-Z]", after))
    return word_out + ("." if dot and ends_sentence else "")


def _expand_currency(match: re.Match[str]) -> str:
    symbol, whole, fraction, scale = match.groups()
    unit, units, subunit, subunits = _CURRENCIES[symbol]
    amount = _whole(whole)
    if scale:  # "$2.5 million" -> "two point five million dollars"
        number = _cardinal(amount) + (f" point {_digits(fraction)}" if fraction else "")
        return f"{number} {scale} {units}"
    if fraction and len(fraction) > 2:  # "$0.125" -> "zero point one two five dollars"
        return f"{_cardinal(amount)} point {_digits(fraction)} {units}"
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if amount or not cents:
        parts.append(f"{_cardinal(amount)} {unit if amount == 1 else units}")
    if cents:
        parts.append(f"{_cardinal(cents)} {subunit if cents == 1 else subunits}")
    return " and ".join(parts)


def _expand_time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute == 0:
        return f"{_cardinal(hour)} o'clock"
    return _two_part(hour, minute)


def _whole(digits: str) -> int:
    return int(digits.replace(",", ""))


def _expand_decimal(whole: str, fraction: str | None) -> str:
    """``("3", "14")`` -> ``"three point one four"``; ``whole`` may be ``""`` or ``"1,234"``."""
    number = _integer(whole) if whole else ""
    if fraction:
        number = f"{number} point {_digits(fraction)}".strip()
    return number


def _expand_integer(match: re.Match[str]) -> str:
    digits = match.group(0)
    if len(digits) == 4 and not digits.startswith("0") and _is_year(int(digits)):
        return _year(int(digits))
    return _integer(digits)


def _expand_decade(match: re.Match[str]) -> str:
    digits = match.group(1)
    value = int(digits)
    if len(digits) == 4:
        words = _year(value) if _is_year(value) else _cardinal(value)
    else:
        words = _integer(digits)
    return _plural(words)


def _expand_numbers(text: str) -> str:
    text = _sub_words(_CURRENCY_RE, _expand_currency, text)
    text = _sub_words(_TIME_RE, _expand_time, text)
    text = _sub_words(
        _NEGATIVE_RE, lambda m: "minus " + _expand_decimal(m.group(1), m.group(2)), text
    )
    text = _sub_words(_GROUPED_RE, lambda m: _expand_decimal(m.group(1), m.group(2)), text)
    text = _sub_words(_DECIMAL_RE, lambda m: _expand_decimal(m.group(1), m.group(2)), text)
    text = _sub_words(_ORDINAL_RE, lambda m: _ordinal(int(m.group(1))), text)
    text = _sub_words(_DECADE_RE, _expand_decade, text)
    return _sub_words(_INTEGER_RE, _expand_integer, text)


def normalize_text(text: str) -> str:
    """Spell ``text`` out as a reader would say it, in lowercase ``a-z ' , . ? ! -`` only.

    Numbers become words ("-3.5" -> "minus three point five", "21st" -> "twenty first",
    "1984" -> "nineteen eighty four", "$5" -> "five dollars", "50%" -> "fifty percent"),
    common abbreviations are expanded ("Dr." -> "doctor", "e.g." -> "for example"), accents
    are dropped, quotes and dashes unified, other characters removed and whitespace collapsed.
    Four-digit integers from 1100 to 2099 are read as years. May return ``""``.
    Idempotent: passes repeat until the text stops changing (removing a character can
    reveal an abbreviation: "e'.g" -> "e.g" -> "for example").
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a str, got {type(text).__name__}")
    for _ in range(MAX_NORMALIZE_PASSES):
        normalized = _normalize_once(text)
        if normalized == text:
            break
        text = normalized
    return text


MAX_NORMALIZE_PASSES = 5


def _normalize_once(text: str) -> str:
    """One pass of :func:`normalize_text`."""
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE_MAP)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _ABBREVIATION_RE.sub(_expand_abbreviation, text)  # before lowercasing: "St. Louis"
    text = _DASHES_RE.sub(" - ", text.lower())
    for symbol, words in _SYMBOLS:
        text = text.replace(symbol, words)
    text = _expand_numbers(text)
    text = text.replace(";", ",").replace(":", ",")
    text = _DISALLOWED_RE.sub(" ", text)
    text = _STRAY_APOSTROPHE_RE.sub(" ", text)
    text = _WHITESPACE_RE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    return text.strip()


class TextFrontend:
    """Normalized text <-> character ids over :data:`CHARACTERS` (ids ``0..vocab_size-1``).

    ``encode`` rejects non-str, empty and unspeakable text, and text longer than
    ``max_tokens`` characters after normalization (split it into sentences instead).
    """

    def __init__(self, max_tokens: int = 256) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be a positive int, got {max_tokens!r}")
        self.max_tokens = max_tokens

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids (``len(CHARACTERS)``)."""
        return len(CHARACTERS)

    def normalize(self, text: str) -> str:
        """:func:`normalize_text`, exposed for inspection."""
        return normalize_text(text)

    def encode(self, text: str) -> list[int]:
        """Normalize ``text`` and return its character ids, ``len <= max_tokens``."""
        if not isinstance(text, str):
            raise InvalidInputError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise InvalidInputError("text is empty; give the words to speak")
        normalized = normalize_text(text)
        if not any("a" <= c <= "z" for c in normalized):
            raise InvalidInputError(
                f"nothing speakable remains in {text[:80]!r} after normalization; "
                "the front end reads English letters, numbers and common symbols"
            )
        if len(normalized) > self.max_tokens:
            raise InvalidInputError(
                f"text is {len(normalized)} characters after normalization, over the limit of "
                f"{self.max_tokens} tokens; split it into shorter pieces (e.g. sentences) and "
                "generate each separately"
            )
        return [_CHAR_TO_ID[c] for c in normalized]

    def decode(self, ids: Sequence[int]) -> str:
        """Character ids back to normalized text."""
        chars = []
        for i in ids:
            index = int(i)
            if not 0 <= index < len(CHARACTERS):
                raise InvalidInputError(
                    f"id {index} is outside the text vocabulary [0, {len(CHARACTERS) - 1}]"
                )
            chars.append(CHARACTERS[index])
        return "".join(chars)
