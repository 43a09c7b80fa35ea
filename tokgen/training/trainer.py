"""The shared trainer: accelerate (single process, DDP, multi-node), exact resume, logs.

A *task* supplies the modules to optimise and one training step; the trainer owns the
loop, data order, optimizers, gradient clipping, checkpoints, TensorBoard and progress::

    trainer = Trainer(run_config, optim_config, task.modules(), dataset, batch_size=8)
    trainer.fit(task.train_step)        # resumes from run.out_dir/checkpoints if present

Data order is a pure function of ``(seed, step)``: epoch ``e`` shuffles with seed
``seed + e`` and shards by rank, and every item also gets a seed (for random crops), so a
resumed run sees exactly the batches it would have seen, and, with the RNG states that
accelerate saves, reaches the same weights.

SIGTERM or Ctrl-C stops a run gracefully: the step in progress finishes, a checkpoint (and
the task's export) is written, and rerunning the command resumes from exactly there.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tokgen.errors import ConfigError
from tokgen.training.config import OptimConfig, RunConfig

STATE_NAME = "trainer_state.json"
MODEL_DIR = "model"  # the exported model inside a run's out_dir


class Updater:
    """Handed to a task's step: ``update(name, loss)`` backpropagates and steps one optimizer."""

    def __init__(
        self,
        accelerator: Accelerator,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        grad_clip: float,
        schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] | None = None,
    ) -> None:
        self.accelerator = accelerator
        self.modules = modules
        self.optimizers = optimizers
        self.grad_clip = grad_clip
        self.schedulers = schedulers or {}

    def __call__(self, name: str, loss: torch.Tensor) -> None:
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        if self.grad_clip > 0:
            self.accelerator.clip_grad_norm_(self.modules[name].parameters(), self.grad_clip)
        optimizer.step()
        if name in self.schedulers:
            self.schedulers[name].step()


StepFn = Callable[[Any, int, Updater], dict[str, float]]


