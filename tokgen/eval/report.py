"""An evaluation's files: its scores as JSON and, next to them, a Markdown report with one
spectrogram picture per example item (so people can look, not only read)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from tokgen.eval.spectrogram import save_spectrograms

Panel = tuple[str, torch.Tensor]  # (title, mono audio [T]) of one spectrogram
Example = tuple[str, list[Panel]]  # (item id, its panels side by side)


def write_report(
    json_path: str | Path,
    scores: dict[str, Any],
    table: str,
    *,
    title: str,
    examples: list[Example],
    sample_rate: int,
) -> list[Path]:
    """Write ``scores`` to ``json_path``, one PNG per example (``NAME-ITEM.png``) and
    ``NAME.md`` (``title``, the Markdown ``table``, the pictures). Returns the paths, the
    JSON first and the report last."""
    path = Path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scores, indent=2) + "\n")
    lines = [f"# {title}", "", table, ""]
    written = [path]
    for item_id, panels in examples:
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in item_id)
        picture = save_spectrograms(path.with_name(f"{path.stem}-{safe}.png"), panels, sample_rate)
        written.append(picture)
        lines += [f"**{item_id}**", "", f"![{item_id}]({picture.name})", ""]
    report = path.with_suffix(".md")
    report.write_text("\n".join(lines))
    return [*written, report]
