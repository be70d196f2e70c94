"""The documents page with the fake embedder: upload and ingest, the table, delete and re-index."""

from __future__ import annotations

import io
import re

import openpyxl

from app import state
from app.uploads import UPLOADS
from tests.app.conftest import APP, ask, go_to, start

MD = "text/markdown"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "模型"
    sheet.append(["模型", "许可证"])
    sheet.append(["Mistral 7B", "Apache 2.0"])
    sheet.append(["Llama 3", "Llama 3 Community License"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def table(at) -> list[dict]:
    return at.dataframe[0].value.to_dict("records") if at.dataframe else []


def upload(at, files):
    at.file_uploader[0].set_value(files).run()
    next(b for b in at.button if b.label == "Add to knowledge base").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at, label: str):
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_parse_worker_that_imports_the_app_again_does_not_run_it(kb_dir, monkeypatch):
    # Ingest's workers are spawned, and spawn imports the parent's main module, which under Streamlit is
    # app/main.py, as __mp_main__: each worker would otherwise open the KB and check the LLM itself.
    import runpy

    def opened(*args):
        raise AssertionError("a worker opened a knowledge base")

    monkeypatch.setattr(state, "kb_factory", opened)
    runpy.run_path(str(APP), run_name="__mp_main__")


def test_upload_ingests_good_files_and_names_the_broken_one(kb_dir, fake_generator):
    at = go_to(start(), "documents")
    assert "No documents yet" in at.info[0].value
    upload(at, [("温度 说明.md", "# 温度\n温度越低，回答越确定。\n".encode(), MD),
                ("licenses.xlsx", xlsx_bytes(), XLSX),
                ("broken.docx", b"this is not a zip file", "application/octet-stream")])

    success = plain(at.success[0].value)
    assert success.startswith("Added 2: ") and "温度 说明.md" in success and "licenses.xlsx" in success
    failed = plain(at.error[0].value)
    assert failed.startswith("Failed 1") and "broken.docx" in failed
    rows = {r["name"]: r for r in table(at)}
    assert set(rows) == {"温度 说明.md", "licenses.xlsx"}
    assert rows["licenses.xlsx"]["type"] == "xlsx" and rows["licenses.xlsx"]["pages / rows"].endswith("rows")
    assert all(r["chunks"] >= 1 and r["added (UTC)"] for r in rows.values())
    assert sorted(p.name for p in (kb_dir / UPLOADS).iterdir()) == ["broken.docx", "licenses.xlsx", "温度 说明.md"]
    assert not at.file_uploader[0].value  # a fresh uploader: the next click does not ingest them again

    fake_generator.replies.append("Mistral 7B 使用 Apache 2.0 许可证 [1]。")
    answer = ask(go_to(at, "chat"), "Mistral 7B 的许可证是 Apache 2.0 吗？").chat_message[1]
    assert [plain(e.label) for e in answer.expander] == ["[1] licenses.xlsx · 模型, rows 2-3"]


def test_upload_names_are_sanitised_and_stay_inside_the_kb(kb_dir, tmp_path):
    at = go_to(start(), "documents")
    upload(at, [("../../escape.md", b"# x\nescape attempt\n", MD),
                ("..\\..\\win.md", b"# y\nwindows separators\n", MD),
                ("<b>bold.md", b"# z\nangle brackets\n", MD)])
    stored = sorted(p.name for p in (kb_dir / UPLOADS).iterdir())
    assert stored == ["_b_bold.md", "escape.md", "win.md"]
    assert not (tmp_path / "escape.md").exists() and not (kb_dir.parent / "escape.md").exists()
    assert sorted(r["name"] for r in table(at)) == stored


def test_upload_over_the_size_limit_is_refused(kb_dir, monkeypatch):
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "1")
    at = go_to(start(), "documents")
    upload(at, [("big.txt", b"x" * (1024 * 1024 + 1), "text/plain"), ("small.txt", b"small file\n", "text/plain")])
    assert "big.txt" in plain(at.error[0].value) and "1 MB limit" in plain(at.error[0].value)
    assert [r["name"] for r in table(at)] == ["small.txt"]
    assert not (kb_dir / UPLOADS / "big.txt").exists()


