"""Loaded at start-up by every Python process whose PYTHONPATH has this folder (the crash and concurrency
tests put it there for the real `rag` command they run):

- RAG_TEST_FAKE_EMBEDDER=1: the knowledge base embeds with the tests' deterministic fake, so a `rag ingest`
  takes a second instead of loading the real model.
- RAG_TEST_KILL_AT=N: the process SIGKILLs itself at the N-th step that matters for durability: a write
  transaction begun or committed, a file about to replace another or just replaced, old data about to be
  removed. RAG_TEST_STEPS=FILE receives the count of steps when the process exits normally, so a test can
  spread its kill points over a whole run.
- RAG_TEST_HOLD=SECONDS: the first write transaction sleeps that long before it commits, so a competing
  writer reliably starts while this one holds the lock.
"""

import os
import sys

# Parse workers (spawned: "--multiprocessing-fork") neither write nor embed, so they start unpatched and quick.
if "--multiprocessing-fork" not in sys.argv and (os.environ.get("RAG_TEST_KILL_AT") or os.environ.get("RAG_TEST_STEPS") or os.environ.get("RAG_TEST_FAKE_EMBEDDER") \
        or os.environ.get("RAG_TEST_HOLD")):
    import atexit
    import signal
    import time

    _kill_at = int(os.environ.get("RAG_TEST_KILL_AT") or 0)
    _hold = float(os.environ.get("RAG_TEST_HOLD") or 0)
    _steps = [0]
    _held: list[bool] = []

    def _step() -> None:
        _steps[0] += 1
        if _steps[0] == _kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def _report() -> None:
        if os.environ.get("RAG_TEST_STEPS") and _steps[0]:
            with open(os.environ["RAG_TEST_STEPS"], "w") as f:
                f.write(str(_steps[0]))

    atexit.register(_report)

    def _install() -> None:
        from rag import api
        from rag.store import kbdb, layout

        enter, exit_ = kbdb._Transaction.__enter__, kbdb._Transaction.__exit__

        def entered(self):
            gen = enter(self)
            _step()
            return gen

        def exited(self, exc_type, exc, tb):
            if exc_type is None and _hold and not _held:
                _held.append(True)
                time.sleep(_hold)
            result = exit_(self, exc_type, exc, tb)
            _step()
            return result

        kbdb._Transaction.__enter__, kbdb._Transaction.__exit__ = entered, exited
        replace = os.replace

        def replacing(src, dst, *args, **kwargs):
            _step()
            replace(src, dst, *args, **kwargs)
            _step()

        os.replace = replacing  # in this process the replaces that matter are rag.store.atomic's
        collect = layout.collect_garbage

        def collecting(kb, data_dir):
            if any(p.name.startswith(layout.DATA_PREFIX) for p in kb.iterdir()):
                _step()
            return collect(kb, data_dir)

        layout.collect_garbage = collecting

        if os.environ.get("RAG_TEST_FAKE_EMBEDDER"):
            from tests.conftest import FakeEmbedder

            def fake(self):
                if self._embedder is None:
                    self._embedder = FakeEmbedder()
                return self._embedder

            api.KnowledgeBase._load_embedder = fake

    _install()
