"""The disk cache runs nothing it did not check (codegen/cache.py, codegen/kernelcache.py):
planted pickles, swapped sources, bytecode and compiled files of other kernels are recompiled,
never run; unsafe folders are not used; concurrent writers leave a consistent entry."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from adjit.codegen import cache
from adjit.codegen.compile import compile_for, compile_source
from adjit.codegen.cpu import Source

GOOD = Source(textwrap.dedent('''\
    import numpy as np


    def scale(x):
        a0 = np.empty(x.shape, x.dtype)
        for i0 in range(x.shape[0]):
            a0[i0] = 2 * x[i0]
        return (a0,)
    '''), "scale")
EVIL_TEXT = GOOD.text.replace("2 * x[i0]", "3 * x[i0]")  # same function, other result
OTHER = Source(EVIL_TEXT, "scale")

X = np.arange(4.0)


class Planted:
    """Unpickling this creates the marker file: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def _fresh(folder: Path, src: Source = GOOD, x: np.ndarray = X) -> object:
    fn = compile_source(src, folder, signature_args=(x,))
    return fn


def _nbk(folder: Path, src: Source = GOOD) -> list[Path]:
    return sorted((folder / cache.open_folder(folder).entry(src.text).name).glob("*.nbk"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_nothing_unchecked_is_unpickled(folder: Path, tmp_path: Path) -> None:
    fn = _fresh(folder)
    assert fn.stats.cache_misses and fn(X)[0].tolist() == (2 * X).tolist()
    (nbk,) = _nbk(folder)
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Planted(marker))
    key_guess = b"\0" * 32
    for planted in (evil,  # a bare pickle
                    cache.MAGIC + os.urandom(32) + evil,  # a header with a wrong MAC
                    cache.MAGIC + cache.Folder(folder, 1, key_guess, folder)._mac(
                        b"", "", evil) + evil):  # a MAC under another key
        nbk.write_bytes(planted)
        # numba's own cache files, as it would look for them: never read any more
        pyc = folder / "__pycache__"
        pyc.mkdir(exist_ok=True)
        (pyc / f"{cache.open_folder(folder).entry(GOOD.text).name}.scale-4.py311.nbi"
         ).write_bytes(evil)
        fn = _fresh(folder)
        assert fn(X)[0].tolist() == (2 * X).tolist()
        assert fn.stats.cache_misses, "a planted file was loaded"
        assert not marker.exists(), "a planted pickle ran"
    # the recompiled entry is good again: the next load is a hit
    assert _fresh(folder).stats.cache_hits


def test_swapped_source_and_bytecode_do_not_run(folder: Path) -> None:
    fn = _fresh(folder)
    path = Path(fn.__source_path__)
    path.write_text(EVIL_TEXT)
    (path.parent / "__pycache__").mkdir()
    (path.parent / "__pycache__" / "scale.cpython-311.pyc").write_bytes(b"bogus bytecode")
    fn = _fresh(folder)
    assert fn(X)[0].tolist() == (2 * X).tolist()
    assert path.read_text() == GOOD.text  # the swapped file was put right, for tracebacks
    py = compile_source(GOOD, folder, jit=False)
    assert py(X)[0].tolist() == (2 * X).tolist()
    assert not [p for p in folder.rglob("*.pyc") if "bogus" not in p.read_bytes().decode(
        errors="replace")], "adjit wrote bytecode"
    assert not [m for m in sys.modules if m.startswith("adjit_generated_")]


def test_compiled_file_of_another_kernel_is_rejected(folder: Path) -> None:
    _fresh(folder)
    _fresh(folder, OTHER)
    (good,), (other,) = _nbk(folder), _nbk(folder, OTHER)
    assert good.name == other.name  # same signature: same file name in both entries
    good.write_bytes(other.read_bytes())
    fn = _fresh(folder)
    assert fn(X)[0].tolist() == (2 * X).tolist() and fn.stats.cache_misses


def test_compiled_file_of_another_signature_is_rejected(folder: Path) -> None:
    xi = np.arange(4)
    _fresh(folder)
    _fresh(folder, x=xi)
    files = _nbk(folder)
    assert len(files) == 2
    data = [p.read_bytes() for p in files]
    files[0].write_bytes(data[1])  # each signature's file holds the other's code
    files[1].write_bytes(data[0])
    for x in (X, xi):
        fn = _fresh(folder, x=x)
        assert fn(x)[0].tolist() == (2 * x).tolist() and fn.stats.cache_misses


def test_planted_pipes_and_links_are_not_read(folder: Path, tmp_path: Path) -> None:
    fn = _fresh(folder)
    (nbk,) = _nbk(folder)
    src = Path(fn.__source_path__)
    key = cache.open_folder(folder).path / cache.KEY_NAME
    for p in (nbk, src):
        p.unlink()
    os.mkfifo(nbk)  # reading would block forever
    src.symlink_to("/dev/zero")  # reading would never end
    fn = _fresh(folder)
    assert fn(X)[0].tolist() == (2 * X).tolist() and fn.stats.cache_misses
    assert src.read_text() == GOOD.text and not src.is_symlink()
    key.unlink()
    os.mkfifo(key)
    cache._FOLDERS.clear()
    fn = _fresh(folder)
    assert fn(X)[0].tolist() == (2 * X).tolist()
    assert key.is_file() and len(key.read_bytes()) == 32


def test_generated_module_is_not_left_in_sys_modules(folder: Path) -> None:
    fn = _fresh(folder)
    assert fn.__module__ not in sys.modules
    compile_for(fn, np.arange(3, dtype=np.float32))  # a later compile still finds it
    assert fn.__module__ not in sys.modules


# ---- the folder --------------------------------------------------------------------------------
def _uses(requested: Path) -> cache.Folder:
    cache._FOLDERS.clear()
    return cache.open_folder(requested)


def test_private_folder_is_used(tmp_path: Path) -> None:
    f = _uses(tmp_path / "a" / "b")
    assert f.path == tmp_path / "a" / "b" and f.why_not is None
    assert (f.path.stat().st_mode & 0o777) == 0o700
    key = f.path / cache.KEY_NAME
    assert (key.stat().st_mode & 0o777) == 0o600 and len(key.read_bytes()) == 32


def test_folder_writable_by_others_is_not_used(tmp_path: Path) -> None:
    d = tmp_path / "shared"
    d.mkdir()
    d.chmod(0o777)
    with pytest.warns(cache.CacheFolderWarning, match="writable by group or others"):
        f = _uses(d)
    assert f.path != d and (f.path.stat().st_mode & 0o777) == 0o700
    assert f.path.stat().st_uid == os.getuid()
    # a folder inside an open (non-sticky) parent is not safe either: it can be swapped
    with pytest.warns(cache.CacheFolderWarning, match="without the sticky bit"):
        assert _uses(d / "inner").path != d / "inner"
    d.chmod(0o1777)  # like /tmp: others cannot rename what is ours
    assert _uses(d / "inner2").path == d / "inner2"


needs_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to give files away")


@needs_root
def test_folder_of_another_user_is_not_used(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    with pytest.warns(cache.CacheFolderWarning, match="owned by uid 65534"):
        assert _uses(theirs).path != theirs
    link = tmp_path / "link"
    link.symlink_to(theirs)  # our link to their folder
    with pytest.warns(cache.CacheFolderWarning, match="owned by uid 65534"):
        assert _uses(link).path != link
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o700)
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    their_link = sticky / "link"
    their_link.symlink_to(ours)  # their link (in a shared folder) to our folder
    os.lchown(their_link, 65534, 65534)
    with pytest.warns(cache.CacheFolderWarning, match="owned by uid 65534"):
        assert _uses(their_link / "sub").path != their_link / "sub"


@needs_root
def test_key_file_must_be_private(tmp_path: Path) -> None:
    f = _uses(tmp_path / "c")
    fn = compile_source(GOOD, f, signature_args=(X,))
    key = f.path / cache.KEY_NAME
    old = key.read_bytes()
    for spoil in (lambda: key.chmod(0o644), lambda: os.chown(key, 65534, 65534)):
        spoil()
        f = _uses(tmp_path / "c")
        assert f.key != old and key.read_bytes() == f.key
        assert (key.stat().st_mode & 0o777) == 0o600 and key.stat().st_uid == os.getuid()
        old = f.key
        fn = compile_source(GOOD, f, signature_args=(X,))
        assert fn.stats.cache_misses  # entries signed with the old key are not trusted
    key.unlink()
    key.symlink_to(tmp_path / "elsewhere")
    assert not key.is_symlink() or _uses(tmp_path / "c").key != old
    assert not key.is_symlink()


# ---- concurrent writers -----------------------------------------------------------------------
RACE = textwrap.dedent('''
    import sys, numpy as np
    from pathlib import Path
    from adjit.codegen.compile import compile_source
    from adjit.codegen.cpu import Source
    text = Path(sys.argv[2]).read_text()
    for dt in ("f8", "f4", "i8"):
        x = np.arange(5).astype(dt)
        fn = compile_source(Source(text, "scale"), Path(sys.argv[1]), signature_args=(x,))
        assert fn(x)[0].tolist() == (2 * x).tolist(), fn(x)
    print("ok")
''')


def test_concurrent_processes_leave_a_consistent_entry(tmp_path: Path) -> None:
    folder = tmp_path / "race"
    src = tmp_path / "scale.txt"
    src.write_text(GOOD.text)
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(folder), str(src)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0 and out.strip() == "ok", err
        assert "failed its check" not in err
    f = _uses(folder)
    entry = f.entry(GOOD.text)
    files = sorted(entry.iterdir())
    assert [p.suffix for p in files].count(".nbk") == 3 and not [
        p for p in files if p.name.startswith(".tmp")]
    for dt in ("f8", "f4", "i8"):
        x = np.arange(5).astype(dt)
        fn = compile_source(GOOD, f, signature_args=(x,))
        assert fn.stats.cache_hits and fn(x)[0].tolist() == (2 * x).tolist()
