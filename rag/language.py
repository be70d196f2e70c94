"""Everything that depends on the language, in one place: the character classes, the keyword tokens, the
question's language (decided once, in `Question.of`), the one entry to jieba, and every string said back to
the user in Chinese or English. Ingest keeps its own two classes (`ingest.chunking`, `ingest.loaders.pdftext`)
because it sits below `rag` and cannot import it; they serve layout and token estimates, not these rules.

Keyword tokens for the BM25 index are jieba words for Chinese, lower-cased word tokens for everything else. The
store's FTS5 table is told to split only on spaces (see `rag.store.store`), so the tokens made here are the
tokens BM25 scores: no second tokenizer re-splits "温度参数" or "top-p" behind our back.

Trade-offs:
- Chinese runs go through `jieba.lcut_for_search`, which emits a long word *and* its sub-words
  ("中华人民共和国" also gives "中华", "共和国"). That costs index size but lets a short query word hit a long
  document word, and it makes the result less sensitive to jieba segmenting a run differently in a query than
  in a document. The same function tokenizes documents and queries, so both sides agree.
- Compound tokens such as "top-p", "q4_k_m", "qwen2.5-1.5b" are kept whole and also split into their parts,
  so "top-p" matches exactly while "coder" still finds "qwen2.5-coder". Parts raise the score of compounds a
  little; BM25's saturation keeps that modest.
- Text is NFKC-normalised first, so full-width "ＱＷＥＮ２" from Chinese documents equals "qwen2".
- Stop words are a short fixed list: question words matter most, because queries are questions while
  documents are statements. A longer list would start to drop real content words.
- Japanese kana and Korean are treated like spaced scripts; a run without spaces becomes one token. Fine
  for the Chinese/English corpora this is built for, weak for Japanese.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

# CJK Unified Ideographs with extension A, compatibility ideographs, and extensions B onward.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RUN = re.compile(f"[{_HAN}]+")
# Letters or digits, optionally joined by single '-', '_' or '.': "top-p", "q4_k_m", "1.5b", "x86_64".
# `[^\W_]` is "a word character but not the underscore", i.e. a letter or digit in any script.
_WORD = re.compile(r"[^\W_]+(?:[-_.][^\W_]+)*")
_PART = re.compile(r"[-_.]")

STOPWORDS = frozenset(
    # Chinese function words and question words.
    "的 了 是 在 和 与 及 或 而 之 其 把 被 对 为 以 就 都 也 还 又 着 过 吗 呢 吧 啊 呀 么 "
    "什么 如何 怎么 怎样 为什么 哪些 哪个 哪里 多少 是否 请问 请 这 那 这个 那个 这些 那些 一个 "
    "我 你 他 她 它 我们 你们 他们 有 没有 可以 能 会 要 "
    # English.
    "a an the of to in on at by for from with as into about and or but not no nor so if then than "
    "is are was were be been being am do does did done have has had can could should would will shall may "
    "might must it its this that these those there here what which who whom whose how why when where "
    "i me my we our you your he him his she her they them their please tell".split()
)

_jieba: Any = None
_jieba_lock = threading.Lock()


def _segmenter() -> Any:
    """Import and initialise jieba on first use: it takes about a second and logs to stderr by default."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)  # silence "Building prefix dict..." and the cache messages
            jieba.initialize()
            _jieba = jieba
    return _jieba


def _word_tokens(text: str) -> list[str]:
    out: list[str] = []
    for word in _WORD.findall(text):
        out.append(word)
        if _PART.search(word):
            out.extend(part for part in _PART.split(word) if part)
    return out


def _han_tokens(run: str) -> list[str]:
    if len(run) == 1:  # a single character needs no dictionary, and this skips loading jieba for it
        return [run]
    return [t for t in _segmenter().lcut_for_search(run) if t.strip()]


