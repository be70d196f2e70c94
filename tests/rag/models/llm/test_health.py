"""The health check: the model runs in a child process first, a crash there is a failed trial, and the
product chooses a CPU path that works or says, without dying, that none does.

The crash tests make the child fail on purpose: a `sitecustomize` put on the child's PYTHONPATH kills it with
a real SIGSEGV when llama-cpp-python builds a model with the repacked layouts ("repack") or at all ("always"),
which is what an AMX fault in llama.cpp does to a process. The parent process is never hooked, so the
in-process model loads for real with the layout the check chose.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.errors import ModelNotAvailable
from rag.models.llm import health
from rag.models.llm.health import Trial
from rag.models.llm.llama import LlamaGenerator

ROOT = Path(__file__).resolve().parents[4]

CRASHER = textwrap.dedent('''
    import builtins, os, signal, sys
    _mode = os.environ.get("CRASH_LLAMA_CPP")
    _real_import = builtins.__import__

    def _import(*args, **kwargs):
        module = _real_import(*args, **kwargs)
        lib = sys.modules.get("llama_cpp")
        if lib is not None and hasattr(lib, "Llama") and not getattr(lib, "_crash_hooked", False):
            lib._crash_hooked = True
            init = lib.Llama.__init__

            def crashing(self, *a, **k):
                if _mode == "always" or lib.llama_cpp.llama_model_default_params().use_extra_bufts:
                    os.kill(os.getpid(), signal.SIGSEGV)
                init(self, *a, **k)
            lib.Llama.__init__ = crashing
        return module

    if _mode:
        builtins.__import__ = _import
''')


@pytest.fixture
def crash(monkeypatch, tmp_path):
    """Make the health check's children crash: crash("repack") or crash("always")."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(CRASHER, encoding="utf-8")

    def arm(mode: str) -> None:
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")]))
        monkeypatch.setenv("CRASH_LLAMA_CPP", mode)
    return arm


def bundled_model() -> Path:
    from rag.models.bundled import resolve_llm_model
    from rag.settings import Settings
    from tests.conftest import require_bundled_models

    require_bundled_models()
    return resolve_llm_model("qwen2.5-coder-1.5b", Path(Settings.load().cache_dir), progress=False)


# --------------------------------------------------------------------------- the choice, with trials given

def fake_trials(monkeypatch, outcomes: dict[tuple[bool, int], Trial], gpu: bool = False) -> list[tuple[bool, int]]:
    ran = []
    monkeypatch.setattr(health, "gpu_backends", lambda: ["cuda"] if gpu else [])

    def probe(model, *, repack, gpu_layers, threads=0, timeout=0):
        ran.append((repack, gpu_layers))
        return outcomes[(repack, gpu_layers)], {"system_info": "CPU : AVX2 = 1"}
    monkeypatch.setattr(health, "probe", probe)
    return ran


def ok(repack, layers, prompt, decode):
    return Trial(repack=repack, gpu_layers=layers, ok=True, prompt_tps=prompt, decode_tps=decode)


def crashed(repack, layers):
    return Trial(repack=repack, gpu_layers=layers, ok=False, error="killed by SIGSEGV")


