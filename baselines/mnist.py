"""The real MNIST (LeCun, Cortes, Burges) as torch tensors, from IDX files.

Where the files are looked for, in order: ``<data_dir>/mnist/`` and ``<data_dir>/``,
each file either gzipped (``train-images-idx3-ubyte.gz``) or not
(``train-images-idx3-ubyte``). ``data_dir`` is the harness's data folder
(``--data-dir`` or ``$SPARSEBENCH_DATA``). When it is None, the project's shared data
folder (``../shared/data`` beside the repository, when it exists) and then the user
cache (``$XDG_CACHE_HOME/sparsebench`` or ``~/.cache/sparsebench``) are searched, and
downloads go to the user cache.

Every file is checked against the SHA-256 of its *decompressed* content (the
standard MNIST files; see ``../shared/data/README.md``); a file that does not match
is refused with a message naming it. Missing files are downloaded into
``<data_dir>/mnist/`` (or the user cache) from a public mirror (``MIRRORS``, or ``base_url``, or
``$SPARSEBENCH_MNIST_URL``), verified the same way, and written atomically. When no
mirror answers, the error says where the loader looked and how to fix it.

Decoded tensors are cached per process (uint8, 55 MB); each call returns fresh
float32 tensors, so callers may modify them. A failed download is remembered for the
process too, so a suite of many cells does not wait on unreachable mirrors once per cell.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch

FILES: dict[str, str] = {  # name (decompressed) -> SHA-256 of the decompressed content
    "train-images-idx3-ubyte":
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte":
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte":
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte":
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# torchvision's mirror list; each serves the four .gz files under these names.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
URL_ENV = "SPARSEBENCH_MNIST_URL"
TIMEOUT_S = 30.0
FIX = ("Fix: put the four MNIST IDX files (gzipped or not) in <folder>/mnist/ and pass "
       "--data-dir <folder> or set SPARSEBENCH_DATA=<folder> (in this project: ../shared/data), "
       "or allow network access so they can be downloaded.")


class MnistError(RuntimeError):
    """The MNIST files are missing, corrupt or not the standard ones."""


_cache: dict[tuple[tuple[str, ...], str], torch.Tensor] = {}
_failed: dict[tuple, MnistError] = {}  # (cache key, mirrors) of failed downloads
_lock = threading.Lock()
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def default_data_dir() -> Path:
    """The user cache: where downloads go when no data folder is given."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "sparsebench"


def search_dirs(data_dir: Path | str | None) -> list[Path]:
    """The data folders searched, first to last; downloads go to the last one."""
    if data_dir is not None:
        return [Path(data_dir).resolve()]
    shared = [SHARED_DATA] if SHARED_DATA.is_dir() else []
    return [*shared, default_data_dir().resolve()]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decompress(raw: bytes, where: str) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as err:
        raise MnistError(f"{where}: not a valid gzip file ({err})") from None


def _verified(name: str, raw: bytes, where: str) -> bytes:
    """Decompressed content of ``raw`` if its SHA-256 is the standard one, else MnistError."""
    data = _decompress(raw, where)
    digest = _sha256(data)
    if digest != FILES[name]:
        raise MnistError(
            f"{where}: wrong checksum: the SHA-256 of its decompressed content is {digest}, "
            f"expected {FILES[name]} (the standard {name}). The file is corrupt or not "
            "MNIST; delete or replace it.")
    return data


def _find(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    return None


def _mirrors(base_url: str | None) -> list[str]:
    if base_url:
        return [base_url]
    if os.environ.get(URL_ENV):
        return [os.environ[URL_ENV]]
    return list(MIRRORS)


def _download(name: str, target_dir: Path, mirrors: list[str]) -> tuple[Path | None, list[str]]:
    """Fetch ``name``.gz from the first mirror that serves a verified copy.

    Returns (path, []) on success, (None, reasons) when no mirror gave a good file.
    """
    reasons = []
    for base in mirrors:
        url = base.rstrip("/") + f"/{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                raw = response.read()
            _verified(name, raw, url)
        except (urllib.error.URLError, OSError, ValueError, MnistError) as err:
            reasons.append(f"{url}: {getattr(err, 'reason', err)}")
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{name}.gz"
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target, []
    return None, reasons


def _parse_idx(data: bytes, name: str, where: str) -> np.ndarray:
    """An IDX file's array: images (n, 28, 28) or labels (n,), uint8."""
    ndim = 3 if "images" in name else 1
    magic = int.from_bytes(data[:4], "big")
    if magic != 0x0800 + ndim:
        raise MnistError(f"{where}: not an IDX uint8 file with {ndim} dimensions "
                         f"(magic {magic:#010x})")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise MnistError(f"{where}: {len(body)} bytes of data, expected {dims}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _load_file(name: str, data_dirs: list[Path], base_url: str | None,
               download: bool) -> torch.Tensor:
    folders = [f for d in data_dirs for f in (d / "mnist", d)]
    path = _find(name, folders)
    if path is None:
        why = "downloading is switched off"
        if download:
            path, reasons = _download(name, data_dirs[-1] / "mnist", _mirrors(base_url))
            why = f"the download failed ({'; '.join(reasons)})"
        if path is None:
            looked = ", ".join(str(f / f"{name}[.gz]") for f in folders)
            raise MnistError(f"MNIST file {name} not found: looked for {looked}; {why}. {FIX}")
    data = _verified(name, path.read_bytes(), str(path))
    return torch.from_numpy(_parse_idx(data, name, str(path)).copy())


def load_mnist(data_dir: Path | str | None = None, *, base_url: str | None = None,
               download: bool = True) -> dict[str, torch.Tensor]:
    """Return ``x_train`` (60000, 784), ``y_train`` (60000,), ``x_test`` (10000, 784),
    ``y_test`` (10000,): x float32 in [0, 1] (pixel / 255, nothing else), y int64.

    Fresh tensors on the CPU at every call; the decoded files are cached per process.
    Raises :class:`MnistError` when a file is missing and cannot be downloaded, or its
    checksum is wrong.
    """
    dirs = search_dirs(data_dir)
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        tensors = {}
        for kind in ("images", "labels"):
            name = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
            key = (tuple(map(str, dirs)), name)
            failed_key = (key, tuple(_mirrors(base_url)))
            with _lock:
                if failed_key in _failed:  # do not wait on the same dead mirrors per cell
                    raise _failed[failed_key]
                if key not in _cache:
                    try:
                        _cache[key] = _load_file(name, dirs, base_url, download)
                    except MnistError as err:
                        if download and "download failed" in str(err):
                            _failed[failed_key] = err
                        raise
                tensors[kind] = _cache[key]
        images, labels = tensors["images"], tensors["labels"]
        if len(images) != len(labels):
            raise MnistError(f"{dirs}: {len(images)} {split} images but {len(labels)} labels")
        out[f"x_{split}"] = images.reshape(len(images), -1).to(torch.float32).div_(255.0)
        out[f"y_{split}"] = labels.to(torch.int64)
    return out


def clear_cache() -> None:
    """Forget the decoded files (tests use it to load from another folder state)."""
    with _lock:
        _cache.clear()
        _failed.clear()
