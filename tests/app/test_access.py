"""The UI's door, headless: the sign-in form, tokens and passwords, read-only mode, and what may be downloaded.

The app reads the address it listens on from Streamlit's config; `listening_on` sets it the way `rag ui
--host` would, and RAG_UI_TOKEN stands in for the token `rag ui` passes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from app import access, state
from app.uploads import UPLOADS
from tests.app.conftest import APP, DOCS, ask, go_to, listening_on, markdown_texts, start
from tests.app.test_chat import plain

TOKEN = "t0ken-for-the-tests-only"


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """The pauses after failed sign-ins, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(access, "sleep", slept.append)
    return slept


@pytest.fixture
def shared(filled, monkeypatch):
    """`rag ui --host 0.0.0.0` without a password: the app gets a token."""
    monkeypatch.setenv("RAG_UI_TOKEN", TOKEN)
    with listening_on("0.0.0.0"):
        yield filled


def shows_only_the_sign_in_form(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [t.label for t in at.text_input] in (["Token"], ["Password"])
    assert not at.sidebar.children and not at.chat_input and not at.dataframe and not at.selectbox
    assert not any(name in text for name in DOCS for text in markdown_texts(at))


def sign_in(at: AppTest, secret: str) -> AppTest:
    at.text_input[0].input(secret)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_shared_ui_shows_only_the_sign_in_form_until_the_token_is_given(shared, pauses):
    at = start()
    shows_only_the_sign_in_form(at)

    sign_in(at, "not-the-token")
    shows_only_the_sign_in_form(at)
    assert "That token is not right" in plain(at.error[0].value) and pauses == [access.FAILED_SIGN_IN_PAUSE_S]

    sign_in(at, TOKEN)
    assert "2 documents" in at.caption[0].value and at.chat_input and at.sidebar.radio(key="page")
    assert len(pauses) == 1


def test_a_token_in_the_url_signs_in_and_leaves_the_url(shared, pauses):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["token"] = TOKEN
    at.run()
    assert "2 documents" in at.caption[0].value and not pauses
    assert "token" not in at.query_params  # not left in the address bar
    at.run()
    assert "2 documents" in at.caption[0].value  # the session stays signed in


def test_a_wrong_token_in_the_url_is_refused_and_throttled(shared, pauses):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["token"] = TOKEN[:-1]
    at.run()
    shows_only_the_sign_in_form(at)
    assert "token" not in at.query_params and pauses == [access.FAILED_SIGN_IN_PAUSE_S]


def test_a_password_is_asked_for_on_localhost_too(filled, monkeypatch, pauses):
    monkeypatch.setenv("RAG_UI_PASSWORD_HASH", PasswordHasher().hash("correct horse"))
    monkeypatch.setenv("RAG_UI_TOKEN", TOKEN)  # a stray token does not replace the password
    at = start()
    shows_only_the_sign_in_form(at)
    assert at.text_input[0].label == "Password"
    sign_in(at, TOKEN)
    shows_only_the_sign_in_form(at)
    assert "That password is not right" in plain(at.error[0].value) and len(pauses) == 1
    sign_in(at, "correct horse")
    assert "2 documents" in at.caption[0].value


def test_a_broken_password_hash_says_how_to_make_one(filled, monkeypatch):
    monkeypatch.setenv("RAG_UI_PASSWORD_HASH", "hunter2")  # a password pasted where its hash belongs
    at = start()
    assert "rag password" in plain(at.error[0].value)
    assert not at.sidebar.children and not at.text_input


def test_a_ui_on_every_interface_without_a_token_refuses_to_serve(filled):
    with listening_on(None):  # `streamlit run app/main.py` by hand: Streamlit listens everywhere
        at = start()
    assert "rag ui --host HOST" in plain(at.error[0].value)
    assert not at.sidebar.children and not at.text_input and not at.chat_input


def test_read_only_shares_answers_but_draws_no_write_controls(filled, monkeypatch, fake_generator):
    monkeypatch.setenv("RAG_UI_READ_ONLY", "true")
    with listening_on("0.0.0.0"):  # read-only is an explicit choice: no sign-in needed
        at = start()
        fake_generator.replies.append("温度越低，回答越确定 [1]。")
        ask(at, "温度越低回答会怎样？")
        assert [plain(b.label) for b in at.chat_message[1].download_button] == ["Download temperature.md"]
        assert not at.sidebar.text_input and "Create" not in [b.label for b in at.sidebar.button]

        go_to(at, "documents")
    assert sorted(r["name"] for r in at.dataframe[0].value.to_dict("records")) == sorted(DOCS)
    assert not at.file_uploader and not at.multiselect and not at.checkbox
    assert not {"Add to knowledge base", "Delete…", "Re-index…"} & {b.label for b in at.button}
    assert "read-only" in at.info[0].value


def _write_anyway() -> None:
    """Run as an app script: every function that writes, called without its control."""
    import os

    import streamlit as st

    from app import documents, sidebar, state

    class Upload:
        name, size = "new.md", 9

        def getvalue(self) -> bytes:
            return b"# new\ntext"

    kb = state.get_kb(os.environ["RAG_KB"])
    docs = kb.documents()
    st.session_state["new_kb_name"] = "sneaky"
    st.session_state["delete_pending"] = [d.source for d in docs]
    sidebar._create_kb()
    documents._add_uploads(kb, [Upload()])
    documents._confirmed_delete(kb)
    documents._run_reindex(kb, docs, True)
    st.caption(f"{len(kb.documents())} documents")


def test_read_only_write_functions_refuse_when_called_anyway(filled, monkeypatch, fake_embedder):
    monkeypatch.setenv("RAG_UI_READ_ONLY", "1")
    # AppTest leaves its script as __main__, which later tests' spawned parse workers would import and run.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    calls = len(fake_embedder.calls)
    at = AppTest.from_function(_write_anyway, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    refused = [plain(e.value) for e in at.error]
    assert [r.split(" is turned off")[0] for r in refused] == [
        "Creating a knowledge base", "Uploading", "Deleting documents", "Re-indexing"]
    assert all("this UI is read-only" in r and "rag" in r for r in refused)
    assert at.caption[0].value == "2 documents" and len(fake_embedder.calls) == calls  # nothing re-embedded
    assert not Path("data/kbs").exists() and not (filled / UPLOADS).exists()


def test_a_download_is_offered_only_for_a_regular_file_in_the_kb(filled, docs, fake_generator):
    fake_generator.replies.append("温度越低，回答越确定 [1]。")
    at = ask(start(), "温度越低回答会怎样？")
    assert len(at.chat_message[1].download_button) == 1

    source = str((docs / "temperature.md").resolve())
    state.get_kb(os.environ["RAG_KB"]).remove(source)  # deleted from the KB, still on disk
    at.run()
    assert at.chat_message[1].expander and not at.chat_message[1].download_button


def test_downloadable_needs_a_kb_document_that_is_a_regular_file(tmp_path):
    regular, folder, link = tmp_path / "a.md", tmp_path / "dir.md", tmp_path / "link.md"
    regular.write_text("a")
    folder.mkdir()
    link.symlink_to(tmp_path.parent)
    kb = {str(p) for p in (regular, folder, link, tmp_path / "gone.md")}
    assert access.downloadable(str(regular), kb) == regular
    assert access.downloadable(str(regular), kb - {str(regular)}) is None  # on disk but not in the KB
    assert [access.downloadable(str(p), kb) for p in (folder, link, tmp_path / "gone.md")] == [None] * 3
