from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A private copy of the toy suite, safe to edit."""
    folder = tmp_path / "toy"
    shutil.copytree(FIXTURES / "toy", folder)
    return folder


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module (module scope, so that module-scoped fixtures
    that train run under it too): tiny models run no faster on two, and many times
    slower on a busy two-core machine (spinning OpenMP workers)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
