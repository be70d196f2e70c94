"""Escaping of untrusted text, and the citation highlight, as markdown strings."""

from __future__ import annotations

import string

from app.render import code, escape_md, escape_name, highlight, markers, visible


def test_every_ascii_punctuation_character_is_escaped():
    escaped = escape_md(string.punctuation)
    assert escaped == "".join("\\" + ch for ch in string.punctuation)


def test_line_structure_is_kept_but_cannot_start_code_or_lists():
    escaped = escape_md("第一行\n    缩进的行\n- 不是列表\r\n# 不是标题")
    lines = escaped.split("  \n")
    assert lines[0] == "第一行"
    assert lines[1] == "\u00a0" * 4 + "缩进的行"  # four real spaces would make an indented code block
    assert lines[2] == "\\- 不是列表" and lines[3] == "\\# 不是标题"


def test_code_span_cannot_be_closed_early():
    assert code("rag ingest `rm -rf` --kb\n/x") == "`rag ingest 'rm -rf' --kb /x`"


def test_highlight_marks_the_quote_and_escapes_both_sides():
    text = "<b>前文</b>\n温度越低，回答越确定。[x](y)\n后文 *星*"
    marked = highlight(text, "温度越低，回答越确定。[x](y)\n后文")
    assert marked == ("\\<b\\>前文\\<\\/b\\>  \n"
                      ":orange-background[温度越低，回答越确定。\\[x\\]\\(y\\)]  \n"
                      ":orange-background[后文]\u00a0\\*星\\*")  # a space after the mark looks the same


def test_highlight_without_a_usable_quote_is_plain_escaped_text():
    assert highlight("a*b", "") == "a\\*b"
    assert highlight("a*b", "not there") == "a\\*b"


def test_only_markers_of_real_citations_are_emphasised():
    assert markers(escape_md("甲 [1]。乙 [7]。"), {1}) == "甲 :blue[**\\[1\\]**]。乙 \\[7\\]。"


def test_names_stay_on_one_line_and_show_hidden_characters():
    assert visible("报告 2024（终稿）.docx") == "报告 2024（终稿）.docx"
    assert visible("a\nb\r\tc\x00\x7f") == "a␊b␍␉c␀␡"
    assert visible("invoice\u202efdp.exe\u200b") == "invoice\ufffdfdp.exe\ufffd"  # no reversed or hidden text
    assert escape_name("a\n# b*.md") == "a␊\\# b\\*\\.md"
