"""Citations are built, not hoped for.

The model's [n] markers are parsed and normalised ("[1,2]", "【1】", "[资料1]"), numbers that name no passage
are dropped, and every answer sentence is checked against the passages by character-bigram overlap (no
tokenizer needed for Chinese, exact about numbers): an unsupported citation is replaced or dropped, an uncited
sentence gets the passage that clearly supports it, and an answer no passage supports even weakly (`GROUNDED`)
gets no citation, so the caller refuses rather than show a claim no document backs. Anchors (numbers, Latin
terms such as Q4_K_M) decide before overlap, which is fooled by passages that share wording but differ in the
fact. A draft that only restates the question is replaced by the passage sentence that shares most with the
question, quoted and cited. Across scripts (an English answer over Chinese passages) anchors or the model's own
markers pick the passage, and only a number that no passage or the question holds makes the answer ungrounded.
Each citation carries the passage sentence that best matches what cites it, as the quote to show. A sentence
is dropped when it states a number or a name its passages do not hold (`rag.answer.facts`) or another table
row's cell (`rag.answer.cells`); a cell read from the wrong column or chunk is replaced by the one the question
points at.

Measurements: BENCHMARKS.md §7, Citation checks.
"""

from __future__ import annotations

import math
import re

from ingest.chunking import split_sentences
from rag.answer.cells import borrowed_row, look_up, pointed_cell
from rag.answer.facts import invented_names, invented_numbers, numbers_in, unsupported_numbers
from rag.answer.refusal import declined
from rag.language import CJK_BLOCK, Question, quote_label
from rag.types import Citation, Hit

SUPPORT = 0.45  # share of a sentence's bigrams found in a passage for the passage to support it
GROUNDED = 0.3  # the weaker bar for the answer as a whole, which also carries the model's own wording
WEAK = 0.2  # below this a cited passage is not kept even when no other passage does better
ECHO_SHARE = 0.15  # at most this share of a draft's bigrams are its own, not the question's: an echo
_MARKER = re.compile(r"\s*[\[【［]\s*(?:资料|来源|passage|source|ID:?)?\s*([0-9０-９][0-9０-９,，、\s]*)\s*[\]】］]",
                     re.IGNORECASE)
_CUT_MARKER = re.compile(r"\s*[\[【［][0-9０-９,，、\s]*$")  # "[1" where max_tokens cut a marker run
_PLACEHOLDER = re.compile(r"\s*[\[【]\s*(?:编号|n|N|数字|number)\s*[\]】]")
_TOKEN = re.compile(rf"[0-9]+(?:\.[0-9]+)?|[a-z]+|[{CJK_BLOCK}]", re.IGNORECASE)
_CJK_TOKEN = re.compile(f"[{CJK_BLOCK}]")
# Terms like "Q4_K_M", "all-MiniLM-L6-v2", "k1", "8.5"; plain English words are anchors too, but only the ones
# that some passages have and others lack count (see `_anchor_fit`).
_DANGLING_COMMA = re.compile(r"[，、,]\s*(?=[。！？.!?])")
_TERM = re.compile(r"[A-Z0-9_]")
_ANCHOR = re.compile(r"[0-9]+(?:\.[0-9]+)?(?![0-9])|[a-z][a-z0-9]*(?:[_\-.][a-z0-9]+)*", re.IGNORECASE)


def _bigrams(text: str) -> set[str]:
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    grams = {a + b for a, b in zip(tokens, tokens[1:])}
    return grams | {t for t in tokens if len(t) > 1}


def support(sentence: str, passage: str, echo: frozenset[str] = frozenset()) -> float:
    """Share of the sentence's bigrams found in the passage, or, when higher, the share of those not in `echo`
    (the question's). A small model restates the question ("…温度参数最好控制在 0 到 0.3 之间"), and those words
    are the asker's, not a claim the passage must back; but in a yes/no question ("Mistral 7B 的许可证是
    Apache 2.0 吗？") the echoed words are the claim, so the whole sentence may carry the support too."""
    grams, passage_grams = _bigrams(sentence), _bigrams(passage)
    whole = _share(grams, passage_grams)
    own = _without_echo(grams, echo)
    return whole if own is grams else max(whole, _share(own, passage_grams))


def _share(grams: set[str], passage_grams: set[str]) -> float:
    return len(grams & passage_grams) / len(grams) if grams else 0.0


