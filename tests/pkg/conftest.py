from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest_pkg import build_deb  # noqa: E402


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("PMD_DEB_TESTS") != "1" and os.environ.get("PMD_SERVICE_TESTS") != "1":
        pytest.skip("the Debian package tests are opt-in (PMD_DEB_TESTS=1, PMD_SERVICE_TESTS=1)")
    return build_deb(tmp_path_factory.mktemp("deb"))
