"""Training examples of a task, drawn from a token corpus: manifest row -> condition values
(text ids, caption embedding, codes) + target codes, as a :class:`~tokgen.tasks.TaskSpec`
declares them."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from tokgen.conditions import RowContext, condition_type
from tokgen.conditions.audio import MIN_FRAMES
from tokgen.data.token_corpus import TokenCorpus
from tokgen.errors import ConfigError
from tokgen.tasks import TaskSpec
from tokgen.text import TextFrontend


@dataclass
class Example:
    conditions: dict[str, Any]  # condition name -> ids / [E] / [K, F], None when dropped
    target: torch.Tensor  # [K, F]


def field_value(row: dict[str, Any], item: dict[str, Any] | None, path: str) -> Any:
    """A dotted manifest field; ``item.x`` reads the expanded element. None if absent."""
    node: Any = item if path.startswith("item.") else row
    parts = path.split(".")[1:] if path.startswith("item.") else path.split(".")
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class TaskExamples:
    """The examples of one task in a token corpus; :meth:`draw` makes one at random."""

    def __init__(
        self,
        task: TaskSpec,
        corpus: TokenCorpus,
        frontend: TextFrontend,
        embed: Callable[[str], torch.Tensor] | None = None,
    ) -> None:
        self.task = task
        self.corpus = corpus
        self.frontend = frontend
        self.embed = embed  # caption/query text -> [E]; set before drawing embedding tasks
        self.frame_rate = corpus.header.frame_rate
        self.audio_at: dict[str, tuple[int, int | None]] = {}  # path -> (row, source)
        for index, row in enumerate(corpus.rows):
            self.audio_at[row["path"]] = (index, None)
            for s, source in enumerate(row.get("sources") or []):
                if "shard" in source:
                    self.audio_at[source["path"]] = (index, s)
        self.peers: dict[str, dict[Any, list[int]]] = defaultdict(lambda: defaultdict(list))
        for spec in task.conditions:
            if spec.same is not None:
                for index, row in enumerate(corpus.rows):
                    self.peers[spec.same][row.get(spec.same)].append(index)
        self.items = [
            (index, item)
            for index, row in enumerate(corpus.rows)
            for item in self._items_of(row)
            if self._usable(index, row, item)
        ]
        if not self.items:
            raise ConfigError(
                f"task {task.name!r}: no row of {corpus.folder} has its fields "
                f"({[c.field for c in task.conditions]} -> {task.target.field})."
            )

    def __len__(self) -> int:
        return len(self.items)

    def strings(self) -> set[str]:
        """Every string an embedding condition may draw (to embed them all up front)."""
        found: set[str] = set()
        for index, item in self.items:
            row = self.corpus.rows[index]
            element = None if item is None else row[self.task.expand][item]
            for spec in self.task.conditions:
                value = field_value(row, element, spec.field)
                found.update(condition_type(spec.type).strings(spec, value))
        return found

    def context(
        self, rng: random.Random | None = None, offset: int = 0, span: int = 0
    ) -> RowContext:
        """What the condition types read rows through (``rng`` and the crop when drawing)."""
        return RowContext(
            frontend=self.frontend,
            embed=self.embed,
            codes=self._codes,
            frames=self._frames,
            frame_rate=self.frame_rate,
            rng=rng,
            offset=offset,
            span=span,
        )

    def _items_of(self, row: dict[str, Any]) -> list[int | None]:
        if self.task.kinds and row.get("kind") not in self.task.kinds:
            return []
        if self.task.expand is None:
            return [None]
        return list(range(len(row.get(self.task.expand) or [])))

    def _where(self, path: Any) -> tuple[int, int | None] | None:
        """``(row, source)`` of the tokenized audio at ``path``, None if there is none."""
        return self.audio_at.get(path) if isinstance(path, str) else None

    def _frames(self, path: Any) -> int:
        where = self._where(path)
        if where is None:
            return 0
        row = self.corpus.rows[where[0]]
        return int(row["frames"] if where[1] is None else row["sources"][where[1]]["frames"])

    def _usable(self, index: int, row: dict[str, Any], item: int | None) -> bool:
        element = None if item is None else row[self.task.expand][item]
        target = self.task.target
        frames = self._frames(field_value(row, element, target.field))
        if frames < MIN_FRAMES:
            return False
        if target.length == "eos" and target.seconds and frames > target.seconds * self.frame_rate:
            return False
        ctx = self.context()
        for spec in self.task.conditions:
            value = field_value(row, element, spec.field)
            present = condition_type(spec.type).present(spec, value, ctx)
            if spec.same is not None and len(self.peers[spec.same][row.get(spec.same)]) < 2:
                present = False
            if spec.required and not present:
                return False
        return True

    # ---- drawing ---------------------------------------------------------------------
    def draw(self, rng: random.Random) -> Example:
        """One example: a random item, crops and dropped conditions from ``rng``."""
        index, item = self.items[rng.randrange(len(self.items))]
        row = self.corpus.rows[index]
        element = None if item is None else row[self.task.expand][item]
        target_spec = self.task.target
        full = self._codes(field_value(row, element, target_spec.field))  # [K, F]
        limit = round(target_spec.seconds * self.frame_rate) if target_spec.seconds else None
        head = next((c for c in self.task.conditions if c.window == "head"), None)
        split = 0
        if target_spec.window == "tail" and head is not None:
            wanted = round((head.seconds or 1.0) * self.frame_rate)
            split = max(1, min(wanted, full.shape[1] // 2))
        span = full.shape[1] - split if limit is None else min(limit, full.shape[1] - split)
        offset = split  # a continuation starts right after its prompt
        if split == 0:
            offset = rng.randrange(full.shape[1] - span + 1)
        ctx = self.context(rng, offset, span)
        conditions: dict[str, Any] = {}
        for spec in self.task.conditions:
            if spec.dropout and rng.random() < spec.dropout:
                conditions[spec.name] = None
                continue
            if spec.same is not None:  # the value of another row that shares field `same`
                others = [i for i in self.peers[spec.same][row.get(spec.same)] if i != index]
                value = field_value(self.corpus.rows[rng.choice(others)], None, spec.field)
            else:
                value = field_value(row, element, spec.field)
            conditions[spec.name] = condition_type(spec.type).from_row(spec, value, ctx)
        return Example(conditions, full[:, offset : offset + span])

    def _codes(self, path: Any) -> torch.Tensor | None:
        where = self._where(path)
        if where is None:
            return None
        row, source = where
        return self.corpus.codes(row) if source is None else self.corpus.source_codes(row, source)