def _without_echo(grams: set[str], echo: frozenset[str]) -> set[str]:
    """The sentence's own bigrams, not the question's; all of them when fewer than two would be left."""
    own = grams - echo
    return own if len(own) >= 2 else grams


def _numbers(raw: str) -> list[int]:
    digits = raw.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return [int(d) for d in re.findall(r"[0-9]+", digits)]


def _with_markers(sentence: str, numbers: list[int]) -> str:
    """Put markers before the sentence's closing punctuation: '... 米 [1]。'."""
    body = sentence.rstrip()
    tail = sentence[len(body):]
    stripped = body.rstrip("。！？；.!?;：:")
    marks = "".join(f"[{n}]" for n in numbers)
    return f"{stripped} {marks}{body[len(stripped):]}{tail}" if marks else sentence


def attribute(answer: str, passages: list[Hit], question: Question | None = None) -> tuple[str, list[Citation]]:
    """The answer text with checked [n] markers, and its citations in order of first appearance."""
    asked = question.text if question else ""
    echo = frozenset(_bigrams(asked))
    text = _CUT_MARKER.sub("", _PLACEHOLDER.sub("", answer)).strip()
    if not passages or not text or declined(text):
        return _MARKER.sub("", text).strip() if not passages else text, []
    if question and restates_question(text, asked):
        return quote_answer(question, passages)
    anchor_sets = [_anchors(p.text) for p in passages]
    if _cross_lingual(text, passages):
        bare = _MARKER.sub("", text)
        if invented_numbers(bare, passages, asked) or invented_names(bare, passages, asked):
            return text, []
        return _cross_lingual_markers(text, passages, anchor_sets)

    def checked(content: str, cited: list[int]) -> list[int] | None:
        if len(_bigrams(content)) < 2:
            # Markers trailing after the final stop ("…提出的 [2]。 [1]") back no claim of their own; the
            # sentences before them were already checked and cited, so they are dropped.
            return None
        scores = [support(content, p.text, echo) for p in passages]
        fit = _anchor_fit(content, anchor_sets)
        eligible = [i for i in range(len(passages)) if fit[i] >= max(fit) - 1e-9]
        best = max(eligible, key=lambda i: scores[i]) + 1
        kept: list[int] = []
        for n in cited:
            near_best = scores[n - 1] >= max(scores[best - 1] - 0.1, WEAK)
            if n - 1 in eligible and (scores[n - 1] >= SUPPORT or near_best):
                kept.append(n)
        if not kept and len(_without_echo(_bigrams(content), echo)) >= 3 and scores[best - 1] >= SUPPORT:
            kept = [best]
        if not kept:
            kept = _held_by_terms(content, anchor_sets, cited, asked)
        return kept

    def revise(content: str, kept: list[int]) -> tuple[str, list[int]] | None:
        cited = [passages[n - 1] for n in kept] or passages  # uncited: the answer-level check below cites one
        for passage in cited:
            if (looked_up := look_up(content, asked, passage.text, text)) != content:
                content = looked_up
                break
        else:
            if kept and not any(pointed_cell(asked, p.text) for p in cited):
                # The model cited a neighbouring chunk of the table; the cell the question points at is in another.
                for n, passage in enumerate(passages, 1):
                    if (looked_up := look_up(content, asked, passage.text, text)) != content:
                        content, kept, cited = looked_up, [n], [passage]
                        break
        if (unsupported_numbers(content, cited, asked) or invented_names(content, cited, asked)
                or borrowed_row(content, asked, [p.text for p in cited], text)):
            return None
        return content, kept

    text, quotes = _per_sentence(text, len(passages), checked, revise)
    if not text:
        return text, []
    if not quotes:
        # Only a passage that holds the answer's numbers may be cited for it as a whole.
        holding = [i for i, p in enumerate(passages) if not unsupported_numbers(text, [p], asked)]
        scores = [support(text, p.text, echo) for p in passages]
        best = max(holding, key=lambda i: scores[i], default=0) + 1
        if not holding or scores[best - 1] < GROUNDED:
            return text, []
        text = _with_markers(text, [best])
        quotes[best] = [text]
    citations = [_citation(n, passages[n - 1], quotes[n]) for n in quotes]
    return text, citations


