"""Does the in-process LLM run on this machine, and which CPU path is faster? Asked in a child process.

llama.cpp compiled for the native CPU can still die on it: on an Intel Xeon VM that advertises AMX, its AMX
weight layout faults at the first tile instruction (`ldtilecfg`), which kills the process that runs it, and a
wheel compiled on another CPU dies with SIGILL. So before the model first loads in-process, `check` runs it
in a child (`rag.models.llm.probe`) with llama.cpp's repacked layouts ("extra buffer types": AMX, AVX2/AVX-512
repack) and without, keeps the faster of those that worked, and records the verdict in the cache directory,
keyed by everything that could change it (the llama.cpp build, the model file, the CPU, the settings).
A later start reads the verdict back in microseconds; `rag doctor` and `rag setup` run it afresh.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.store.atomic import atomic_write_text

VERDICTS = "llm-health.json"
PROBE_TIMEOUT_S = 600.0
# A typical answer reads about 1,000 prompt tokens and writes about 100: the yardstick for "faster".
TYPICAL_PROMPT, TYPICAL_REPLY = 1000, 100
# The repacked layout is llama.cpp's own default; the fallback must be clearly faster to replace it.
MARGIN = 0.10
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "neon", "asimd", "sve")
REBUILD = ("`make llama-portable` in a checkout, or `CMAKE_ARGS=-DGGML_NATIVE=OFF pip install --force-reinstall "
           "--no-cache-dir --no-deps llama-cpp-python`")


@dataclass
class Trial:
    """One run of the model in a child process."""

    repack: bool
    gpu_layers: int
    ok: bool
    error: str = ""  # "killed by SIGSEGV", "exited with 1: ...", "timed out"
    prompt_tps: float = 0.0
    decode_tps: float = 0.0
    log: str = ""  # the tail of the child's stderr, for `rag doctor`

    @property
    def label(self) -> str:
        where = f"GPU ({'all' if self.gpu_layers < 0 else self.gpu_layers} layers)" if self.gpu_layers else "CPU"
        return f"{where}, repacked weights {'on' if self.repack else 'off'}"

    def summary(self) -> str:
        if not self.ok:
            return f"{self.label}: {self.error}"
        return f"{self.label}: runs; prompt {self.prompt_tps:.1f} tokens/s, decode {self.decode_tps:.1f} tokens/s"

    def seconds_per_answer(self) -> float:
        return TYPICAL_PROMPT / self.prompt_tps + TYPICAL_REPLY / self.decode_tps


@dataclass
class Verdict:
    fingerprint: str
    trials: list[Trial] = field(default_factory=list)
    chosen: int | None = None  # index into trials; None when no trial ran
    reason: str = ""
    system_info: str = ""  # llama.cpp's build flags, as the child reported them

    @property
    def ok(self) -> bool:
        return self.chosen is not None

    @property
    def trial(self) -> Trial | None:
        return self.trials[self.chosen] if self.chosen is not None else None

    @classmethod
    def from_json(cls, data: dict) -> "Verdict":
        return cls(**{**data, "trials": [Trial(**t) for t in data.get("trials", [])]})


def cpu_description() -> tuple[str, list[str]]:
    """The CPU's model name and the instruction-set flags that matter to llama.cpp."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    name = value.strip()
                elif key in {"flags", "Features"}:
                    flags.update(value.split())
                    break
    except OSError:
        pass
    return name, [f for f in CPU_FLAGS if f in flags]


def _libraries() -> list[Path]:
    """llama-cpp-python's compiled libraries (libllama, libggml-cpu, and libggml-cuda in a CUDA build...)."""
    spec = importlib.util.find_spec("llama_cpp")
    if not spec or not spec.submodule_search_locations:
        return []
    lib_dir = Path(list(spec.submodule_search_locations)[0]) / "lib"
    return sorted(lib_dir.glob("*")) if lib_dir.is_dir() else []


def gpu_backends() -> list[str]:
    """The GPU backends the build was compiled with ("cuda", "metal", "vulkan"...), read from its library
    files: nothing has to run to know whether trying the GPU makes sense."""
    names = {re.sub(r"\..*", "", lib.name).removeprefix("libggml-") for lib in _libraries()
             if lib.name.startswith("libggml-")}
    return sorted(names - {"base", "cpu"} - {n for n in names if n.startswith("cpu-")})


def _llama_build() -> str:
    """The installed llama-cpp-python: its version and its compiled libraries' sizes and times."""
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
    libs = [f"{lib.name}:{lib.stat().st_size}:{lib.stat().st_mtime_ns}" for lib in _libraries()]
    return f"{version}|{','.join(libs)}"


def fingerprint(model: Path, *, repack: str, gpu_layers: str, threads: int) -> str:
    st = model.stat()
    cpu, flags = cpu_description()
    parts = [_llama_build(), str(model.resolve()), str(st.st_size), str(st.st_mtime_ns), cpu, " ".join(flags),
             repack, gpu_layers, str(threads), sys.executable]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]


