"""Does the knowledge base know what the question is about?

Dense similarity cannot tell "not in the documents" from "in the documents"; the subject can. So the question's
names (Latin-script terms such as "GPT-4", and jieba's proper nouns that its dictionary knows) are looked up in
the keyword index: a name with no match means the KB cannot answer, and we say so without calling the LLM,
naming the missing term. A name found verbatim in the retrieved passages is known, whatever jieba's tokens say.
Without a missing name, two or more missing content words (Chinese nouns and verbs), when they are at least a
third of the question's, also mean the KB does not cover it, unless the question uses a word specific to the KB
(`SUBJECT_SHARE`): then the missing words are the asker's paraphrase. Question words and the language's
commonest words never count as missing; questions written mostly in a Latin script are checked only for their
acronyms, CamelCase and digit-bearing terms, since ordinary English words need not occur in Chinese documents.

Measurements: BENCHMARKS.md §7, Unknown-subject gate.
"""

from __future__ import annotations

import re
from typing import Protocol

from rag.language import IDEOGRAPH, LATIN_WORD, Question, query_tokens, tagged_words, word_count
from rag.types import Hit

# A Latin word shaped like a name: an acronym, CamelCase or a digit inside ("DPO", "MinerU", "GPT-4").
NAME_SHAPE = re.compile(r"[A-Z].*[A-Z]|[a-z][A-Z]|[0-9]")
_COMPOUND = re.compile(r"[-_.]")
_PROPER_NOUN = {"nr", "ns", "nt", "nz"}
QUESTION_WORDS = frozenset("多长 多久 多大 多高 多远 多宽 多深 多重 多快 多厚 多粗 多少 多么 几个 几种 几次 几年".split())
EVERYDAY_FREQ = 10_000  # jieba dictionary count from which a word is everyday ("人员", "出来"), not a subject
# A proper noun jieba's dictionary does not know (or knows as a stray fragment) is a segmentation guess, not a
# name: 塞进, 上乙二醛, 初华堡 (counts in BENCHMARKS.md §7, Unknown-subject gate).
MIN_NAME_COUNT = 10
SUBJECT_SHARE = 0.1  # a KB word in at most this share of the chunks is specific: the question is on its subject


class Vocabulary(Protocol):
    """What the gate asks of the knowledge base's keyword index (`rag.store.store.Store` answers it)."""

    def keyword_search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]: ...

    def starts_compound(self, token: str) -> bool: ...

    def chunk_counts(self, tokens: list[str]) -> dict[str, int]: ...

    def chunk_count(self) -> int: ...


def gate(question: Question, hits: list[Hit], floor: float, index: Vocabulary) -> tuple[list[Hit], list[str]]:
    """The hits that clear the relevance floor, and the question's terms the KB never mentions. The answer is
    refused before the model runs when there are no such hits or there are such terms (`rag.answer.refusal`)."""
    usable = relevant(hits, floor)
    unknown = unknown_names(question, index, "\n".join(h.text for h in hits)) if usable else []
    return usable, unknown


def relevant(hits: list[Hit], floor: float) -> list[Hit]:
    """The hits whose cosine to the question clears the floor; when none does, the KB has nothing to say."""
    return [h for h in hits if h.dense is not None and h.dense >= floor]


def mentions(index: Vocabulary, tokens: list[str]) -> bool:
    """Whether the KB holds any of the tokens. A compound term may be asked for by its head: "Phi-3-mini"
    when the documents say "Phi-3-mini-128k"."""
    return bool(index.keyword_search(tokens, 1)
                or any(index.starts_compound(t) for t in tokens if _COMPOUND.search(t)))


def shares(index: Vocabulary, tokens: list[str]) -> dict[str, float]:
    """Each token's share of the chunks that hold it (absent tokens are left out)."""
    total = index.chunk_count()
    return {t: n / total for t, n in index.chunk_counts(tokens).items()} if total else {}


def names_in(question: Question) -> list[str]:
    if not question.chinese:
        # In an English question only acronyms, CamelCase and digit-bearing terms are names ("DPO", "GPT-4");
        # ordinary English words need not occur in documents written in Chinese.
        return list(dict.fromkeys(m.group(0) for m in LATIN_WORD.finditer(question.text)
                                  if NAME_SHAPE.search(m.group(0))))
    names = [m.group(0) for m in LATIN_WORD.finditer(question.text)]
    names += [word for word, flag in tagged_words(question.text) if flag in _PROPER_NOUN and len(word) >= 2
              and IDEOGRAPH.search(word) and word_count(word) >= MIN_NAME_COUNT]
    return list(dict.fromkeys(names))


def _lookup_tokens(name: str) -> list[str]:
    tokens = query_tokens(name)  # empty for stopwords ("of", "the"), which say nothing about the subject
    # A Latin term must occur whole: "GPT-4" is not known because "GPT-2" and "4" are.
    if tokens and LATIN_WORD.fullmatch(name):
        whole = name.lower()
        return [whole, whole[:-1]] if whole.endswith("s") and len(whole) > 3 else [whole]  # "LLMs" → "llm"
    return tokens


def content_words(question: Question) -> list[str]:
    """Chinese nouns and verbs of two or more characters; empty for questions written mostly in Latin script."""
    if not question.chinese:
        return []
    return list(dict.fromkeys(word for word, flag in tagged_words(question.text)
                              if flag[:1] in {"n", "v"} and len(word) >= 2 and IDEOGRAPH.search(word)))


def _everyday(word: str) -> bool:
    """A question word ("多长") or among the most frequent words of jieba's general dictionary ("人员", "出来",
    "应该", "情况"): such a word names no subject, so its absence from the KB says nothing about whether the KB
    covers the question."""
    return word in QUESTION_WORDS or word_count(word) >= EVERYDAY_FREQ


def _on_a_kb_subject(question: Question, index: Vocabulary) -> bool:
    """Whether the question uses a word the KB has specifically (in a tenth of its chunks or fewer): 幻觉,
    repeat_penalty, Q5_K_M. Then the words it misses are the asker's paraphrase ("分成哪两种类型")."""
    words = [t for t in question.tokens if len(t) >= 2 and not (IDEOGRAPH.search(t) and _everyday(t))]
    share = shares(index, words) if words else {}
    return any(0 < share.get(w, 0.0) <= SUBJECT_SHARE for w in words)


def unknown_names(question: Question, index: Vocabulary, retrieved: str = "") -> list[str]:
    """Names in the question that the KB never mentions, or else its content words when two or more of them
    occur nowhere and the question uses no word specific to the KB. A word found verbatim in `retrieved` (the
    text of the passages retrieved for the question) is known without asking the index."""
    seen = retrieved.casefold()

    def in_retrieved(word: str) -> bool:
        # A Latin name must stand alone: "GPT-4" is not seen in "GPT-4o".
        return bool(re.search(rf"(?<![a-z0-9]){re.escape(word.casefold())}(?![a-z0-9])", seen))

    def missing(words: list[str]) -> list[str]:
        return [w for w in words
                if (tokens := _lookup_tokens(w)) and not in_retrieved(w) and not mentions(index, tokens)]

    names = missing(names_in(question))
    if names:
        return names
    words = content_words(question)
    absent = [w for w in missing(words) if not _everyday(w)]
    if len(absent) < 2 or len(absent) * 3 < len(words):
        return []
    return [] if _on_a_kb_subject(question, index) else absent
