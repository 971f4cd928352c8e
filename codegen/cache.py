"""The on-disk kernel cache: a private folder, files checked before numba reads them, a size bound.

A cache folder (ADJIT_CACHE_DIR, default ~/.cache/adjit) holds:

    .adjit-key        32 random bytes, mode 0600: this folder's HMAC key
    <digest>/         one entry per generated module; digest = sha256 of its code (its text,
                      comment lines blanked: `code_hash`), 20 hex digits
      <name>.py       the text, for tracebacks and reading: never imported, executed or trusted
      <tag>.nbk       numba's code for one argument signature: b"ADJK1", HMAC-SHA256, pickle
    <key>/            the generated source of one graph (codegen/source_cache.py: key = sha256
      source.nbk      of the graph, options and code generator), b"ADJK1", HMAC-SHA256, JSON

Rules (the README's "The disk cache" says them to users):
- The folder must be owned by the user and writable by no one else, and so must every folder
  above it be (owned by root or the user; group- or other-writable only with the sticky bit,
  as /tmp). `open_folder` checks this once per process, as ssh checks its keys; an unsafe or
  unwritable folder is not used: adjit warns and takes a fresh private folder (mkdtemp, 0700)
  for the process.
- Nothing read from the folder is executed or unpickled before its HMAC is verified. The HMAC
  binds the bytes to the sha256 of the module's code and to the signature tag, so a damaged
  file, a file of another kernel or signature, a half-written or planted file fails the check;
  it is recompiled, never run. Generated modules are compiled from the text in memory.
- Every file is written under a temporary name and renamed into place, so concurrent writers
  leave one complete file (each is valid on its own).
- Size: after a process writes, the folder is scanned (its first write, then every
  `SCAN_EVERY` writes or max_bytes/8 bytes) and least recently used entries are removed, whole
  (renamed away, then deleted), until it is under 80% of max_bytes. A kernel load touches its
  entry; a call of a compiled function does no file-system work.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("adjit")

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
KEY_NAME = ".adjit-key"
MAGIC = b"ADJK1"
SCAN_EVERY = 64  # writes between two scans of the folder (and max_bytes / 8 bytes)
DEFAULT_MAX_BYTES = 500 * 2**20
_ENTRY = re.compile(r"[0-9a-f]{20}")
# files of the layout before entries (flat <digest>.py, numba's __pycache__): `clear` removes them
_LEGACY = re.compile(r"[0-9a-f]{20}\.py|\.tmp-.*\.py")


class CacheFolderWarning(UserWarning):
    """The cache folder is not safe or not writable; a private temporary folder is used."""


def code_hash(text: str) -> bytes:
    """The sha256 of a generated module's code: its text with each line that is only a
    comment blanked to `#` (they name the user's `file:line` for each statement, and the
    kernel plan), so the same graph generated from another script, whose code is the same,
    finds the same entry. Line numbers are kept, so the compiled code's line table is too."""
    lines = text.split("\n")
    code = "\n".join("#" if ln.lstrip().startswith("#") else ln for ln in lines)
    return hashlib.sha256(code.encode()).digest()


def unsafe_reason(path: Path) -> str | None:
    """Why `path` must not hold the cache (None: it may). The folder must be a directory owned
    by the user and not writable by group or others; every folder above it (as written and as
    resolved through symbolic links) must be owned by root or the user and not writable by
    group or others unless it has the sticky bit; a symbolic link on the way must be owned by
    root or the user."""
    if not hasattr(os, "getuid"):  # Windows: folders carry ACLs, not owners and modes
        return None
    uid = os.getuid()
    path = Path(os.path.abspath(path))
    try:
        st = os.stat(path)
    except OSError as e:
        return f"it cannot be read ({e.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a folder"
    if st.st_uid != uid:
        return f"it is owned by uid {st.st_uid}, not by you (uid {uid})"
    if st.st_mode & 0o022:
        return f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    real = Path(os.path.realpath(path))
    for folder in [*path.parents, *real.parents]:
        try:
            lst = os.lstat(folder)
            st = os.stat(folder)
        except OSError as e:
            return f"{folder} cannot be read ({e.strerror})"
        for s in (lst, st):
            if s.st_uid not in (0, uid):
                return f"{folder} is owned by uid {s.st_uid}, neither root nor you"
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return (f"{folder} is writable by group or others without the sticky bit "
                    f"(mode {stat.S_IMODE(st.st_mode):o})")
    if path != real and (reason := unsafe_reason(real)) is not None:
        return reason
    return None


