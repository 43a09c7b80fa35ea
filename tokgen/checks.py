"""Checks of numeric arguments shared by every public entry point.

Python, numpy and 0-d torch numbers are accepted alike; booleans, strings, fractional
integers and values out of range raise :class:`~tokgen.errors.InvalidInputError` naming
the argument, the value and what to pass instead.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

from tokgen.errors import InvalidInputError


def _plain(value: Any) -> Any:
    """A 0-d tensor or numpy scalar as a Python number; anything else unchanged."""
    if hasattr(value, "ndim") and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (floats with a fraction are refused)."""
    plain = _plain(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Integral):
        raise InvalidInputError(
            f"{name} must be an integer, got {value!r} ({type(value).__name__}); "
            f"pass e.g. {name}={low if low is not None else 0}."
        )
    plain = int(plain)
    _in_range(name, plain, low, high)
    return plain


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite ``float`` in ``[low, high]``."""
    plain = _plain(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
        raise InvalidInputError(
            f"{name} must be a number, got {value!r} ({type(value).__name__}); "
            f"pass e.g. {name}={low if low is not None else 1.0}."
        )
    plain = float(plain)
    if not math.isfinite(plain):
        raise InvalidInputError(f"{name} must be finite, got {plain}.")
    _in_range(name, plain, low, high)
    return plain


def _in_range(name: str, value: float, low: float | None, high: float | None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"{'-inf' if low is None else f'{low:g}'}..{'inf' if high is None else f'{high:g}'}"
        )
        raise InvalidInputError(f"{name} must be in {bounds}, got {value:g}.")


def output_path(path: Any, suffixes: tuple[str, ...], what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` to write ``what`` to, checked before any work.

    It must end in one of ``suffixes`` and must not be an existing folder.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(
            f"{path} is a folder; name the {what} file to write, e.g. {path / ('out' + suffixes[0])}."
        )
    if path.suffix.lower() not in suffixes:
        raise InvalidInputError(
            f"{path}: {what} files end in {' or '.join(suffixes)}; "
            f"e.g. {path.with_suffix(suffixes[0])}."
        )
    return path
