"""The app server hands memory a script run freed back to the OS (glibc keeps it otherwise)."""
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "app"))
from ui import frame  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.skipif(frame._MALLOC_TRIM is None or not Path("/proc/self/status").exists(),
                    reason="glibc's malloc_trim and /proc are Linux-only")
def test_memory_a_finished_run_freed_goes_back_to_the_os():
    kept = []

    def script_run():  # like a Streamlit rerun: a thread of its own, with its own malloc arena
        chunks = [bytearray(4096) for _ in range(50_000)]  # ~200 MB in heap chunks, below mmap's threshold
        kept.append(bytearray(4096))  # what the run cached: it pins the arena's top, so glibc keeps the rest
        del chunks

    worker = threading.Thread(target=script_run)
    worker.start()
    worker.join()
    before = rss_mb()
    frame._last_trim[0] = 0.0
    frame.release_memory()
    assert rss_mb() < before - 150, "the freed chunks stayed resident"
    held = rss_mb()
    frame.release_memory()  # a second call within TRIM_INTERVAL_S is skipped (every click would pay for it)
    assert frame._last_trim[0] > 0 and rss_mb() <= held + 5


def test_collections_after_a_run_skip_what_imports_built_but_still_free_new_cycles(monkeypatch):
    """Streamlit collects garbage after every run; frozen import-time objects keep that cheap, and
    cycles the app makes later (figures, traces) are still freed."""
    import gc
    import types
    import weakref

    class Node:
        pass

    frame._frozen_at[0] = len(sys.modules)  # as after the last freeze
    monkeypatch.setitem(sys.modules, "gatescope_test_new_module", types.ModuleType("gatescope_test_new_module"))
    frame.freeze_imports()  # new modules arrived: everything alive moves out of the collector's walk
    frozen = gc.get_freeze_count()
    assert frozen > 0 and len(gc.get_objects()) < frozen
    made_by_a_run = Node()
    frame.freeze_imports()  # nothing new imported: no freeze, so what runs create stays collectable
    assert any(o is made_by_a_run for o in gc.get_objects())  # the collector still walks it
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle only the collector can free
    alive = weakref.ref(a)
    del a, b
    gc.collect()
    assert alive() is None


def test_cycles_alive_at_a_freeze_are_freed_at_the_next_refreeze(monkeypatch):
    """What other sessions held when the frame froze (a cycle that dies later) does not stay for the
    life of the server: it goes at the refreeze."""
    import gc
    import types
    import weakref

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    frame._frozen_at[0] = len(sys.modules)  # as after the last freeze
    monkeypatch.setitem(sys.modules, "gatescope_test_other_module", types.ModuleType("gatescope_test_other_module"))
    frame.freeze_imports()  # the cycle is alive, so it is frozen
    del a, b
    gc.collect()
    assert alive() is not None  # frozen: the collector does not walk it
    frame._frozen_at[1] -= frame.REFREEZE_S
    frame.freeze_imports()
    assert alive() is None