def tokenize(text: str) -> list[str]:
    """Tokens to index for one chunk, in text order, with repeats (BM25 counts term frequency)."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    pos = 0
    for match in _HAN_RUN.finditer(text):
        tokens.extend(_word_tokens(text[pos:match.start()]))
        tokens.extend(_han_tokens(match.group()))
        pos = match.end()
    tokens.extend(_word_tokens(text[pos:]))
    return [t for t in tokens if t not in STOPWORDS]


def query_tokens(text: str) -> list[str]:
    """Tokens of a user's question: the same rules as `tokenize`, each token once, in order of appearance."""
    return list(dict.fromkeys(tokenize(text)))


# -- the question's language ---------------------------------------------------------------------------
# Three character classes, each for its own job (they differ on purpose, and each is written only here):
# `HAN` (above) finds the runs jieba segments, extensions B onward included; `IDEOGRAPH` is a Chinese
# character, for the language of a question and whether a word is Chinese; `CJK_BLOCK` is any character of
# the CJK blocks from the radicals on (punctuation and kana too), one token each in the citation checks.
IDEOGRAPH = re.compile(r"[\u3400-\u9fff]")
CJK_BLOCK = "\u2e80-\u9fff\uf900-\ufaff"
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9._+-]*[A-Za-z0-9]")  # "GPT-4", "Q4_K_M", "the"


def cjk_share(text: str) -> float:
    """Share of a question written in CJK, counting a Latin word as about two characters' worth."""
    cjk = len(IDEOGRAPH.findall(text))
    latin_words = len(LATIN_WORD.findall(text))
    return cjk / (cjk + 2 * latin_words) if cjk or latin_words else 0.0


def asks_in_chinese(question: str) -> bool:
    """The one rule for the language of everything said back: the reminder in the prompt, a refusal, a quote's
    label, and whether the gate reads the question as Chinese. "What is 温度?" is an English question that
    names a Chinese term; "Q4_K_M 是什么？" is a Chinese one."""
    return cjk_share(question) >= 0.5


@dataclass(frozen=True)
class Question:
    """A question as every stage reads it: its text, its language (decided once, here) and its keyword tokens."""

    text: str
    chinese: bool
    tokens: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> "Question":
        return cls(text, asks_in_chinese(text), tuple(query_tokens(text)))


# -- jieba's dictionary and tagger ------------------------------------------------------------------------
def tagged_words(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs from jieba's tagger: "nr" a person, "ns" a place, "n" a noun…"""
    _segmenter()
    import jieba.posseg

    return [(w.word, w.flag) for w in jieba.posseg.cut(text)]


def word_count(word: str) -> int:
    """How often jieba's general dictionary has seen the word (0 when it does not know it)."""
    return _segmenter().get_FREQ(word) or 0


# -- what is said back, in the question's language -----------------------------------------------------------
REFUSAL_ZH = "资料中没有相关信息。"
REFUSAL_EN = "The documents do not contain this information."
UNGROUNDED_ZH = "（模型的草稿答案没有得到任何检索段落的支持，因此不予采用。）"
UNGROUNDED_EN = "(The model's draft answer was not supported by any retrieved passage, so it is not shown.)"
QUOTE_ZH = "资料原文："
QUOTE_EN = "From the documents: "
REMINDER_ZH = "（回答时在每句话末尾用 [编号] 注明依据的资料。）"
REMINDER_EN = "(After each sentence, cite the passage it comes from as [n].)"


def refusal_text(question: Question, unknown: list[str] | None = None, *, ungrounded: bool = False) -> str:
    """The refusal shown to the user: naming the terms the KB never mentions, or saying that the model's
    draft was dropped because no passage backs it."""
    if question.chinese:
        text = REFUSAL_ZH + (f"（知识库中没有出现：{'、'.join(unknown)}）" if unknown else "")
        return f"{text}\n{UNGROUNDED_ZH}" if ungrounded else text
    text = REFUSAL_EN + (f" (Not mentioned anywhere: {', '.join(unknown)}.)" if unknown else "")
    return f"{text}\n{UNGROUNDED_EN}" if ungrounded else text


def quote_label(question: Question) -> str:
    return QUOTE_ZH if question.chinese else QUOTE_EN


def reminder(question: Question) -> str:
    return REMINDER_ZH if question.chinese else REMINDER_EN
