"""Model artifacts: plain arrays under a JSON header, mapped read-only so a machine's workers share them.

Layout of an artifacts directory::

    <corpus>/<model>.npz                 a name model: its automaton's arrays, length tables, corpus names
    <corpus>/reservoir/<model>.npz       its believable tier: names best first, P(real), log P
    <corpus>/ranking/<model>.npz         the tier's ranking columns (judge, nats/char under each model),
                                         computed once at training (models.ranking.PoolFeatures)
    <corpus>/believability/<model>.joblib  the tier's adversarial judge (training only)
    judge.joblib  language.joblib  reranker.joblib   scikit-learn models

An ``.npz`` is numpy's zip of ``.npy`` members, stored uncompressed with each array's data aligned to
64 bytes, plus a ``header.json`` member: the header below and where each array's data lies. ``np.load``
reads it like any ``.npz``; ``open_arrays`` maps the file once and hands out every member as a
read-only array over that one mapping: nothing but the header is read at load, pages come in as they
are touched, and every process of a machine shares the page cache's one copy. A ``.joblib`` is an uncompressed joblib dump of ``{"header", "estimator"}``, loaded with
``mmap_mode="r"``: the arrays inside are mapped the same way (the estimators keep their learned state
in arrays for that reason, not in dicts of Python objects).

The header records the format version, the training data hash, parameters and held-out metrics, so a
deploy is auditable; loading refuses another format version instead of misreading it. No pickle in an
``.npz``. Every artifact is written to a temporary file beside it and renamed over the old one: a
reader never sees half of one, and a process that mapped the old file keeps it until it lets go.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import mmap
import os
import secrets
import struct
import zipfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from core.errors import ArtifactVersionMismatch, ModelNotTrained
from models.catalog import make_lm
from models.name_model import NameModel

FORMAT = 4  # 4: one mapped file per artifact, names as packed strings, ranking columns stored
HEADER = "header.json"
ALIGN = 64  # bytes; an .npy header is padded to this too, so a member's array data starts aligned
_PAD = 0xD935  # the zip extra field id that zipalign uses for padding
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip local file header, up to the name


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

    def header(self) -> dict:
        return self.model_dump() | {"version": self.version}


# -- files ----------------------------------------------------------------------------------------------
@contextmanager
def replacing(path: Path):
    """A temporary path beside ``path``, renamed over it once the block wrote it without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_arrays(path: Path, header: dict, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as aligned ``.npy`` members, then ``header`` as ``header.json`` with where each array's
    data lies (``arrays``: dtype, shape, order, offset), written atomically."""
    layout = {}
    with replacing(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, value in arrays.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError(f"{name}: object arrays cannot be mapped")
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            data_at = zf.fp.tell() + _LOCAL_HEADER.size + len(member.filename.encode())
            member.extra = _padding(data_at)
            npy = np.lib.format.header_data_from_array_1_0(array)
            npy_header = io.BytesIO()
            np.lib.format.write_array_header_1_0(npy_header, npy)  # what write_array writes first
            with zf.open(member, "w") as out:
                np.lib.format.write_array(out, array, allow_pickle=False)
            if member.file_size != len(npy_header.getvalue()) + array.nbytes:
                raise ValueError(f"{name}: an .npy header of an unexpected length")
            at = data_at + len(member.extra) + len(npy_header.getvalue())
            layout[name] = {
                "dtype": npy["descr"],
                "shape": list(array.shape),
                "fortran": npy["fortran_order"],
                "at": at,
            }
        zf.writestr(HEADER, json.dumps(header | {"arrays": layout}, indent=1, sort_keys=True))


def _padding(data_at: int) -> bytes:
    """A zip extra field that moves a member's data from ``data_at`` to the next ALIGN boundary."""
    fill = (-(data_at + 4)) % ALIGN
    return struct.pack("<HH", _PAD, fill) + bytes(fill)


def open_arrays(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, read-only arrays over one mapping of the file); nothing read but the header."""
    if not path.exists():
        raise ModelNotTrained(str(path))
    with open(path, "rb") as f:
        try:
            with zipfile.ZipFile(f) as zf:
                if HEADER not in zf.namelist():
                    return _legacy_header(zf), {}
                header = json.loads(zf.read(HEADER))
        except zipfile.BadZipFile as err:
            raise ArtifactVersionMismatch(
                f"{path} is not an artifact this code reads ({err}): run `tnaas train --force`."
            ) from err
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # the very file the header was read from
    return header, {name: _mapped(mapped, where) for name, where in header.get("arrays", {}).items()}


def _mapped(mapped: mmap.mmap, where: dict) -> np.ndarray:
    """One stored array as an array over the file's mapping (no copy)."""
    dtype = np.lib.format.descr_to_dtype(where["dtype"])
    if dtype.hasobject:
        raise ArtifactVersionMismatch("an artifact's array holds Python objects, which are never loaded")
    order = "F" if where["fortran"] else "C"
    return np.ndarray(tuple(where["shape"]), dtype, buffer=mapped, offset=where["at"], order=order)


def _legacy_header(zf: zipfile.ZipFile) -> dict:
    """The header of an artifact from before FORMAT 4 (a 0-d string array), to say which format it is."""
    with zf.open("header.npy") as f:
        return json.loads(str(np.lib.format.read_array(f, allow_pickle=False)))


def read_header(path: Path) -> dict:
    return open_arrays(path)[0]


def check(header: dict, path: Path) -> ArtifactInfo:
    """The header's info, or ArtifactVersionMismatch when another format wrote it."""
    if header.get("format") != FORMAT:
        raise ArtifactVersionMismatch(
            f"{path} has format {header.get('format')}, this code reads {FORMAT}: run `tnaas train --force`."
        )
    return ArtifactInfo.model_validate(header)


def open_checked(path: Path) -> tuple[ArtifactInfo, dict[str, np.ndarray]]:
    header, arrays = open_arrays(path)
    return check(header, path), arrays


def stamp(path: Path) -> tuple[int, int] | None:
    """(size, modification time) of an artifact; None when it is not there. A rewrite changes it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


# -- name models ------------------------------------------------------------------------------------------
def save(model: NameModel, info: ArtifactInfo, path: Path) -> None:
    """The model's own arrays (each model kind says what it keeps) under a JSON header."""
    save_arrays(path, info.header(), model.to_arrays())


def read_info(path: Path) -> ArtifactInfo:
    return check(read_header(path), path)


def load(path: Path) -> tuple[NameModel, ArtifactInfo]:
    info, arrays = open_checked(path)
    return NameModel.from_arrays(make_lm(info.model), info.corpus, arrays), info


# -- scikit-learn models ---------------------------------------------------------------------------------
def save_estimator(estimator, info: ArtifactInfo, path: Path) -> None:
    """scikit-learn models are persisted the scikit-learn way (joblib, uncompressed so that loading maps
    their arrays), with the same JSON header."""
    import joblib
    import sklearn

    header = info.header() | {"sklearn": sklearn.__version__}
    with replacing(path) as tmp:
        joblib.dump({"header": header, "estimator": estimator}, tmp)
    write_header(path, header)


def write_header(path: Path, header: dict) -> None:
    """The estimator's header beside it, stamped with the file it was written for."""
    with replacing(header_path(path)) as tmp:
        tmp.write_text(json.dumps(header | {"stamp": stamp(path)}), encoding="utf-8")


def header_path(path: Path) -> Path:
    """Where an estimator's header is also written, beside it (``judge.joblib``: ``judge.header.json``)."""
    return path.with_suffix(".header.json")


def read_estimator_info(path: Path) -> ArtifactInfo:
    """A saved estimator's info without loading it (nor importing scikit-learn): from the header beside it
    when that was written for this very file, else from the file (which refuses another scikit-learn's)."""
    header = _header_beside(path)
    return check(header, path) if header is not None else load_estimator(path)[1]


def ensure_header(path: Path) -> ArtifactInfo:
    """``read_estimator_info``, writing the header beside the estimator if it lacks one (saved by an older
    release): training does this for what it finds up to date, so readers need not load it."""
    header = _header_beside(path)
    if header is not None:
        return check(header, path)
    import sklearn

    info = load_estimator(path)[1]
    write_header(path, info.header() | {"sklearn": sklearn.__version__})
    return info


def _header_beside(path: Path) -> dict | None:
    """The header beside the estimator at ``path`` if it was written for this very file (same size and
    modification time) by this scikit-learn."""
    try:
        header = json.loads(header_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if header.get("stamp") is None or tuple(header["stamp"]) != stamp(path):
        return None
    return header if header.get("sklearn") == importlib.metadata.version("scikit-learn") else None


def load_estimator(path: Path):
    """(estimator, info), its arrays mapped read-only; refuses another format or scikit-learn version."""
    import joblib
    import sklearn

    if not path.exists():
        raise ModelNotTrained(str(path))
    try:
        saved = joblib.load(path, mmap_mode="r")
    except (AttributeError, ImportError) as err:  # a class this release moved or no longer has
        raise ArtifactVersionMismatch(
            f"{path} was saved by another release of tnaas ({err}): run `tnaas train --force`."
        ) from err
    info = check(saved["header"], path)
    if saved["header"].get("sklearn") != sklearn.__version__:
        raise ArtifactVersionMismatch(
            f"{path} was saved by scikit-learn {saved['header'].get('sklearn')}, this is {sklearn.__version__}: "
            "run `tnaas train --force`."
        )
    return saved["estimator"], info
