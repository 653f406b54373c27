"""The short fuzzing run, part of the default test run: every seed and every
regression input once, then a few hundred mutated inputs per target
(hypothesis, derandomized: the same inputs on every run).  Each input must
raise nothing but DumpError and finish within the harness's time limit.

``PMD_FUZZ_EXAMPLES`` changes the number of mutated inputs per target
(default 300); docs/fuzzing.md has the long run.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
import harness  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from mutate import NOPS, apply_ops, mutate  # noqa: E402

EXAMPLES = int(os.environ.get("PMD_FUZZ_EXAMPLES", "300"))
TARGETS = list(harness.TARGETS)


def _inputs() -> list[tuple[str, Path]]:
    return [(t, p) for t in TARGETS for p in harness.seed_files(t)]


def test_every_target_has_seeds() -> None:
    missing = [t for t in TARGETS if not harness.seed_files(t, regressions=False)]
    assert not missing, f"no seeds for {missing}: run tests/fuzz/make_seeds.py"


@pytest.mark.parametrize(("target", "path"), _inputs(),
                         ids=[f"{t}/{p.parent.parent.name}/{p.name}" for t, p in _inputs()])
def test_seed_and_regression_inputs(target: str, path: Path) -> None:
    harness.run_one(target, path.read_bytes())


OPS = st.lists(
    st.tuples(st.integers(0, NOPS - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1),
              st.integers(0, 2**16 - 1)),
    min_size=1,
    max_size=8,
)


@pytest.mark.parametrize("target", TARGETS)
def test_mutated_inputs(target: str) -> None:
    pool = [p.read_bytes() for p in harness.seed_files(target)]
    if not pool:
        pytest.skip(f"no seeds for {target}")

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(index=st.sampled_from(range(len(pool))), ops=OPS, rnd=st.randoms(use_true_random=False))
    def one(index: int, ops: list[tuple[int, int, int, int]], rnd: random.Random) -> None:
        data = apply_ops(pool[index], ops, pool)
        if rnd.random() < 0.5:  # and as often, a stack of random mutations on top
            data = mutate(data, rnd, pool)
        harness.run_one(target, data)

    one()
