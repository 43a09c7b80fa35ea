"""Text conditioning: the TTS text front ends (characters, or flite's phones) and the
caption encoder (MiniLM).

Light to import: sentence-transformers loads on the first :meth:`CaptionEncoder.encode`.
"""

from tokgen.errors import ConfigError
from tokgen.text.captions import CaptionEncoder, caption_encoder
from tokgen.text.frontend import CHARACTERS, TextFrontend, normalize_text
from tokgen.text.phones import PhoneFrontend

FRONTENDS = {"characters": TextFrontend, "phones": PhoneFrontend}
"""The LM's text front ends by the name its config's ``text_frontend`` gives."""


def make_frontend(kind: str = "characters", max_tokens: int = 256) -> TextFrontend | PhoneFrontend:
    """The text front end ``kind`` (a key of :data:`FRONTENDS`)."""
    if kind not in FRONTENDS:
        raise ConfigError(f"text_frontend is one of {sorted(FRONTENDS)}, got {kind!r}.")
    return FRONTENDS[kind](max_tokens=max_tokens)


__all__ = [
    "CHARACTERS",
    "FRONTENDS",
    "CaptionEncoder",
    "PhoneFrontend",
    "TextFrontend",
    "caption_encoder",
    "make_frontend",
    "normalize_text",
]
