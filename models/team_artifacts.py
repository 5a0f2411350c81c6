"""A team corpus' two artifacts as bytes, the form they are kept in where every worker reaches them.

The same ``.npz`` formats as on disk (``models.artifact``, ``models.believability.Reservoir``): training
turns them into bytes, a worker writes the bytes to a folder of its own and maps them like any other
artifact. Apart from training (``models.team_corpus``) because serving needs none of its libraries.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from models import artifact
from models.artifact import ArtifactInfo
from models.believability import Reservoir
from models.name_model import NameModel

MODEL_FILE, RESERVOIR_FILE = "model.npz", "reservoir.npz"


def to_bytes(model: NameModel, info: ArtifactInfo, reservoir: Reservoir) -> tuple[bytes, bytes]:
    """The two artifacts as their files' bytes (written by ``models.artifact``, so loaded like any other)."""
    with tempfile.TemporaryDirectory(prefix="tnaas-team-") as tmp:
        model_path, reservoir_path = Path(tmp) / MODEL_FILE, Path(tmp) / RESERVOIR_FILE
        artifact.save(model, info, model_path)
        reservoir.save(reservoir_path)
        return model_path.read_bytes(), reservoir_path.read_bytes()


def write_and_load(
    folder: Path, model_bytes: bytes, reservoir_bytes: bytes
) -> tuple[NameModel, ArtifactInfo, Reservoir]:
    """Write a team corpus' artifacts into ``folder`` (each whole, then renamed) and map them read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in ((MODEL_FILE, model_bytes), (RESERVOIR_FILE, reservoir_bytes)):
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / name)
    return load(folder)


def load(folder: Path) -> tuple[NameModel, ArtifactInfo, Reservoir]:
    """A team corpus written to ``folder`` (mapped, read-only)."""
    model, info = artifact.load(folder / MODEL_FILE)
    return model, info, Reservoir.load(folder / RESERVOIR_FILE)
