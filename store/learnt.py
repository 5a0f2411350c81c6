"""What a stack learns while it runs (the reranker, from its votes), kept in Redis beside the votes it
was learnt from, so that a worker or web process started on any machine, with only the image, holds the
same file as the others. Each machine keeps a copy in its ``TNAAS_DATA_DIR/learnt`` (models are mapped
from files); the copy gets the size and modification time of the one kept, so the model version every
process computes from its files (``core.artifacts.fingerprint``) is the same on every machine."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from redis import Redis

from core.artifacts import LEARNT
from core.limits import LEARNT_MAX_BYTES

log = logging.getLogger(__name__)


class LearntModels:
    KEY = "tnaas:learnt:{name}"  # hash: the file's bytes, its modification time (ns), its sha256

    def __init__(self, connection: Redis):
        self.redis = connection

    def keep(self, path: Path) -> bool:
        """Keep the file just learnt (replacing the one kept); False when it is too large to share."""
        path = Path(path)
        data = path.read_bytes()
        if len(data) > LEARNT_MAX_BYTES:
            log.warning("%s is %d bytes, above %d: not shared with other machines", path, len(data), LEARNT_MAX_BYTES)
            return False
        fields = {"file": data, "mtime_ns": path.stat().st_mtime_ns, "sha256": hashlib.sha256(data).hexdigest()}
        self.redis.hset(self.KEY.format(name=path.name), mapping=fields)
        return True

    def fetch(self, path: Path) -> bool:
        """Write the kept file to ``path`` unless the same one is there already; True when written."""
        path = Path(path)
        kept = self.redis.hmget(self.KEY.format(name=path.name), "mtime_ns", "sha256")
        if kept[0] is None:
            return False
        mtime_ns, sha = int(kept[0]), kept[1].decode()
        if path.is_file() and path.stat().st_mtime_ns == mtime_ns and _sha256(path) == sha:
            return False
        data = self.redis.hget(self.KEY.format(name=path.name), "file")
        if data is None or hashlib.sha256(data).hexdigest() != sha:  # replaced meanwhile: the next look takes it
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{os.getpid()}")
        part.write_bytes(data)
        os.utime(part, ns=(mtime_ns, mtime_ns))
        os.replace(part, path)  # a process that mapped the old file keeps reading it
        return True

    def share(self, learnt_dir: Path) -> None:
        """Before a process computes its model version: take what the stack learnt from Redis; a file only
        this machine has (learnt before the stack kept them in Redis) is kept there for the others."""
        for name in LEARNT:
            path = Path(learnt_dir) / name
            try:
                if not self.fetch(path) and path.is_file() and not self.redis.exists(self.KEY.format(name=name)):
                    self.keep(path)
            except OSError as err:  # a data directory this process cannot write: it serves what it has
                log.warning("%s not taken from Redis: %s", path, err)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
