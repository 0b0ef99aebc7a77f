"""The MNIST loader: real data, checksums, gzip or not, the missing-file error, download.

Real files come from $SPARSEBENCH_DATA or ../shared/data (see its README). The
download path is tested offline against a local http.server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from baselines import mnist
from baselines.mnist import FILES, MnistError, clear_cache, load_mnist
from tests.conftest import DATA, needs_mnist

SOURCE = DATA / "mnist"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

pytestmark = needs_mnist


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def _copy_mnist(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy(SOURCE / f"{name}.gz", folder / f"{name}.gz")
    return folder


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served folder): a local HTTP server, quiet, on a free port."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more


# ------------------------------------------------------------------ real data


def test_real_mnist_shapes_label_counts_and_mean_pixel():
    d = load_mnist(DATA)
    assert d["x_train"].shape == (60000, 784) and d["x_train"].dtype == torch.float32
    assert d["x_test"].shape == (10000, 784) and d["x_test"].dtype == torch.float32
    assert d["y_train"].dtype == torch.int64 and d["y_test"].dtype == torch.int64
    assert torch.bincount(d["y_train"]).tolist() == TRAIN_COUNTS
    assert torch.bincount(d["y_test"]).tolist() == TEST_COUNTS
    assert d["x_train"].min().item() == 0.0 and d["x_train"].max().item() == 1.0
    # README: mean training pixel 33.318, 0.1307 after scaling to [0, 1]
    assert d["x_train"].double().mean().item() * 255 == pytest.approx(33.318, abs=5e-4)
    assert d["x_train"].double().mean().item() == pytest.approx(0.1307, abs=5e-5)


def test_cached_in_process_and_fresh_tensors_each_call(tmp_path: Path):
    folder = _copy_mnist(tmp_path / "mnist")
    first = load_mnist(tmp_path)
    for f in folder.iterdir():  # the files are gone: a second call must use the cache
        f.unlink()
    first["x_train"].zero_()  # callers own what they get
    again = load_mnist(tmp_path, download=False)
    assert again["x_train"].sum().item() > 0
    assert torch.equal(again["y_test"], first["y_test"])


def test_uncompressed_files_and_files_directly_in_the_folder(tmp_path: Path):
    for name in FILES:  # no mnist/ subfolder, and plain IDX instead of gzip
        (tmp_path / name).write_bytes(gzip.decompress((SOURCE / f"{name}.gz").read_bytes()))
    plain = load_mnist(tmp_path, download=False)
    clear_cache()
    zipped = load_mnist(DATA)
    for key in zipped:
        assert torch.equal(plain[key], zipped[key]), key


# ------------------------------------------------------------------ refusals


def test_wrong_checksum_is_refused_naming_the_file(tmp_path: Path):
    folder = _copy_mnist(tmp_path / "mnist")
    bad = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(bad.read_bytes()))
    data[100] = (data[100] + 1) % 10  # one label changed: still a valid IDX file
    bad.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(MnistError) as err:
        load_mnist(tmp_path, download=False)
    message = str(err.value)
    assert str(bad) in message and "checksum" in message
    assert FILES["t10k-labels-idx1-ubyte"] in message  # says what it expected


def test_missing_files_without_network_give_a_clear_error(tmp_path: Path):
    empty, dead = tmp_path / "nothing-here", _closed_port_url()
    with pytest.raises(MnistError) as err:
        load_mnist(empty, base_url=dead)
    message = str(err.value)
    assert str(empty.resolve() / "mnist") in message  # where it looked
    assert "SPARSEBENCH_DATA" in message and "--data-dir" in message  # how to fix it
    assert "download failed" in message
    assert not (empty / "mnist").exists() or not any((empty / "mnist").iterdir())
    with pytest.raises(MnistError) as again:  # remembered: no second wait on dead mirrors
        load_mnist(empty, base_url=dead)
    assert again.value is err.value


def test_download_switched_off(tmp_path: Path):
    with pytest.raises(MnistError, match="downloading is switched off"):
        load_mnist(tmp_path, download=False)


# ------------------------------------------------------------------ download


def test_download_from_a_local_mirror(server, tmp_path: Path):
    url, served = server
    _copy_mnist(served)
    target = tmp_path / "data"
    d = load_mnist(target, base_url=url)
    assert sorted(p.name for p in (target / "mnist").iterdir()) == \
        sorted(f"{name}.gz" for name in FILES)  # no partial files left behind
    assert torch.bincount(d["y_test"]).tolist() == TEST_COUNTS
    clear_cache()
    again = load_mnist(target, download=False)  # what was written loads offline
    assert torch.equal(again["x_test"], d["x_test"])


def test_download_through_the_environment_variable(server, tmp_path: Path, monkeypatch):
    url, served = server
    _copy_mnist(served)
    monkeypatch.setenv(mnist.URL_ENV, url)
    d = load_mnist(tmp_path)
    assert len(d["y_train"]) == 60000


def test_a_corrupt_download_is_refused_and_not_kept(server, tmp_path: Path):
    url, served = server
    _copy_mnist(served)
    (served / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03junk"))
    target = tmp_path / "data"
    with pytest.raises(MnistError) as err:
        load_mnist(target, base_url=url)
    assert "train-images-idx3-ubyte.gz" in str(err.value)
    assert "checksum" in str(err.value)
    assert not (target / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_without_a_data_folder_the_shared_folder_then_the_user_cache(tmp_path: Path,
                                                                      monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = (tmp_path / "cache" / "sparsebench").resolve()
    if mnist.SHARED_DATA.is_dir():
        assert mnist.search_dirs(None) == [mnist.SHARED_DATA, cache]
    monkeypatch.setattr(mnist, "SHARED_DATA", tmp_path / "no-shared-folder")
    assert mnist.search_dirs(None) == [cache]
    with pytest.raises(MnistError) as err:  # nothing there, no network: the error says where
        load_mnist(base_url=_closed_port_url())
    assert str(cache / "mnist") in str(err.value)
    _copy_mnist(cache / "mnist")
    assert len(load_mnist(download=False)["y_test"]) == 10000