def test_the_default_layout_stays_unless_the_other_is_clearly_faster(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    fake_trials(monkeypatch, {(True, 0): ok(True, 0, 60, 20), (False, 0): ok(False, 0, 63, 19)})
    verdict = health.run_trials(model)
    assert verdict.trial.repack and "not faster by 10%" in verdict.reason
    fake_trials(monkeypatch, {(True, 0): ok(True, 0, 40, 20), (False, 0): ok(False, 0, 60, 20)})
    verdict = health.run_trials(model)
    assert not verdict.trial.repack and "faster by more than 10%" in verdict.reason


def test_a_crashing_layout_falls_back_and_says_why(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    ran = fake_trials(monkeypatch, {(True, 0): crashed(True, 0), (False, 0): ok(False, 0, 60, 20)})
    verdict = health.run_trials(model)
    assert verdict.ok and not verdict.trial.repack
    assert "repacked weights on: killed by SIGSEGV" in verdict.reason
    assert ran == [(True, 0), (False, 0)]  # a CPU-only build: no GPU trial


def test_a_failing_gpu_falls_back_to_the_cpu(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    oom = Trial(repack=True, gpu_layers=-1, ok=False, error="exited with status 1: out of memory")
    ran = fake_trials(monkeypatch, {(True, -1): oom, (False, -1): oom, (True, 0): ok(True, 0, 60, 20),
                                    (False, 0): ok(False, 0, 50, 20)}, gpu=True)
    verdict = health.run_trials(model)
    assert verdict.ok and verdict.trial.gpu_layers == 0 and verdict.trial.repack
    assert ran == [(True, -1), (False, -1), (True, 0), (False, 0)]


def test_forced_settings_run_only_what_they_name(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    ran = fake_trials(monkeypatch, {(False, 20): ok(False, 20, 900, 80)})
    verdict = health.run_trials(model, repack="off", gpu_layers="20")
    assert ran == [(False, 20)] and verdict.trial.label == "GPU (20 layers), repacked weights off"


def test_the_verdict_is_recorded_and_rechecked_when_the_model_changes(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    ran = fake_trials(monkeypatch, {(True, 0): ok(True, 0, 60, 20), (False, 0): ok(False, 0, 55, 20)})
    assert health.recorded(model, tmp_path) is None
    first = health.check(model, tmp_path)
    assert health.check(model, tmp_path).reason == first.reason and len(ran) == 2  # read back, not rerun
    assert health.recorded(model, tmp_path).trial.repack
    model.write_bytes(b"GGUF, another one")
    health.check(model, tmp_path)
    assert len(ran) == 4


def test_a_model_that_cannot_load_is_a_failed_trial_with_its_message(tmp_path):
    model = tmp_path / "broken.gguf"
    model.write_bytes(b"GGUF" + b"\x00" * 64)
    trial, _ = health.probe(model, repack=True, gpu_layers=0)
    assert not trial.ok and trial.error.startswith("exited with status 1")


def test_a_generator_that_cannot_run_raises_a_named_error_and_reports_it(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    fake_trials(monkeypatch, {(True, 0): crashed(True, 0), (False, 0): crashed(False, 0)})
    generator = LlamaGenerator(model, cache_dir=tmp_path)
    with pytest.raises(ModelNotAvailable, match="cannot run on this machine.*SIGSEGV.*make llama-portable"):
        list(generator.stream([{"role": "user", "content": "hi"}]))
    with pytest.raises(ModelNotAvailable):
        generator.log_likelihood([{"role": "user", "content": "hi"}], "hello")
    status = generator.status()
    assert not status.reranking and "SIGSEGV" in status.problem


# --------------------------------------------------------------------------- slow: the real model, real crashes

@pytest.mark.slow
def test_a_crash_of_the_repacked_layout_is_survived_and_the_model_answers_without_it(crash, tmp_path):
    model = bundled_model()
    crash("repack")
    generator = LlamaGenerator(model, n_ctx=1024, cache_dir=tmp_path)
    verdict = generator.runtime()
    assert [t.ok for t in verdict.trials] == [False, True], [t.error for t in verdict.trials]
    assert verdict.trials[0].error == "killed by SIGSEGV" and not verdict.trial.repack
    # This process was never hooked: the model really loads here, without the repacked layout, and answers.
    text = "".join(generator.stream([{"role": "user", "content": "用一个词回答：天空是什么颜色？"}],
                                    temperature=0.0, max_tokens=8))
    assert text.strip()
    assert "in this process: CPU, repacked weights off" in generator.status().where


@pytest.mark.slow
def test_when_no_layout_runs_search_still_works_and_ask_names_the_cause(crash, tmp_path, fake_embedder):
    from rag.api import KnowledgeBase
    from rag.settings import Settings

    model = bundled_model()
    crash("always")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "t.md").write_text("# 温度\n温度参数控制输出的随机程度。\n\n# 量化\n量化把权重压缩成 4 位整数。\n",
                               encoding="utf-8")
    settings = Settings.load(kb=str(tmp_path / "kb"), cache_dir=str(tmp_path / "cache"), llm_model=str(model),
                             rerank_depth=2, relevance_floor=0.0, workers=1)
    with KnowledgeBase(settings.kb, settings, embedder=fake_embedder) as kb:
        kb.add([docs])
        hits = kb.search("温度参数有什么作用？")
        assert hits and "温度" in hits[0].text  # fused order: re-ranking is off, search is not
        with pytest.raises(ModelNotAvailable, match="killed by SIGSEGV"):
            kb.ask("温度参数有什么作用？")
        status = kb.llm_status()
        assert status.problem and not status.reranking


@pytest.mark.slow
def test_setup_exits_3_and_ask_exits_2_with_the_cause_not_a_traceback(crash, tmp_path):
    crash("always")
    env = {**os.environ, "RAG_CACHE_DIR": str(tmp_path / "cache"), "RAG_LLM_MODEL": str(bundled_model()),
           "HF_HUB_OFFLINE": "1"}
    # The embedding model is converted once per cache; share the real one so this test does not redo it.
    from rag.settings import Settings

    real_cache = Path(Settings.load().cache_dir)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "models").symlink_to(real_cache / "models", target_is_directory=True)
    rag = [sys.executable, "-c", "from rag.cli import main; main()"]
    setup = subprocess.run([*rag, "setup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert setup.returncode == 3, setup.stderr
    assert "cannot run on this machine" in setup.stderr and "Traceback" not in setup.stderr
    doctor = subprocess.run([*rag, "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    lines = doctor.stdout.splitlines()
    assert any(line.startswith("[  ok   ] embedding model: multilingual-e5-small embeds") for line in lines)
    assert any(line.startswith("[ FAIL  ] LLM (llama_cpp, in this process): the LLM cannot run") for line in lines)
    assert "CPU, repacked weights off: killed by SIGSEGV" in doctor.stdout and "llama.cpp build:" in doctor.stdout
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "t.md").write_text("# 温度\n温度参数控制输出的随机程度。\n", encoding="utf-8")
    kb = str(tmp_path / "kb")
    subprocess.run([*rag, "ingest", str(docs), "--kb", kb], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=300)
    ask = subprocess.run([*rag, "ask", "温度参数有什么作用？", "--kb", kb], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert ask.returncode == 2, ask.stderr
    assert "killed by SIGSEGV" in ask.stderr and "Traceback" not in ask.stderr