class Trainer:
    """Runs ``step_fn`` for ``run.max_steps`` steps with checkpoints every ``run.save_every``."""

    def __init__(
        self,
        run: RunConfig,
        optim: OptimConfig,
        modules: dict[str, nn.Module],
        dataset: Dataset,
        *,
        batch_size: int,
        num_workers: int = 0,
        config: dict[str, Any] | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        self.run = run
        self.out_dir = Path(run.out_dir)
        self.accelerator = Accelerator(
            cpu=not torch.cuda.is_available(),  # lets torchrun on CPU run gloo DDP
            mixed_precision=run.mixed_precision,
            log_with="tensorboard",
            project_dir=str(self.out_dir),
            # Buffers (e.g. EMA codebooks) are averaged over ranks after each step instead.
            kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)],
        )
        set_seed(run.seed, device_specific=False)
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.collate_fn = collate_fn  # items -> a batch with .to(device); default stacks tensors
        names = list(modules)
        optimizers = [
            torch.optim.AdamW(
                modules[name].parameters(),
                lr=optim.lr,
                betas=tuple(optim.betas),
                weight_decay=optim.weight_decay,
            )
            for name in names
        ]
        prepared = self.accelerator.prepare(*[modules[n] for n in names], *optimizers)
        self.modules = dict(zip(names, prepared[: len(names)]))
        self.optimizers = dict(zip(names, prepared[len(names) :]))
        schedulers = {}
        if optim.warmup_steps > 0:  # linear warm-up, then constant
            warmup = optim.warmup_steps
            for name, optimizer in self.optimizers.items():
                schedulers[name] = torch.optim.lr_scheduler.LambdaLR(
                    optimizer, lambda step: min(1.0, (step + 1) / warmup)
                )
                self.accelerator.register_for_checkpointing(schedulers[name])
        self.updater = Updater(
            self.accelerator, self.modules, self.optimizers, optim.grad_clip, schedulers
        )
        self.step = 0
        self.batches_per_epoch = self._batches_per_epoch()
        if self.accelerator.is_main_process:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if config is not None:
                (self.out_dir / "train_config.json").write_text(
                    json.dumps(config, indent=2, default=str)
                )
        self.accelerator.init_trackers("logs")

    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / "checkpoints"

    def unwrap(self, name: str) -> nn.Module:
        return self.accelerator.unwrap_model(self.modules[name])

    # ---- data ------------------------------------------------------------------------
    def _batches_per_epoch(self) -> int:
        per_rank = len(self.dataset) // self.accelerator.num_processes
        batches = per_rank // self.batch_size
        if batches == 0:
            raise ConfigError(
                f"{len(self.dataset)} training clips cannot fill one batch of {self.batch_size} "
                f"on each of {self.accelerator.num_processes} processes; add data or lower "
                "data.batch_size."
            )
        return batches

    def _epoch_keys(self, epoch: int) -> list[tuple[int, int]]:
        """This rank's ``(index, item_seed)`` keys for ``epoch``, whole batches only."""
        order = torch.randperm(
            len(self.dataset), generator=torch.Generator().manual_seed(self.run.seed + epoch)
        ).tolist()
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        mine = order[rank::world][: self.batches_per_epoch * self.batch_size]
        base = (self.run.seed * 1_000_003 + epoch) * len(self.dataset)
        return [(index, base + index) for index in mine]

    def _batches(self) -> Iterator[Any]:
        """Batches from the current step on, forever."""
        epoch, skip = divmod(self.step, self.batches_per_epoch)
        while True:
            keys = self._epoch_keys(epoch)[skip * self.batch_size :]
            loader = DataLoader(
                self.dataset,
                sampler=keys,
                batch_size=self.batch_size,
                num_workers=self.num_workers,
                drop_last=True,
                collate_fn=self.collate_fn,
                # its own generator: starting a loader must not draw from the global RNG,
                # or a resumed run (new loader after the RNG restore) would drift
                generator=torch.Generator().manual_seed(self.run.seed + epoch),
            )
            for batch in loader:
                yield batch.to(self.accelerator.device)
            epoch, skip = epoch + 1, 0

    # ---- loop ------------------------------------------------------------------------
    def fit(self, step_fn: StepFn, on_save: Callable[[Trainer], None] | None = None) -> int:
        """Train until ``run.max_steps`` (or ``run.max_minutes`` of wall time, or a stop
        signal: each ends with a checkpoint); returns the final step. Resumes automatically."""
        from tqdm.auto import tqdm

        self.resume()
        bar = tqdm(
            total=self.run.max_steps,
            initial=self.step,
            desc="train",
            disable=not self.accelerator.is_main_process,
        )
        batches = self._batches()
        for module in self.modules.values():
            module.train()
        minutes = self.run.max_minutes
        deadline = None if minutes is None else time.monotonic() + 60 * minutes
        with _stop_requests() as stop:
            while self.step < self.run.max_steps:
                with self.accelerator.autocast():  # run.mixed_precision; on a CPU too
                    logs = step_fn(next(batches), self.step, self.updater)
                self.average_buffers()
                self.step += 1
                bar.update(1)
                if not all(math.isfinite(v) for v in logs.values()):
                    raise FloatingPointError(f"non-finite loss at step {self.step}: {logs}")
                last = self.step == self.run.max_steps
                if self.step % self.run.log_every == 0 or last:
                    self.accelerator.log(logs, step=self.step)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()})
                stopping = self._agree(
                    stop() or (deadline is not None and time.monotonic() > deadline)
                )
                if self.step % self.run.save_every == 0 or last or stopping:
                    self.save()
                    if on_save is not None and self.accelerator.is_main_process:
                        on_save(self)
                if stopping:
                    self.accelerator.print(f"stopped at step {self.step}; rerun to resume")
                    break
        bar.close()
        self.check_replicas_in_sync()
        self.accelerator.end_training()
        return self.step

    def _agree(self, flag: bool) -> bool:
        """True on every rank when any rank has ``flag`` set."""
        if self.accelerator.num_processes == 1:
            return flag
        mine = torch.tensor([float(flag)], device=self.accelerator.device)
        torch.distributed.all_reduce(mine, op=torch.distributed.ReduceOp.MAX)
        return bool(mine.item())

    # ---- checkpoints -----------------------------------------------------------------
    def save(self) -> Path:
        """Write ``checkpoints/step_N`` (weights, optimizers, RNG, step) atomically."""
        final = self.checkpoint_dir / f"step_{self.step:08d}"
        partial = self.checkpoint_dir / f".step_{self.step:08d}.partial"
        if self.accelerator.is_main_process:
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)  # before any rank writes its RNG state into it
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(partial))
        self.accelerator.wait_for_everyone()  # every rank has written its RNG state
        if self.accelerator.is_main_process:
            state = {
                "step": self.step,
                "num_processes": self.accelerator.num_processes,
                "run": asdict(self.run),
            }
            (partial / STATE_NAME).write_text(json.dumps(state, indent=2))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(partial, final)
            for old in self._checkpoints()[: -self.run.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        return final

    def _checkpoints(self) -> list[Path]:
        return complete_checkpoints(self.out_dir)

    def resume(self) -> None:
        """Load the newest complete checkpoint, if any."""
        checkpoints = self._checkpoints()
        if not checkpoints:
            return
        latest = checkpoints[-1]
        state = json.loads((latest / STATE_NAME).read_text())
        if state["num_processes"] != self.accelerator.num_processes:
            raise ConfigError(
                f"{latest} was written by {state['num_processes']} processes but this run has "
                f"{self.accelerator.num_processes}; resume with the same number of processes."
            )
        self.accelerator.load_state(str(latest))
        self.step = int(state["step"])
        self.accelerator.print(f"resumed from {latest} at step {self.step}")

    def average_buffers(self) -> None:
        """Average floating-point buffers over ranks, so running statistics such as EMA
        codebooks see the global batch and every rank takes the same decisions."""
        if self.accelerator.num_processes == 1:
            return
        for module in self.modules.values():
            for buffer in module.buffers():
                if buffer.is_floating_point():
                    torch.distributed.all_reduce(buffer.data)
                    buffer.data /= self.accelerator.num_processes

    def check_replicas_in_sync(self) -> None:
        """Raise if data-parallel replicas ended with different weights (a broken all-reduce)."""
        if self.accelerator.num_processes == 1:
            return
        for name, module in self.modules.items():
            checksum = torch.stack([p.detach().double().sum() for p in module.parameters()]).sum()
            gathered = self.accelerator.gather(checksum.reshape(1).to(self.accelerator.device))
            if not torch.allclose(gathered, gathered[0].expand_as(gathered), rtol=1e-6, atol=1e-9):
                raise RuntimeError(f"replicas of {name!r} diverged: checksums {gathered.tolist()}")


@contextmanager
def _stop_requests() -> Iterator[Callable[[], bool]]:
    """While active, SIGTERM and SIGINT only set a flag; yields a function that reads it.
    The previous handlers come back afterwards (outside the main thread nothing changes)."""
    requested = False

    def request(signum: int, frame: Any) -> None:
        nonlocal requested
        requested = True

    signals = (signal.SIGTERM, signal.SIGINT)
    try:
        previous = {sig: signal.signal(sig, request) for sig in signals}
    except ValueError:  # not the main thread: signals cannot be caught here
        previous = {}
    try:
        yield lambda: requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def complete_checkpoints(out_dir: str | Path) -> list[Path]:
    """The finished checkpoints under ``out_dir/checkpoints``, oldest first."""
    folder = Path(out_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("step_*") if (p / STATE_NAME).is_file())
