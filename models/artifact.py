"""Model artifacts: one ``.npz`` per (corpus, model), plain arrays plus a JSON header.

The header records the format version, the training data hash, parameters and held-out metrics, so a
deploy is auditable; loading refuses a different format version instead of misreading it. No pickle.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import sklearn
from pydantic import BaseModel, Field

from core.errors import ArtifactVersionMismatch, ModelNotTrained
from models.catalog import make_lm
from models.name_model import NameModel

FORMAT = 3  # 3: the alphabet is one of the model's arrays


class ArtifactInfo(BaseModel):
    format: int = FORMAT
    corpus: str
    model: str
    corpus_hash: str
    params: dict = Field(default_factory=dict)
    metrics: dict = Field(default_factory=dict)
    trained_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def version(self) -> str:
        """Same data, parameters and format => same version: retraining unchanged input is a no-op."""
        key = json.dumps([self.format, self.corpus, self.model, self.corpus_hash, self.params], sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:12]


def save(model: NameModel, info: ArtifactInfo, path: Path) -> None:
    """The model's own arrays (each model kind says what it keeps) under a JSON header."""
    header = info.model_dump() | {"version": info.version}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, header=np.array(json.dumps(header)), **model.to_arrays())
    tmp.replace(path)  # atomic: a worker never reads a half-written model


def read_info(path: Path) -> ArtifactInfo:
    if not path.exists():
        raise ModelNotTrained(str(path))
    with np.load(path, allow_pickle=False) as data:
        return _check(json.loads(str(data["header"])), path)


def _check(header: dict, path: Path) -> ArtifactInfo:
    if header.get("format") != FORMAT:
        raise ArtifactVersionMismatch(
            f"{path} has format {header.get('format')}, this code reads {FORMAT}: run `tnaas train --force`."
        )
    return ArtifactInfo.model_validate(header)


def load(path: Path) -> tuple[NameModel, ArtifactInfo]:
    if not path.exists():
        raise ModelNotTrained(str(path))
    with np.load(path, allow_pickle=False) as data:
        info = _check(json.loads(str(data["header"])), path)
        model = NameModel.from_arrays(make_lm(info.model), info.corpus, data)
    return model, info


def save_estimator(estimator, info: ArtifactInfo, path: Path) -> None:
    """scikit-learn models are persisted the scikit-learn way (joblib), with the same JSON header."""
    header = info.model_dump() | {"version": info.version, "sklearn": sklearn.__version__}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump({"header": header, "estimator": estimator}, tmp)
    tmp.replace(path)


def load_estimator(path: Path):
    """(estimator, info); refuses pickles from another format or another scikit-learn version."""
    if not path.exists():
        raise ModelNotTrained(str(path))
    saved = joblib.load(path)
    info = _check(saved["header"], path)
    if saved["header"].get("sklearn") != sklearn.__version__:
        raise ArtifactVersionMismatch(
            f"{path} was saved by scikit-learn {saved['header'].get('sklearn')}, this is {sklearn.__version__}: "
            "run `tnaas train --force`."
        )
    return saved["estimator"], info