@dataclass(frozen=True)
class Info:
    folder: Path
    entries: int
    bytes: int
    max_bytes: int
    requested: Path  # the folder asked for (differs from `folder` after a fallback)
    why_not: str | None  # why the requested folder is not used


class Folder:
    """One cache folder, as this process uses it (see the module docstring)."""

    def __init__(self, path: Path, max_bytes: int, key: bytes, requested: Path,
                 why_not: str | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.key = key
        self.requested = requested
        self.why_not = why_not
        self._writes = 0  # files and bytes written since the last scan
        self._written = 0
        self._scanned = False  # in this process

    # ---- entries --------------------------------------------------------------------------
    def entry(self, text: str) -> Path:
        return self.path / code_hash(text).hex()[:20]

    def source_path(self, text: str, name: str) -> Path:
        return self.entry(text) / f"{name}.py"

    def write_source(self, text: str, name: str) -> Path:
        """Write the text once; a file with the right content is left alone, a damaged or
        swapped one is replaced (it is only read by tracebacks and people)."""
        path = self.source_path(text, name)
        data = text.encode()
        if _read_regular(path, len(data) + 1) != data:
            self._write(path, data)
        return path

    def touch(self, entry: Path) -> None:
        """Mark an entry used now (its folder's mtime is its last use)."""
        try:
            os.utime(entry)
        except OSError:
            pass

    # ---- compiled kernels -----------------------------------------------------------------
    def _mac(self, text_hash: bytes, tag: str, payload: bytes) -> bytes:
        msg = b"adjit-kernel\0" + text_hash + tag.encode() + b"\0" + payload
        return hmac.new(self.key, msg, hashlib.sha256).digest()

    def read_kernel(self, entry: Path, text_hash: bytes, tag: str) -> bytes | None:
        """The verified payload of `entry/<tag>.nbk`, or None (missing, or failing the check:
        then it is deleted and will be recompiled)."""
        path = entry / f"{tag}.nbk"
        data = _read_regular(path)
        if data is None:
            return None
        head = len(MAGIC) + 32
        if data[:len(MAGIC)] == MAGIC and len(data) > head:
            payload = data[head:]
            if hmac.compare_digest(data[len(MAGIC):head], self._mac(text_hash, tag, payload)):
                return payload
        log.warning("cache file %s failed its check (damaged, or not written by adjit "
                    "for this kernel): recompiling", path)
        _unlink(path)
        return None

    def write_kernel(self, entry: Path, text_hash: bytes, tag: str, payload: bytes) -> None:
        data = MAGIC + self._mac(text_hash, tag, payload) + payload
        self._write(entry / f"{tag}.nbk", data)
        self._note_write(len(data))

    def remove_kernels(self, entry: Path) -> None:
        for p in _files(entry):
            if p.name.endswith(".nbk"):
                _unlink(p)

    def _write(self, path: Path, data: bytes) -> None:
        """Write `data` to `path` atomically: a unique temporary name, then a rename."""
        for attempt in (0, 1):
            try:
                path.parent.mkdir(mode=0o700, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
                break
            except FileNotFoundError:  # the entry was evicted meanwhile: make it again
                if attempt:
                    raise
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            _unlink(Path(tmp))
            raise

    # ---- size bound -----------------------------------------------------------------------
    def _note_write(self, nbytes: int) -> None:
        self._writes += 1
        self._written += nbytes
        if (not self._scanned or self._writes >= SCAN_EVERY
                or self._written >= self.max_bytes // 8):
            self._scanned = True
            self._writes = self._written = 0
            self.evict()

    def scan(self, old_layout: bool = False) -> list[tuple[float, int, Path]]:
        """(last use, bytes, path) of every entry; removes leftovers of crashed writers and
        evictions on the way, and with `old_layout` the files of adjit's layout before
        entries (which a process of an older adjit may still be using)."""
        entries = []
        now = time.time()
        for d in _scandir(self.path):
            name = d.name
            if _ENTRY.fullmatch(name) and d.is_dir(follow_symlinks=False):
                size = 0
                for f in _scandir(Path(d.path)):
                    try:
                        st = f.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if f.name.startswith(".tmp-") and now - st.st_mtime > 600:
                        _unlink(Path(f.path))
                        continue
                    size += st.st_size
                try:
                    entries.append((d.stat(follow_symlinks=False).st_mtime, size, Path(d.path)))
                except OSError:
                    pass
            elif name.startswith(".trash-") or old_layout and (
                    name == "__pycache__" or _LEGACY.fullmatch(name)):
                _remove(Path(d.path))
        return entries

    def evict(self) -> int:
        """Remove least recently used entries until the folder is under 80% of max_bytes (when
        it is over max_bytes); returns how many were removed."""
        entries = self.scan()
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return 0
        removed = 0
        for _, size, path in sorted(entries):
            if total <= 0.8 * self.max_bytes:
                break
            _remove(path)
            total -= size
            removed += 1
        log.info("cache %s over its %d MB limit: removed %d least recently used "
                 "entries", self.path, self.max_bytes // 2**20, removed)
        return removed

    def info(self) -> Info:
        entries = self.scan()
        return Info(self.path, len(entries), sum(size for _, size, _ in entries),
                    self.max_bytes, self.requested, self.why_not)

    def clear(self) -> int:
        """Remove every entry, and the files of the old layout (the key stays); returns how
        many entries."""
        entries = self.scan(old_layout=True)
        for _, _, path in entries:
            _remove(path)
        return len(entries)


_FOLDERS: dict[tuple[str, int], Folder] = {}


def open_folder(requested: Path | str, max_bytes: int = DEFAULT_MAX_BYTES,
                key: bytes | None = None) -> Folder:
    """The cache folder to use for `requested`, checked once per process (see `unsafe_reason`):
    created (mode 0700) when missing; when it is unsafe or unwritable, a fresh private folder
    with a CacheFolderWarning. `key` (for a compile worker) is the key its parent read."""
    requested = Path(os.path.abspath(requested))
    memo = (str(requested), max_bytes)
    folder = _FOLDERS.get(memo)
    if folder is not None:
        return folder
    why = None
    try:
        requested.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        why = f"it cannot be created ({e.strerror})"
    why = why or unsafe_reason(requested)
    if why is None and not os.access(requested, os.W_OK | os.X_OK):
        why = "it is not writable"
    if why is None:
        try:
            folder = Folder(requested, max_bytes, key or _read_key(requested), requested)
        except OSError as e:
            why = f"its key file cannot be written ({e.strerror})"
    if folder is None:
        folder = _private_folder(requested, max_bytes, why)
    _FOLDERS[memo] = folder
    return folder


_PRIVATE: list[Path] = []


def _private_folder(requested: Path, max_bytes: int, why: str | None) -> Folder:
    if not _PRIVATE:
        import atexit

        path = Path(tempfile.mkdtemp(prefix="adjit-"))  # mode 0700, unpredictable name
        _PRIVATE.append(path)
        atexit.register(shutil.rmtree, path, True)
    path = _PRIVATE[0]
    warnings.warn(f"adjit: not using the cache folder {requested}: {why}. Compiled code is "
                  f"cached in {path} for this process only. Set ADJIT_CACHE_DIR to a folder only "
                  f"you can write (chmod 700).", CacheFolderWarning,
                  stacklevel=4)
    # its key lives only in memory: nothing in this folder survives the process
    return Folder(path, max_bytes, secrets.token_bytes(32), requested, why)


def _read_key(folder: Path) -> bytes:
    """This folder's key: created once (0600, by a rename that cannot replace another
    process's), and accepted only as a regular file of ours that no one else can read."""
    path = folder / KEY_NAME
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
        except FileNotFoundError:
            fd = -1
        except OSError:  # a symbolic link, or unreadable: replace it
            _unlink(path)
            continue
        if fd >= 0:
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                ok = stat.S_ISREG(st.st_mode) and (not hasattr(os, "getuid") or (
                    st.st_uid == os.getuid() and not st.st_mode & 0o077))
                key = f.read(64) if ok else b""
            if len(key) == 32:
                return key
            log.warning("cache key %s is not a private file of yours: replaced (every "
                        "entry will be recompiled)", path)
            _unlink(path)
            continue
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            os.link(tmp, path)  # fails if another process made one meanwhile: use that
        except FileExistsError:
            pass
        finally:
            _unlink(Path(tmp))
    raise OSError(0, f"no usable key file at {path}")


# ---- small helpers ----------------------------------------------------------------------------
def _read_regular(path: Path, limit: int = -1) -> bytes | None:
    """The bytes of a regular file (at most `limit`), never following a symbolic link or
    blocking on a pipe planted in its place; None if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(limit)


def _scandir(path: Path) -> list[Any]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def _files(path: Path) -> list[Path]:
    return [Path(d.path) for d in _scandir(path)]


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _remove(path: Path) -> None:
    """Remove a file or a whole entry: an entry is first renamed away (atomic), so no process
    ever sees half of one."""
    if not path.is_dir() or path.is_symlink():
        _unlink(path)
        return
    trash = path.parent / f".trash-{path.name}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.rename(path, trash)
    except OSError:
        if not path.name.startswith(".trash-"):
            return
        trash = path
    shutil.rmtree(trash, ignore_errors=True)
