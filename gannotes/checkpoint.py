"""Atomic files and safe checkpoints.

Every file gannotes writes goes to a temporary name in the same directory first and is then
renamed over the target (``os.replace`` is atomic on POSIX and Windows), so a crash leaves either
the old file or the new one, never half of one. Checkpoints are loaded with
``torch.load(..., weights_only=True)``: tensors, numbers, strings and containers only, so a file
that carries code is refused and its code never runs.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .links import REPO_URL
from .paths import shipped_checkpoint, shipped_checkpoints

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "CheckpointError",
    "GannotesError",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "export_weights",
    "find_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "upgrade_v1",
]

CHECKPOINT_FORMAT = "gannotes-checkpoint"
# Version 2 holds a GAN family's networks, optimizers and state by name; version 1 (before the
# engine redesign) held G, D, G_ema, opt_g and opt_d of the classic family: it is upgraded on load.
CHECKPOINT_VERSION = 2
CHECKPOINT_VERSIONS = (1, 2)
CHECKPOINT_NAME = "checkpoint.pt"


class GannotesError(Exception):
    """An error whose message is meant for the learner: one line, what went wrong, what is valid."""


class CheckpointError(GannotesError):
    """A checkpoint is missing, corrupt, foreign, or carries code."""


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], None], suffix: str = ".tmp"
) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it over ``path``.

    Readers, and a run that crashes half way, never see a truncated file: the old file is
    replaced only once the new one is complete, and the temporary file is removed on failure.
    ``suffix`` lets writers that choose a format by file name (GIF, PNG) see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Save ``state`` (tensors, numbers, strings, containers) atomically, tagged as ours."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


EXPORTED_KEYS = ("family", "config", "model_config", "networks", "family_state", "step", "elapsed")


def export_weights(state: dict[str, Any]) -> dict[str, Any]:
    """The part of a checkpoint's state that samples and translates: the family, its config and
    networks (and its own state), the step and training time; no optimizers, random states,
    snapshots or history. A few MB where a checkpoint is many more: what the course ships.
    Marked ``exported``: it loads with :func:`gannotes.training.load_family`, not to resume."""
    return {**{k: state[k] for k in EXPORTED_KEYS if k in state}, "exported": True}


def find_checkpoint(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file, ``path/checkpoint.pt`` if it is a run directory, else
    the shipped checkpoint of that name (``dcgan`` or ``dcgan.pt``: ``data/checkpoints/``)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
        if not path.is_file():
            raise CheckpointError(f"no {CHECKPOINT_NAME} in run directory {path.parent}")
    elif not path.exists():
        shipped = shipped_checkpoint(str(path))
        if shipped is not None:
            return shipped
        names = ", ".join(shipped_checkpoints()) or f"none here; see data/checkpoints of {REPO_URL}"
        raise CheckpointError(
            f"checkpoint not found: {path} (give a run directory, a .pt file or the name of "
            f"a shipped checkpoint: {names})"
        )
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a gannotes checkpoint safely (``weights_only=True``) and check that it is one."""
    path = find_checkpoint(path)
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # "Unsupported global: GLOBAL module.name"
            raise CheckpointError(
                f"refused {path}: it holds Python objects or code that a safe load "
                "(weights_only=True) does not run; only gannotes checkpoints are accepted"
            ) from None
        raise CheckpointError(f"{path} is corrupt or not a checkpoint (not a torch file)") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({reason[:120]})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a gannotes checkpoint (it was not written by `gannotes train`)"
        )
    if state.get("version") not in CHECKPOINT_VERSIONS:
        raise CheckpointError(
            f"{path} has checkpoint version {state.get('version')!r}; this gannotes reads "
            f"versions {', '.join(map(str, CHECKPOINT_VERSIONS))}"
        )
    if state["version"] == 1:
        state = upgrade_v1(state)
    return state


def upgrade_v1(state: dict[str, Any]) -> dict[str, Any]:
    """A version-1 checkpoint (classic family only: G, D, G_ema, opt_g, opt_d, fixed_z) in the
    layout of version 2, so that runs trained before the engine redesign load and resume.

    The config's ``g_loss`` became ``loss``; the EMA's update count, which version 1 derived
    from the step, is stored: one update per step after D's pre-training.
    """
    config = dict(state["config"])
    if "g_loss" in config:
        config["loss"] = config.pop("g_loss")
    networks = {"G": state["G"], "D": state["D"]}
    if state.get("G_ema") is not None:
        networks["G_ema"] = state["G_ema"]
    step = int(state["step"])
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "upgraded_from": 1,
        "family": "classic",
        "config": config,
        "model_config": state.get("model_config", {}),
        "networks": networks,
        "optimizers": {"G": state["opt_g"], "D": state["opt_d"]},
        "scaler": {},
        "family_state": {},
        "step": step,
        "elapsed": state["elapsed"],
        "ema_updates": max(0, step - int(config.get("d_pretrain_steps", 0))),
        "rng": state["rng"],
        "data": state["data"],
        "fixed": state["fixed_z"],
        "history": state["history"],
        "snapshots": state["snapshots"],
        "snapshot_steps": state["snapshot_steps"],
        "snapshot_every": state["snapshot_every"],
    }


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=1) + "\n")
