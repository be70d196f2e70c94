"""The specifics an answer states (numbers and names) and whether the passages it cites hold them.

A cited wrong number borrows the citation's trust, so a sentence stating a number, a title or a name that no
passage it cites holds, nor the question, is not shown (`rag.answer.citations`). An answer may compute: a result
it shows the working for ("800 × 3 = 2400") is its own. Numbers compare by value ("4.0" is "4", "1,567" is
"1567"); names compare with whitespace removed, since a PDF breaks a company's name across lines. The text given
here is free of [n] markers, whose digits are not claims.
"""

from __future__ import annotations

import re

from rag.answer.gate import MIN_NAME_COUNT, NAME_SHAPE  # one rule for what a name is (see there)
from rag.language import IDEOGRAPH, LATIN_WORD, tagged_words, word_count
from rag.types import Hit

# "1e-4" is one number, not a 1 and a 4 that any passage holds: a learning rate from the model's memory.
_NUMBER = re.compile(r"(?<![0-9.])[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+(?![a-z]))?(?![0-9])", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<=[0-9])[,，](?=[0-9]{3}(?![0-9]))")


# "a × b = c": a result the answer computes from numbers it states, shown with its working.
_ARITHMETIC = re.compile(r"((?:[0-9]+(?:\.[0-9]+)?\s*[-+×xX*/÷]\s*)+[0-9]+(?:\.[0-9]+)?)\s*(?:[=＝]|等于)\s*"
                         r"([0-9]+(?:\.[0-9]+)?)")


def _canonical(number: str) -> str:
    """One spelling per value: "4.0" is "4", "08" is "8", "1e-4" is "0.0001"."""
    if "e" in number.lower():
        return repr(float(number))
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number.lstrip("0") or "0"


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, one spelling per value."""
    return {_canonical(n) for n in _NUMBER.findall(_THOUSANDS.sub("", text))}


def _computed(text: str) -> set[str]:
    """Results of arithmetic the text shows ("800 × 3 = 2400"), when the arithmetic is right."""
    results = set()
    for left, right in _ARITHMETIC.findall(_THOUSANDS.sub("", text)):
        value = _evaluate(left)
        if value is not None and abs(value - float(right)) <= 0.01 * abs(float(right)) + 1e-9:
            results.add(_canonical(right))
    return results


def _evaluate(expression: str) -> float | None:
    """The value of "a op b op c" with + - × ÷ (times and division first); None on division by zero."""
    tokens = re.findall(r"[0-9]+(?:\.[0-9]+)?|[-+×xX*/÷]", expression)
    terms = [float(tokens[0])]
    for op, number in zip(tokens[1::2], tokens[2::2]):
        if op in "×xX*÷/":
            if op in "÷/" and float(number) == 0:
                return None
            terms[-1] = terms[-1] / float(number) if op in "÷/" else terms[-1] * float(number)
        else:
            terms.append(float(number) if op == "+" else -float(number))
    return sum(terms)


def unsupported_numbers(sentence: str, passages: list[Hit], question: str = "") -> set[str]:
    """Numbers the sentence states that none of `passages` holds, nor the question, nor the sentence's own
    shown arithmetic: a price, a date or a table cell the model made up or read from the wrong cell."""
    return invented_numbers(sentence, passages, question) - _computed(sentence)


def invented_numbers(answer: str, passages: list[Hit], question: str = "") -> set[str]:
    """Numbers the answer states that neither a passage nor the question contains. Across scripts this is the
    one check of substance there is: "around 100 epochs" over Chinese passages that give no epoch count."""
    stated = numbers_in(answer)
    return stated - numbers_in(question) - set().union(*(numbers_in(p.text) for p in passages))


# A title in book-title marks, and Latin terms that are names by the gate's shape or an underscore inside
# ("GPT-4", "MinerU", "top_p"). An ordinary capitalised English word may be a translation of the Chinese
# passage's wording ("Ministry of Natural Resources") and is not checked.
_TITLE = re.compile(r"《([^《》]{1,40})》")
_PERSON = {"nr", "nrfg", "nrt"}


def names_in(text: str) -> set[str]:
    """The titles, shaped Latin terms and dictionary-known person names a text states."""
    found = set(_TITLE.findall(text))
    found |= {w for m in LATIN_WORD.finditer(text) if NAME_SHAPE.search(w := m.group(0)) or "_" in w}
    if IDEOGRAPH.search(text):
        found |= {w for w, flag in tagged_words(text) if flag in _PERSON and len(w) >= 2
                  and IDEOGRAPH.search(w) and word_count(w) >= MIN_NAME_COUNT}
    return found


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def invented_names(answer: str, passages: list[Hit], question: str = "") -> set[str]:
    """Names the answer states that neither a passage nor the question contains."""
    held = [_flat(p.text) for p in passages] + [_flat(question)]
    return {n for n in names_in(answer) if not any(_flat(n) in h for h in held)}
