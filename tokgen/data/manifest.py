"""Reading JSONL manifests: one JSON object per line, audio paths relative to the file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokgen.errors import InvalidInputError

RowCheck = Callable[[dict[str, Any]], str | None]  # a row -> what is wrong with it, or None


def read_manifest(
    path: str | os.PathLike,
    *,
    check: RowCheck | None = None,
    purpose: str = "use",
    fields: tuple[str, ...] = ("path",),
) -> list[dict[str, Any]]:
    """The rows of a JSONL manifest, in order; blank lines are skipped.

    Every row must be an object with string ``fields`` (an audio manifest's ``path``);
    ``check`` adds the caller's own requirements. Raises :class:`InvalidInputError` for a missing or empty manifest or a
    bad line, naming ``file:line``; ``purpose`` completes "nothing to ...".
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(
            f"manifest {path} not found; pass a JSONL file from `tokgen data build`."
        )
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InvalidInputError(
                f"{where}: not valid JSON ({err.msg}); each line must be one JSON object."
            ) from err
        if not isinstance(row, dict) or not all(isinstance(row.get(f), str) for f in fields):
            names = " and ".join(repr(f) for f in fields)
            problem = f"a manifest row must be a JSON object with a string {names}"
        else:
            problem = check(row) if check else None
        if problem:
            raise InvalidInputError(f"{where}: {problem}.")
        rows.append(row)
    if not rows:
        raise InvalidInputError(f"manifest {path} has no rows; nothing to {purpose}.")
    return rows
