"""The settings object: the LLM backend's settings, checked when they are loaded."""

from __future__ import annotations

import pytest

from rag.errors import ConfigError
from rag.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("RAG_LLM_API_KEY", "OPENAI_API_KEY", "RAG_CONFIG", "RAG_LLM_BACKEND", "RAG_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_server_backend_needs_its_url():
    with pytest.raises(ConfigError, match="needs llm_base_url"):
        Settings.load(llm_backend="openai")
    assert Settings.load(llm_backend="openai", llm_base_url="http://127.0.0.1:8000/v1").llm_backend == "openai"


@pytest.mark.parametrize("name, value, message", [
    ("llm_backend", "ollama", "must be one of: llama_cpp, openai"),
    ("llm_repack", "maybe", "must be one of: auto, on, off"),
    ("n_gpu_layers", "all", "must be 'auto' or a number of layers"),
])
def test_values_outside_their_choices_are_refused(name, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(**{name: value})


def test_gpu_layers_take_numbers_from_toml_and_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "rag.toml"
    config.write_text("n_gpu_layers = 20\n", encoding="utf-8")
    assert Settings.load(config).n_gpu_layers == "20"
    monkeypatch.setenv("RAG_N_GPU_LAYERS", "-1")
    assert Settings.load(config).n_gpu_layers == "-1"


def test_the_api_key_falls_back_to_openais_variable_and_is_never_shown(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert Settings.load().llm_api_key == "sk-openai"
    monkeypatch.setenv("RAG_LLM_API_KEY", "sk-rag")
    settings = Settings.load()
    assert settings.llm_api_key == "sk-rag" and "sk-rag" not in repr(settings)
