"""Text conditioning: the TTS character front end and the caption encoder (MiniLM).

Light to import: sentence-transformers loads on the first :meth:`CaptionEncoder.encode`.
"""

from tokgen.text.captions import CaptionEncoder, caption_encoder
from tokgen.text.frontend import CHARACTERS, TextFrontend, normalize_text

__all__ = ["CHARACTERS", "CaptionEncoder", "TextFrontend", "caption_encoder", "normalize_text"]
