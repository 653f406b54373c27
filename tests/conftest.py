"""Shared test setup: the accel backend fixture and the real-dump locations."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

FORCE_NATIVE = os.environ.get("PYMAKEDUMPFILE_FORCE_NATIVE") == "1"


@pytest.fixture(params=["native", "python"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run a test once per accel backend; a missing native module is a
    skip, or a failure when PYMAKEDUMPFILE_FORCE_NATIVE=1 (as in CI)."""
    from pymakedumpfile import accel

    if request.param == "native" and not accel.NATIVE_AVAILABLE:
        if FORCE_NATIVE:
            pytest.fail("the native accel module was not built")
        pytest.skip("native accel module not built")
    return str(request.param)
