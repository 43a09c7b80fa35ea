"""One CPU thread for work whose pieces are too small to share: two torch threads on two
cores wait on each other as soon as another process holds a core."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_thread(enabled: bool = True) -> Iterator[None]:
    """Run the block on one torch thread (``enabled``), then restore the thread count. Not
    thread-safe across concurrent calls in one process."""
    threads = torch.get_num_threads()
    if not enabled or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