def test_delete_asks_first_then_removes_the_document_and_its_upload(kb_dir, fake_generator):
    at = go_to(start(), "documents")
    upload(at, [("quant.md", "# 量化\n量化把浮点权重压缩成 4 位整数。\n".encode(), MD),
                ("temperature.md", "# 温度\n温度越低，回答越确定。\n".encode(), MD)])
    target = str((kb_dir / UPLOADS / "quant.md").resolve())
    at.multiselect(key="delete_selection").select(target).run()
    click(at, "Delete…")
    assert plain(at.warning[0].value).startswith("Delete 1 document(s): **quant.md**?")
    click(at, "Cancel")
    assert len(table(at)) == 2 and not at.warning

    click(at, "Delete…")
    click(at, "Delete")
    assert plain(at.success[0].value) == "Deleted 1: quant.md"
    assert [r["name"] for r in table(at)] == ["temperature.md"]
    assert not (kb_dir / UPLOADS / "quant.md").exists()

    fake_generator.replies.append("量化把浮点权重压缩成 4 位整数 [1]。")
    answer = ask(go_to(at, "chat"), "量化把浮点权重压缩成几位整数？").chat_message[1]
    assert not any("quant.md" in e.label for e in answer.expander)  # no longer cited


def test_reindex_asks_first_and_picks_up_changed_files(kb_dir, docs, fake_embedder):
    from tests.app.conftest import fill

    fill(kb_dir, fake_embedder, [docs])
    at = go_to(start(), "documents")
    (docs / "quant.md").write_text("# 量化\n量化后的模型更小。\n", encoding="utf-8")
    click(at, "Re-index…")
    assert "Re-index all 2 documents?" in at.warning[0].value
    click(at, "Re-index")
    assert plain(at.success[0].value).startswith("Updated 1: quant.md")
    assert "Unchanged 1: temperature.md" in plain(at.info[0].value)


def test_a_session_may_upload_only_so_many_files_and_megabytes(kb_dir, monkeypatch):
    monkeypatch.setenv("RAG_MAX_SESSION_UPLOADS", "3")
    monkeypatch.setenv("RAG_MAX_SESSION_UPLOAD_MB", "1")
    at = go_to(start(), "documents")
    upload(at, [("one.txt", b"first file\n", "text/plain"), ("two.txt", b"second file\n", "text/plain")])
    assert sorted(r["name"] for r in table(at)) == ["one.txt", "two.txt"]

    # The count and the megabytes are this session's, across uploads.
    upload(at, [("big.txt", b"x" * (1024 * 1024), "text/plain"), ("three.txt", b"third\n", "text/plain"),
                ("four.txt", b"fourth\n", "text/plain")])
    failed = plain(at.error[0].value)
    assert "**big.txt**: over this session's limit of 1 MB" in failed and "max_session_upload_mb" in failed
    assert "**four.txt**: over this session's limit of 3 uploaded files (setting max_session_uploads)" in failed
    assert sorted(r["name"] for r in table(at)) == ["one.txt", "three.txt", "two.txt"]
    assert sorted(p.name for p in (kb_dir / UPLOADS).iterdir()) == ["one.txt", "three.txt", "two.txt"]

    fresh = go_to(start(), "documents")  # another browser session has its own count
    upload(fresh, [("five.txt", b"fifth\n", "text/plain")])
    assert "five.txt" in [r["name"] for r in table(fresh)]


def test_file_names_cannot_break_the_layout(kb_dir, tmp_path, fake_embedder, fake_generator, monkeypatch):
    from tests.app.conftest import fill

    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "1")
    folder = tmp_path / "odd"
    folder.mkdir()
    odd = folder / "evil\nname*\u202egpj.md"  # a newline, markdown, and a right-to-left override
    odd.write_text("# 奇怪\n奇怪的文件名也能检索。\n", encoding="utf-8")
    fill(kb_dir, fake_embedder, [odd])
    at = go_to(start(), "documents")
    assert [r["name"] for r in table(at)] == ["evil␊name*\ufffdgpj.md"]
    at.multiselect(key="delete_selection").select(str(odd.resolve())).run()
    click(at, "Delete…")
    question = at.warning[0].value
    assert "\n" not in question and "evil␊name\\*\ufffdgpj\\.md" in question

    upload(at, [("big\nname.txt", b"x" * (1024 * 1024 + 1), "text/plain")])  # refused by its raw name
    assert "**big␊name\\.txt**: larger than the 1 MB limit" in at.error[0].value

    fake_generator.replies.append("奇怪的文件名也能检索 [1]。")
    answer = ask(go_to(at, "chat"), "奇怪的文件名能检索吗？").chat_message[1]
    assert [e.label for e in answer.expander] == ["\\[1\\] evil␊name\\*\ufffdgpj\\.md · § 奇怪"]
    assert [b.label for b in answer.download_button] == ["Download evil␊name\\*\ufffdgpj\\.md"]
