"""The FAISS side of the store: an inner-product index keyed by chunk id, and its file on disk.

Trade-offs:
- Below `KBConfig.ann_min_chunks` (default 200k) the index is `IndexIDMap2(IndexFlatIP)`: exact search, no
  training step, ~9 ms a query at 100k chunks of dim 384. Flat search grows linearly: ~80 ms and 1.5 GB of
  RAM at 1M (`bench.search`). From the threshold on, the store rebuilds it as IVF with 8-bit scalar
  quantisation (as txtai's `ann/dense/faiss.py` switches by size): under 1 ms and a quarter of the memory
  at 1M, for recall@10 of ~0.98 against exact search on the benchmark's vectors. The cosines it returns
  are approximate to ~0.01, far finer than the relevance floor needs.
- IVF centroids are trained once, when the index is built; later adds go to the nearest existing list. The
  store rebuilds (and retrains) whenever it rebuilds from SQLite, and on crossing the threshold either way;
  the way back to flat waits until half the threshold, so a KB near the line does not flip on every write.
- `remove_ids` on a flat index compacts the array, O(n) per call, so removals are batched per document.
- The file is a cache of the vectors kept in SQLite. `index.meta.json` next to it records the SQLite
  generation the file reflects and how many vectors it holds, so a stale, partial or foreign file is
  detected and the store can bring it up to date or rebuild it from SQLite. No pickle: FAISS's own binary
  format and a JSON sidecar.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from rag.store.atomic import atomic_write, atomic_write_text

log = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"
META_FILE = "index.meta.json"


@dataclass(frozen=True)
class IndexMeta:
    generation: int  # the SQLite generation whose chunks the index file holds
    count: int  # vectors in the file: a cheap check that the file and the sidecar belong together
    dim: int


NPROBE = 32  # lists searched per query; at 1M, 32 of 4,000 lists cost 0.6 ms and recall as much as 64 did
_POINTS_PER_LIST = 39  # FAISS warns below 39 training points per centroid

Index = faiss.IndexIDMap2 | faiss.IndexIVFScalarQuantizer


def new_index(dim: int) -> faiss.IndexIDMap2:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def is_approximate(index: Index) -> bool:
    return isinstance(index, faiss.IndexIVFScalarQuantizer)


def wants_rebuild(index: Index, ann_min: int) -> bool:
    """True when the index type no longer fits its size (see the trade-offs above)."""
    if is_approximate(index):
        return ann_min <= 0 or index.ntotal < ann_min // 2
    return index.ntotal >= ann_min > 0


def build(dim: int, ids: np.ndarray, matrix: np.ndarray, ann_min: int) -> Index:
    """A new index over these vectors: flat below `ann_min` (0: always flat), else trained IVF-SQ8."""
    n = len(ids)
    if n < ann_min or ann_min <= 0:
        index = new_index(dim)
        add(index, ids, matrix)
        return index
    nlist = max(1, min(int(4 * np.sqrt(n)), n // _POINTS_PER_LIST))
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    # k-means cost grows with points x lists: train on a fixed sample just over FAISS's 39 points per list
    # (about 2.5 minutes at 1M chunks on 2 cores, once), not on everything.
    sample = np.random.default_rng(0).choice(n, min(n, (_POINTS_PER_LIST + 1) * nlist), replace=False)
    index.train(np.ascontiguousarray(matrix[np.sort(sample)], dtype=np.float32))
    index.nprobe = min(NPROBE, nlist)
    add(index, ids, matrix)
    return index


def add(index: Index, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def remove(index: Index, ids: np.ndarray) -> None:
    if len(ids):
        index.remove_ids(np.asarray(ids, dtype=np.int64))


def search(index: Index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    # One query is a single memory-bound pass; OpenMP threads only fight over it. Measured at 100k x 384 on
    # a busy 2-core machine: 51 ms with 2 threads, 9 ms with 1. The setting is per calling thread, so it is
    # made here on every search rather than once.
    faiss.omp_set_num_threads(1)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]


def read_meta(directory: Path) -> IndexMeta | None:
    """The sidecar, or None when it is missing or unreadable (both mean: do not trust index.faiss)."""
    try:
        raw = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        return IndexMeta(generation=int(raw["generation"]), count=int(raw["count"]), dim=int(raw["dim"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable %s: %s", directory / META_FILE, exc)
        return None


def load(directory: Path, meta: IndexMeta, dim: int) -> Index | None:
    """index.faiss if it matches `meta` and `dim`, else None. Never raises for a damaged file."""
    path = directory / INDEX_FILE
    if meta.dim != dim or not path.exists():
        return None
    try:
        index = faiss.read_index(str(path))
    except Exception as exc:  # FAISS raises RuntimeError for truncated or foreign files
        log.warning("cannot read %s: %s", path, exc)
        return None
    if not isinstance(index, (faiss.IndexIDMap2, faiss.IndexIVFScalarQuantizer)) or index.d != dim \
            or index.ntotal != meta.count:
        log.warning("%s does not match %s (type %s, dim %s, %s vectors)", path, META_FILE,
                    type(index).__name__, index.d, index.ntotal)
        return None
    return index


def save(directory: Path, index: Index, generation: int) -> None:
    """Write index.faiss, then the sidecar, each atomically.

    The order matters: a sidecar naming generation g is only ever written after the index file for g is in
    place, so a reader that reads the sidecar first and the index second gets an index at least that new.
    A crash between the two leaves an older sidecar, which the store treats as "apply the changes since".
    """
    atomic_write(directory / INDEX_FILE, lambda tmp: faiss.write_index(index, tmp))
    meta = {"generation": generation, "count": int(index.ntotal), "dim": int(index.d)}
    atomic_write_text(directory / META_FILE, json.dumps(meta) + "\n")
