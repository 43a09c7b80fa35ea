"""Checkpoints on disk and the one explicit download path.

A checkpoint directory holds ``config.json`` (a typed dataclass as JSON) and
``model.safetensors`` (the state dict). Models are built from the config, then the state
is loaded; nothing is ever unpickled. Official third-party weights are fetched only by
:func:`download`, which pins the URL and checks the SHA-256, and fails fast offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tokgen.errors import ConfigError, DownloadError, PretrainedNotFoundError

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"  # the shipped checkpoints
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DOWNLOAD_TIMEOUT_S = 10.0


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain JSON-able dict."""
    return dataclasses.asdict(config)


def config_hash(config: dict[str, Any]) -> str:
    """Short stable hash of a config dict (sorted-key JSON, SHA-256, 16 hex digits)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def config_from_dict(cls: type, data: dict[str, Any], *, source: str = "config") -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys with a clear error."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{source}: unknown field(s) {unknown} for {cls.__name__}; known: {sorted(names)}."
        )
    try:
        return cls(**data)
    except TypeError as err:
        raise ConfigError(f"{source}: {err}") from err


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML file holding a mapping, with errors that name the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}.")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping.")
    return raw


def save_checkpoint(
    path: str | os.PathLike,
    config: dict[str, Any],
    state: dict[str, torch.Tensor],
    *,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into directory ``path``.

    ``dtype`` (e.g. ``torch.float16``) casts floating-point tensors for a smaller file.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, tensor in state.items():
        tensor = tensor.detach().cpu()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[name] = tensor.contiguous().clone()  # clone: safetensors refuses shared storage
    atomic_write_text(path / CONFIG_NAME, json.dumps(config, indent=2, sort_keys=True) + "\n")
    tmp = path / f".{WEIGHTS_NAME}.partial"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, path / WEIGHTS_NAME)
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read ``(config dict, state dict)`` from a checkpoint directory (float32 tensors)."""
    path = Path(path)
    config_file, weights_file = path / CONFIG_NAME, path / WEIGHTS_NAME
    if not config_file.is_file() or not weights_file.is_file():
        raise PretrainedNotFoundError(
            f"{path} is not a tokgen checkpoint: it needs {CONFIG_NAME} and {WEIGHTS_NAME}."
        )
    config = read_config(path)
    state = load_file(str(weights_file))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return config, state


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint directory's ``config.json`` alone (no weights read)."""
    config_file = Path(path) / CONFIG_NAME
    if not config_file.is_file():
        raise PretrainedNotFoundError(f"{path} is not a tokgen checkpoint: it needs {CONFIG_NAME}.")
    return read_json_file(config_file)


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or a :class:`ConfigError` naming the file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is not a readable JSON file: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object.")
    return data


def cache_dir() -> Path:
    """Where downloaded weights live: ``$TOKGEN_CACHE`` or ``~/.cache/tokgen``."""
    return Path(os.environ.get("TOKGEN_CACHE", Path.home() / ".cache" / "tokgen"))


def offline() -> bool:
    """True when ``TOKGEN_OFFLINE`` or ``HF_HUB_OFFLINE`` is set to a true value."""
    return any(
        os.environ.get(var, "").lower() in {"1", "true", "yes"}
        for var in ("TOKGEN_OFFLINE", "HF_HUB_OFFLINE")
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, *, sha256: str | None, what: str) -> Path:
    """Fetch ``url`` to ``dest`` unless it is already there, checking its SHA-256.

    ``sha256`` may be a full digest or a prefix of one (EnCodec publishes 8-digit
    prefixes in its file names). A file already at ``dest`` is verified, not re-fetched.
    Offline, unreachable or mismatching downloads raise :class:`DownloadError` within
    about :data:`DOWNLOAD_TIMEOUT_S` seconds, saying how to place the file by hand.
    """
    manual = (
        f"To install it by hand, fetch {url} on a machine with network access and copy it "
        f"to {dest}" + (f" (its SHA-256 starts with {sha256})" if sha256 else "") + "."
    )
    if dest.is_file():
        _check_hash(dest, sha256, what, manual)
        return dest
    if offline():
        raise DownloadError(f"{what} is not in the cache and downloads are disabled. {manual}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            _stream_to(response, tmp, what)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {what} from {url} ({err}; gave up after "
            f"{time.monotonic() - start:.1f} s). {manual}"
        ) from err
    _check_hash(tmp, sha256, what, manual)
    os.replace(tmp, dest)
    return dest


def _stream_to(response: Any, tmp: Path, what: str) -> None:
    from tqdm.auto import tqdm

    total = int(response.headers.get("Content-Length") or 0) or None
    with tmp.open("wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=what) as bar:
        for block in iter(lambda: response.read(1 << 20), b""):
            out.write(block)
            bar.update(len(block))


def _check_hash(path: Path, sha256: str | None, what: str, manual: str) -> None:
    if sha256 is None:
        return
    actual = sha256_file(path)
    if not actual.startswith(sha256):
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"{what}: {path.name} has SHA-256 {actual}, expected {sha256}...; the file was "
            f"removed. {manual}"
        )


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    os.replace(tmp, path)