def without_markers(text: str) -> str:
    """The answer's text without its [n] markers, whose digits are not claims."""
    return _MARKER.sub("", text)


def restates_question(answer: str, question: str) -> bool:
    """The draft adds next to nothing to the question: the small model echoed it ("Besides cost and speed, the
    accuracy problem arises when you stuff every document into a huge context window.")."""
    answer = _MARKER.sub("", answer)
    if not question or _anchors(answer, terms_only=True) - _anchors(question, terms_only=True):
        return False  # a number or term of its own is an answer: "Q6_K 的平均位宽是 6.56"
    grams = _bigrams(answer)
    own = grams - _bigrams(question)
    return len(grams) >= 4 and len(own) <= ECHO_SHARE * len(grams)


def quote_answer(question: Question, passages: list[Hit]) -> tuple[str, list[Citation]]:
    """In place of an echo, the passage sentence that shares most with the question, quoted and cited; the
    higher-ranked passage wins a tie."""
    asked = _bigrams(question.text)
    best, number, shared = "", 0, 0
    for n, passage in enumerate(passages, 1):
        for start, end in split_sentences(passage.text):
            sentence = passage.text[start:end].strip()
            if (count := len(_bigrams(sentence) & asked)) > shared:
                best, number, shared = sentence, n, count
    if not number:
        return "", []
    text = _with_markers(f"{quote_label(question)}{best}", [number])
    return text, [_citation(number, passages[number - 1], [best])]


def _per_sentence(text: str, count: int, checked, revise=None) -> tuple[str, dict[int, list[str]]]:
    """Rewrite each sentence with the markers `checked(content, cited)` keeps (None: a bare marker run, dropped),
    and collect, per kept passage number, the sentences that cite it. `revise(content, kept)` may correct a
    sentence and its markers (a table cell read from the wrong column or the wrong chunk) or reject it (None:
    it states a number its passages do not hold), and then it is left out."""
    sentences: list[tuple[str, list[int]]] = []
    for start, end in split_sentences(text):
        sentence = text[start:end]
        cited = [n for m in _MARKER.finditer(sentence) for n in _numbers(m.group(1)) if 1 <= n <= count]
        content = _DANGLING_COMMA.sub("", _MARKER.sub("", sentence))  # "排第 1 名，[1]。" left "名，。"
        if cited and not _TOKEN.search(content) and sentences and not sentences[-1][1]:
            # "…之间。[1]": a marker run right after a stop belongs to the sentence it follows, when that
            # sentence cited nothing itself.
            sentences[-1] = (sentences[-1][0], cited)
            continue
        sentences.append((content, cited))
    out: list[str] = []
    quotes: dict[int, list[str]] = {}
    seen: set[str] = set()
    for content, cited in sentences:
        key = content.strip()
        if key in seen and _TOKEN.search(key):
            continue  # a small model can loop, writing one sentence again until max_tokens: show it once
        seen.add(key)
        kept = checked(content, list(dict.fromkeys(cited)))
        if revise:
            if (revised := revise(content, kept or [])) is None:
                continue
            content, kept = revised
        out.append(_with_markers(content, kept or []))
        for n in kept or []:
            quotes.setdefault(n, []).append(content)
    return "".join(out).strip(), quotes


def _cjk_share(text: str) -> float:
    """Share of the overlap tokens that are CJK characters: which script an answer or a passage is in."""
    tokens = _TOKEN.findall(text)
    return sum(1 for t in tokens if _CJK_TOKEN.match(t)) / len(tokens) if tokens else 0.0


def _cross_lingual(answer: str, passages: list[Hit]) -> bool:
    """An English answer over Chinese passages (or the reverse): bigram overlap cannot judge support there."""
    body = " ".join(p.text for p in passages)
    return abs(_cjk_share(_MARKER.sub("", answer)) - _cjk_share(body)) > 0.6


def _anchors(text: str, *, terms_only: bool = False) -> set[str]:
    """Numbers and Latin-script words; with `terms_only`, just numbers and words that look like terms (an
    uppercase letter after the first, a digit or an underscore: PPO, RLHF, k1, Q4_K_M), since the ordinary
    words of an English answer ("model", "language") match a Chinese passage's glosses by chance."""
    found = _ANCHOR.findall(text)
    if terms_only:
        found = [a for a in found if _TERM.search(a[1:]) or a[0].isdigit()]
    return {a.lower() for a in found}


