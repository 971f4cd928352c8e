"""runtime/gcpause.py: the collector waits during adjit's bounded start-up work, and only then."""
import gc
import subprocess
import sys
import threading

from adjit.runtime.gcpause import gc_paused


def test_paused_inside_enabled_after():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_program_that_disabled_the_collector_keeps_it_disabled():
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_enabled_again_after_an_error():
    try:
        with gc_paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.isenabled()


def test_overlapping_sections_in_threads_enable_it_once_both_end():
    inside, leave = threading.Event(), threading.Event()

    def worker():
        with gc_paused():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=worker)
    with gc_paused():
        t.start()
        assert inside.wait(10)
    assert not gc.isenabled(), "the thread's section is still open"
    leave.set()
    t.join(10)
    assert gc.isenabled()


def test_garbage_made_while_paused_is_collected_when_it_ends():
    class Node:
        pass

    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        import weakref
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None
    assert gone() is None, "collected as the pause ended (gc.collect(1))"


def test_import_adjit_leaves_the_collector_as_it_found_it():
    code = ("import gc, sys\n"
            "enabled = sys.argv[1] == '1'\n"
            "None if enabled else gc.disable()\n"
            "import adjit, numpy as np\n"
            "adjit.grad(lambda x: np.sum(np.sin(x)))(np.ones(3))\n"
            "assert gc.isenabled() == enabled, gc.isenabled()\n")
    for enabled in ("1", "0"):
        subprocess.run([sys.executable, "-c", code, enabled], check=True, timeout=300)
