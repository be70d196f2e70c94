"""Serve a GGUF over the OpenAI API with llama-cpp-python's server, on the CPU path the health check chose.

    python -m rag.models.llm.serve [--model NAME_OR_PATH] [any `python -m llama_cpp.server` option]

The model defaults to the settings' llm_model (a bundled alias or a .gguf path), served under that name, so a
knowledge base elsewhere can set llm_backend = "openai", llm_base_url = "http://HOST:8000/v1" and the same
llm_model. The plain `python -m llama_cpp.server` loads with llama.cpp's repacked layouts, whatever they do on
this CPU; this one first runs `rag.models.llm.health` and loads the way that worked. Needs the `server` extra of
llama-cpp-python (`pip install 'llama-cpp-python[server]'`).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from rag.models.llm import health, make_backend
    from rag.models.llm.llama import extra_buffer_types
    from rag.settings import Settings

    args = list(sys.argv[1:] if argv is None else argv)
    settings = Settings.load()
    name = settings.llm_model
    if "--model" in args:
        at = args.index("--model")
        name = args[at + 1]
        del args[at:at + 2]
    generator = make_backend(settings.replace(llm_backend="llama_cpp", llm_model=name))
    verdict = generator.runtime()
    if not verdict.ok:
        sys.exit(f"error: {health.failure_message(verdict)}")
    print(f"serving {generator.name} on {verdict.reason}", file=sys.stderr)
    if "--model_alias" not in args:
        args += ["--model_alias", name]
    if "--n_gpu_layers" not in args:
        args += ["--n_gpu_layers", str(verdict.trial.gpu_layers)]
    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", "--model", str(generator.model_path), *args]
    with extra_buffer_types(verdict.trial.repack):
        serve()

if __name__ == "__main__":
    main()
