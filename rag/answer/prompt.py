"""The answer prompt: numbered passages with their locators, rules, and one worked example.

A 1.5B model follows an example and a reminder next to the question far better than rules in the system
prompt. Measured on 14 dev questions with Qwen2.5-Coder-1.5B: rules plus a worked example, 1 answer of 14
carried an [n]; adding a one-line reminder after the question, 14 of 14 did, with no loss of accuracy. A
reminder that also repeated the refusal rule made the model refuse 3 answerable questions, so it does not.
The worked example is a real prior chat turn. Passages are numbered by rank but written best-last, so the
one most likely to hold the answer sits next to the question, where a small model reads most closely.
Passages are fitted to the context window by counting tokens with the model's own tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ingest.types import CELL_SEPARATOR
from rag.errors import PromptTooLong
from rag.models.llm import Message
from rag.types import Hit

REFUSAL_ZH = "资料中没有相关信息。"
REFUSAL_EN = "The documents do not contain this information."

SYSTEM = (
    "你是一个严谨的知识库问答助手。\n"
    "1. 只根据用户给出的编号资料回答，不要使用资料以外的知识。\n"
    "2. 在每句话的句号前用方括号写出依据的资料编号，例如 [1] 或 [2][3]；编号只能是资料中真实存在的数字。\n"
    "3. 用提问的语言回答：中文问题用中文回答，English questions are answered in English.\n"
    f"4. 如果资料中没有答案，只回答“{REFUSAL_ZH}”（英文问题回答 \"{REFUSAL_EN}\"）。\n"
    "5. 回答简洁准确，一般一到三句话。"
)

_EXAMPLE_PASSAGES = (
    "[1] 来源：地理手册.pdf，p. 3\n珠穆朗玛峰海拔 8848.86 米，位于中国与尼泊尔边境。\n\n"
    "[2] 来源：河流.docx，§ 长江\n长江全长约 6300 公里，是中国第一长河。"
)
EXAMPLE = [
    {"role": "user", "content": f"资料：\n{_EXAMPLE_PASSAGES}\n\n问题：珠穆朗玛峰有多高？长江有多长？"},
    {"role": "assistant", "content": "珠穆朗玛峰海拔 8848.86 米 [1]。长江全长约 6300 公里 [2]。"},
]


def passage_body(hit: Hit) -> str:
    """The passage as the model reads it. A table chunk's rows are written as "column：value" pairs, so a
    small model reading row 4 does not have to count cells back to the header to know which number is which."""
    lines = hit.text.split("\n")
    at = next((i for i, line in enumerate(lines) if CELL_SEPARATOR in line), None) if hit.rows else None
    if at is None:
        return hit.text
    columns, rows = lines[at].split(CELL_SEPARATOR), lines[at + 1:]
    # A table chunk is a header line (2+ named columns) and at most one line per row of its range (empty
    # rows are skipped); anything else, such as a one-row sheet, goes in as it is.
    if sum(1 for c in columns if c.strip()) < 2 or not rows or len(rows) > hit.rows[1] - hit.rows[0] + 1:
        return hit.text
    out = lines[:at]
    for line in rows:
        cells = line.split(CELL_SEPARATOR)  # trailing empty cells are not written, so a row may be shorter
        if len(cells) < 2 or len(cells) > len(columns):  # a note under the table, or a ragged row
            out.append(line)
        else:
            out.append("；".join(f"{column}：{cell}" for column, cell in zip(columns, cells) if cell.strip()))
    return "\n".join(out)


def passage_header(number: int, hit: Hit) -> str:
    locator = hit.locator
    return f"[{number}] 来源：{Path(hit.source).name}" + (f"，{locator}" if locator else "")


_CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9._+-]*[A-Za-z0-9]")  # "GPT-4", "Q4_K_M", "the"


def cjk_share(text: str) -> float:
    """Share of a question written in CJK, counting a Latin word as about two characters' worth."""
    cjk = len(_CJK.findall(text))
    latin_words = len(LATIN_WORD.findall(text))
    return cjk / (cjk + 2 * latin_words) if cjk or latin_words else 0.0


def asks_in_chinese(question: str) -> bool:
    """The one rule for the language of everything said back: the reminder in the prompt, a refusal, a quote's
    label, and whether `coverage` reads the question as Chinese. "What is 温度?" is an English question that
    names a Chinese term; "Q4_K_M 是什么？" is a Chinese one."""
    return cjk_share(question) >= 0.5


REMINDER_ZH = "（回答时在每句话末尾用 [编号] 注明依据的资料。）"
REMINDER_EN = "(After each sentence, cite the passage it comes from as [n].)"


def user_message(question: str, passages: list[str]) -> str:
    reminder = REMINDER_ZH if asks_in_chinese(question) else REMINDER_EN
    return "资料：\n" + "\n\n".join(passages) + f"\n\n问题：{question}\n{reminder}"


def build_messages(question: str, hits: list[Hit], *, count_tokens: Callable[[str], int], n_ctx: int,
                   max_tokens: int) -> tuple[list[Message], list[Hit]]:
    """The chat messages and the hits that made it into them, numbered 1..n in that order."""
    fixed = SYSTEM + "".join(m["content"] for m in EXAMPLE) + user_message(question, [])
    # Chat templates add a few tokens per message; 64 covers Qwen's and Llama's.
    budget = n_ctx - max_tokens - count_tokens(fixed) - 64
    if budget <= 0:
        raise PromptTooLong(f"the question leaves no room for passages in n_ctx={n_ctx}; "
                            f"raise n_ctx or lower max_tokens ({max_tokens})")
    passages: list[str] = []
    used: list[Hit] = []
    for hit in hits:
        block = f"{passage_header(len(used) + 1, hit)}\n{passage_body(hit)}"
        cost = count_tokens(block) + 2
        if cost > budget:
            if budget < 48:
                break
            # Keep the head of a passage that does not fit whole: it usually holds its topic sentence.
            keep = max(1, int(len(block) * budget / cost) - 8)
            block, cost = block[:keep], budget
        passages.append(block)
        used.append(hit)
        budget -= cost
    # The best passage goes last, next to the question, and keeps the number [1]. Measured with the 1.5B model
    # on test3 + test4 + test5 (122 answerable): 95 right answers against 88 in rank order, and citation
    # precision up on all three sets (0.946 / 0.886 / 0.911 against 0.917 / 0.857 / 0.82).
    messages = [{"role": "system", "content": SYSTEM}, *EXAMPLE,
                {"role": "user", "content": user_message(question, passages[::-1])}]
    return messages, used
