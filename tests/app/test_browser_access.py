"""A shared UI in a real browser: `rag ui --host 0.0.0.0`, with a sign-in token and read-only, in Chromium.

No real models: the KB is built here with the fake embedder (listing documents never loads the embedding
model), and the LLM is a server that is not there, so the sidebar's check fails at once. Each server takes a
few seconds to start; the tests only look, they never ask. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.api import KnowledgeBase
from rag.settings import Settings
from tests.app.conftest import DOCS
from tests.app.test_browser import ARTIFACTS, CHROMIUM_ARGS, Server, chromium, free_port, rag, wait_until_healthy
from tests.conftest import FakeEmbedder

DOCUMENTS = "Documents · 文档"
WRITE_BUTTONS = ("Add to knowledge base", "Delete…", "Re-index…", "New knowledge base")


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> Path:
    chromium()  # skip before building anything
    work = tmp_path_factory.mktemp("shared-ui")
    folder = work / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    with KnowledgeBase(work / "kb", Settings(kb=str(work / "kb"), workers=1), embedder=FakeEmbedder()) as base:
        assert not base.add([folder]).failed
    return work / "kb"


def serve(kb: Path, *args: str) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", RAG_LLM_BACKEND="openai", RAG_LLM_RETRIES="0", RAG_LLM_TIMEOUT="2",
               RAG_LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")  # nobody listens there
    log_path = kb.parent / f"server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(rag("ui", "--kb", str(kb), "--host", "0.0.0.0", "--port", str(port), *args),
                                cwd=kb.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, proc, log_path)
            yield Server(url, proc, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def shared(kb) -> Iterator[Server]:
    yield from serve(kb)


@pytest.fixture(scope="module")
def read_only(kb) -> Iterator[Server]:
    yield from serve(kb, "--read-only")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # a fresh session each test
    try:
        yield context.new_page()
    finally:
        context.close()


def finished(page) -> None:
    """Wait until the script run is over, so that what is missing is missing, not late."""
    page.wait_for_timeout(500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=30_000)


def write_controls(page) -> list[str]:
    return [label for label in WRITE_BUTTONS if page.get_by_role("button", name=label).count()]


def test_a_shared_ui_without_its_token_shows_only_the_sign_in_form(shared, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    token = re.search(r"/\?token=([\w-]+) ", shared.log.read_text())[1]

    page.goto(shared.url)
    shared.wait_for(page.get_by_role("button", name="Sign in"), 60, "the sign-in form")
    finished(page)
    page.screenshot(path=str(ARTIFACTS / "ui-sign-in.png"))
    text = page.locator("body").inner_text()
    assert "Token" in text and not any(name in text for name in DOCS) and "documents" not in text
    assert not page.get_by_test_id("stSidebar").count() and not page.get_by_test_id("stChatInput").count()
    assert not write_controls(page) and not page.get_by_test_id("stFileUploader").count()

    page.goto(f"{shared.url}/?token={token}")  # the link `rag ui` printed
    shared.wait_for(page.get_by_text(re.compile(r"· 2 documents$")), 60, "the app after signing in")
    page.wait_for_url(lambda url: "token" not in url, timeout=10_000)
    shared.wait_for(page.get_by_test_id("stChatInput"), 30, "the chat box")
    page.get_by_text(DOCUMENTS).click()
    shared.wait_for(page.get_by_role("button", name="Delete…"), 60, "the documents page")
    finished(page)
    page.screenshot(path=str(ARTIFACTS / "ui-signed-in-documents.png"), full_page=True)
    assert page.get_by_test_id("stFileUploader").count() == 1 and len(write_controls(page)) == 4


def test_a_read_only_ui_draws_no_upload_delete_rebuild_or_create(read_only, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(read_only.url)  # read-only was chosen on purpose: no token needed to ask
    read_only.wait_for(page.get_by_test_id("stChatInput"), 60, "the chat page")
    page.get_by_text(DOCUMENTS).click()
    read_only.wait_for(page.get_by_text("This UI is read-only"), 60, "the read-only documents page")
    read_only.wait_for(page.get_by_test_id("stDataFrame"), 30, "the document table")
    finished(page)
    page.screenshot(path=str(ARTIFACTS / "ui-read-only-documents.png"), full_page=True)
    assert write_controls(page) == [] and not page.get_by_test_id("stFileUploader").count()
    assert not page.get_by_text("Rebuild from scratch").count()