def probe(model: Path, *, repack: bool, gpu_layers: int, threads: int = 0,
          timeout: float = PROBE_TIMEOUT_S) -> tuple[Trial, dict]:
    """Run the model once in a child process; a crash there is a failed trial, never a dead caller."""
    command = [sys.executable, "-m", "rag.models.llm.probe", str(model), "--repack", "on" if repack else "off",
               "--gpu-layers", str(gpu_layers), "--threads", str(threads)]
    root = str(Path(__file__).resolve().parents[3])  # so the child imports this very `rag`
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    trial = Trial(repack=repack, gpu_layers=gpu_layers, ok=False)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        trial.error = f"did not finish within {timeout:.0f} s"
        return trial, {}
    trial.log = "\n".join(done.stderr.strip().splitlines()[-15:])
    if done.returncode < 0:
        trial.error = f"killed by {_signal_name(-done.returncode)}"
        return trial, {}
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (ValueError, IndexError):
        report = None
    if report is None:
        last = trial.log.splitlines()[-1] if trial.log else "no output"
        trial.error = f"exited with status {done.returncode}: {last}"
        return trial, {}
    trial.ok = True
    trial.gpu_layers = report["gpu_layers"]
    trial.prompt_tps = report["prompt_tokens"] / max(report["prompt_s"], 1e-6)
    trial.decode_tps = report["decode_tokens"] / max(report["decode_s"], 1e-6)
    return trial, report


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _plan(repack: str, gpu_layers: str) -> list[tuple[bool, int]]:
    layouts = {"auto": [True, False], "on": [True], "off": [False]}[repack]
    if gpu_layers == "auto":
        gpus = [-1, 0] if gpu_backends() else [0]  # all layers on the GPU first, where the build has one
    else:
        gpus = [int(gpu_layers)]
    return [(layout, layers) for layers in gpus for layout in layouts]


def run_trials(model: Path, *, repack: str = "auto", gpu_layers: str = "auto", threads: int = 0) -> Verdict:
    """Run the planned trials and choose. The GPU trials come first; the CPU ones run only when those fail."""
    verdict = Verdict(fingerprint(model, repack=repack, gpu_layers=gpu_layers, threads=threads))
    for layout, layers in _plan(repack, gpu_layers):
        if layers == 0 and any(t.ok and t.gpu_layers != 0 for t in verdict.trials):
            break  # the GPU works: the CPU is not tried
        if layers == 0 and any(t.gpu_layers == 0 and t.repack == layout for t in verdict.trials):
            continue  # a GPU trial found no usable GPU and already ran this layout on the CPU
        trial, report = probe(model, repack=layout, gpu_layers=layers, threads=threads)
        verdict.trials.append(trial)
        verdict.system_info = verdict.system_info or report.get("system_info", "")
    working = [i for i, t in enumerate(verdict.trials) if t.ok]
    if not working:
        verdict.reason = "; ".join(f"{t.label}: {t.error}" for t in verdict.trials)
        return verdict
    best = min(working, key=lambda i: verdict.trials[i].seconds_per_answer())
    first = working[0]
    why = "faster by more than {:.0%}".format(MARGIN)
    if verdict.trials[best].seconds_per_answer() > (1 - MARGIN) * verdict.trials[first].seconds_per_answer():
        best, why = first, f"llama.cpp's default; the other layout was not faster by {MARGIN:.0%}"
    verdict.chosen = best
    failed = [t for t in verdict.trials if not t.ok]
    notes = [f"{t.label}: {t.error}" for t in failed] + ([why] if len(working) > 1 else [])
    verdict.reason = verdict.trials[best].label + (f" ({'; '.join(notes)})" if notes else "")
    return verdict


def check(model: Path, cache_dir: Path, *, repack: str = "auto", gpu_layers: str = "auto", threads: int = 0,
          fresh: bool = False) -> Verdict:
    """The recorded verdict for this build, model, CPU and settings, or a new one (seconds: it runs the model)."""
    model = Path(model)
    key = fingerprint(model, repack=repack, gpu_layers=gpu_layers, threads=threads)
    path = Path(cache_dir) / VERDICTS
    saved = _read(path)
    if not fresh and key in saved:
        return Verdict.from_json(saved[key])
    verdict = run_trials(model, repack=repack, gpu_layers=gpu_layers, threads=threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = _read(path)  # another process may have added its own verdict meanwhile
    saved[key] = asdict(verdict)
    atomic_write_text(path, json.dumps(saved, indent=1, ensure_ascii=False))
    return verdict


def recorded(model: Path, cache_dir: Path, *, repack: str = "auto", gpu_layers: str = "auto",
             threads: int = 0) -> Verdict | None:
    """The verdict on record, without running anything (for a status line)."""
    try:
        key = fingerprint(Path(model), repack=repack, gpu_layers=gpu_layers, threads=threads)
    except OSError:
        return None
    data = _read(Path(cache_dir) / VERDICTS).get(key)
    return Verdict.from_json(data) if data else None


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def failure_message(verdict: Verdict) -> str:
    """What a user reads when the model cannot run here: the cause, then the fixes."""
    return (f"the LLM cannot run on this machine: {verdict.reason}. Answers and re-ranking are off; search "
            f"still works. If llama.cpp was compiled on another CPU, rebuild it for this one: "
            f"{REBUILD}; or set llm_backend = \"openai\" and llm_base_url to use an LLM server. "
            f"`rag doctor` shows the details.")