def _anchor_fit(sentence: str, anchor_sets: list[set[str]], *, terms_only: bool = False) -> list[float]:
    """For each passage, the weighted share of the sentence's telling anchors it contains. An anchor is telling
    when some passages have it and others do not; rarer ones weigh more. All zeros when none is telling."""
    n = len(anchor_sets)
    weights = {}
    for anchor in _anchors(sentence, terms_only=terms_only):
        df = sum(anchor in s for s in anchor_sets)
        if 0 < df < n:
            weights[anchor] = math.log(1 + n / df)
    total = sum(weights.values())
    if not total:
        return [0.0] * n
    return [sum(w for a, w in weights.items() if a in s) / total for s in anchor_sets]


def _held_by_terms(sentence: str, anchor_sets: list[set[str]], cited: list[int], asked: str = "") -> list[int]:
    """For an English sentence, the passage that holds all of its terms, when there are two or more ("Q6_K",
    "6.56"), or else all of its own, the terms the question did not bring ("150" in "berries have 150 calories
    per portion"): over a table row in Chinese, or one the question words differently, it shares the facts but
    hardly a bigram of the wording. The model's own marker wins among passages that hold them; else the
    top-ranked one. Not for Chinese sentences, where overlap does judge: "Mistral 7B 预训练用了 8192 token"
    holds the terms of a models.csv row whose 8192 is the context length."""
    if _cjk_share(sentence) >= 0.5:
        return []
    terms = _anchors(sentence, terms_only=True)
    own = terms - _anchors(asked, terms_only=True)
    holding = [i for i, s in enumerate(anchor_sets) if terms <= s] if len(terms) >= 2 else []
    if not holding and own:
        holding = [i for i, s in enumerate(anchor_sets) if own <= s]
    if not holding:
        return []
    return [next((n for n in cited if n - 1 in holding), holding[0] + 1)]


def _cross_lingual_markers(text: str, passages: list[Hit], anchor_sets: list[set[str]]) -> tuple[str, list[Citation]]:
    """Per sentence: the passages that hold most of its telling anchors win over the model's markers; without
    such anchors the model's valid markers are kept. An answer with no usable marker cites the passage that
    fits it best, or the top-ranked one. Never refuse here: overlap across scripts refuses right answers
    (BENCHMARKS.md §7, Citation checks)."""
    def checked(content: str, cited: list[int]) -> list[int] | None:
        if not _TOKEN.search(content):
            return None
        fit = _anchor_fit(content, anchor_sets, terms_only=True)
        top = max(fit)
        kept = [n for n in cited if fit[n - 1] >= top - 1e-9]
        if top >= 0.5 and not kept and cited:
            kept = [max(range(len(passages)), key=lambda i: fit[i]) + 1]
        return kept

    text, quotes = _per_sentence(text, len(passages), checked)
    if not quotes:
        fit = _anchor_fit(text, anchor_sets, terms_only=True)
        best = max(range(len(passages)), key=lambda i: fit[i]) + 1 if max(fit) > 0 else 1
        text = _with_markers(text, [best])
        quotes[best] = [text]
    return text, [_citation(n, passages[n - 1], quotes[n]) for n in quotes]


def _citation(number: int, hit: Hit, citing: list[str]) -> Citation:
    return Citation(number=number, source=hit.source, page=hit.page, sheet=hit.sheet, rows=hit.rows,
                    heading=hit.heading, text=hit.text, quote=best_quote(" ".join(citing), hit.text),
                    chunk_id=hit.chunk_id)


def best_quote(claim: str, passage: str) -> str:
    """The passage sentence that holds most of the claim's numbers and, among those, shares most with it: the
    quote shows the figure an answer states ("…2022-2024 年归母净利润 4.7、7.2、9.3 亿元"), not a short line
    that only repeats the company's name. A single digit is no figure to look for: "2" of "alert(2)" or "第 2 步"."""
    stated = {n for n in numbers_in(claim) if len(n) > 1}
    sentences = [passage[s:e].strip() for s, e in split_sentences(passage) if passage[s:e].strip()]
    return max(sentences, key=lambda s: (len(stated & numbers_in(s)), support(s, claim) * min(1.0, len(s) / 8)),
               default="")
