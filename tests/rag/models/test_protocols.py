"""The real model classes and the tests' fakes meet the interfaces the facade calls, so it never probes them."""

import inspect

from rag.models import Backend, Embedder, Generator, Scorer
from rag.models.embedder import SentenceTransformerEmbedder
from rag.models.llm.llama import LlamaGenerator
from rag.models.llm.server import ServerGenerator
from tests.conftest import FakeEmbedder, FakeGenerator


def _members(protocol) -> set[str]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    return names


def test_the_backends_are_generators_that_score_and_report_how_they_run(tmp_path):
    for backend in (LlamaGenerator(tmp_path / "model.gguf"), ServerGenerator("http://127.0.0.1:9", "m")):
        assert isinstance(backend, Backend) and isinstance(backend, Scorer)
        assert inspect.isgeneratorfunction(type(backend).stream)  # closable: a reader may stop early


def test_the_embedders_have_every_member_of_the_interface():
    real = SentenceTransformerEmbedder("intfloat/multilingual-e5-small")  # stores the name; loads nothing
    for embedder in (real, FakeEmbedder()):
        missing = {name for name in _members(Embedder) if not hasattr(type(embedder), name)
                   and name not in vars(embedder)}
        assert not missing, f"{type(embedder).__name__} lacks {missing}"
    assert not real.loaded


def test_the_fake_generator_writes_but_does_not_score():
    fake = FakeGenerator()
    assert {"stream", "count_tokens", "name"} <= _members(Generator) and not isinstance(fake, Scorer)
    assert inspect.isgeneratorfunction(FakeGenerator.stream)
