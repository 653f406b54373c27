"""core/record.py against the standard library's dataclasses, on the same class bodies.

The package's records are declared with core.record so that a capture does not import
dataclasses (and inspect with it); each behaviour the package relies on must be the standard
one: these classes are built twice, once by each implementation, and compared."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import pytest

from pymakedumpfile.core import record

IMPLS = [pytest.param(dataclasses, id="dataclasses"), pytest.param(record, id="record")]


def build(m: Any) -> dict[str, Any]:
    """The same declarations, made by module ``m`` (dataclasses or core.record)."""

    @m.dataclass(frozen=True)
    class Header:
        magic: bytes
        version: int = 6
        kind: ClassVar[str] = "kdump"
        notes: tuple[int, ...] = ()

        def size(self) -> int:
            return len(self.magic) + self.version

    @m.dataclass(frozen=True)
    class SubHeader(Header):
        extra: int = 0

    @m.dataclass
    class Stats:
        pages: int
        failed: list[int] = m.field(default_factory=list)
        name: str = m.field(default="x", repr=False)
        cache: dict[int, int] = m.field(default_factory=dict, compare=False)
        seen: int = m.field(init=False, default=0)

    @m.dataclass
    class Custom:
        a: int

        def __repr__(self) -> str:
            return "custom"

        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    @m.dataclass(frozen=True)
    class Hashed:
        a: int

        def __hash__(self) -> int:
            return 7

    @m.dataclass
    class Post:
        a: int
        b: int = 0

        def __post_init__(self) -> None:
            self.b = self.a * 2

    return {"Header": Header, "SubHeader": SubHeader, "Stats": Stats, "Custom": Custom, "Hashed": Hashed,
            "Post": Post}


def outcome(fn: Any) -> Any:
    """What calling ``fn`` gives: its value, or the exception's class name and text."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 (any failure is part of what is compared)
        return ("raised", type(e).__name__, str(e))


def observe(m: Any) -> list[Any]:
    """Everything the package relies on, as plain values to compare across implementations."""
    c = build(m)
    H, S, St, Cu, Ha, Po = (c[k] for k in ("Header", "SubHeader", "Stats", "Custom", "Hashed", "Post"))
    h = H(b"KDUMP   ")
    s = S(b"DISKDUMP", 5, (1, 2), extra=3)
    a, b = St(1), St(1)
    a.failed.append(9)
    seen: list[Any] = [
        repr(h), repr(s), h == H(b"KDUMP   ", 6), h == H(b"KDUMP   ", 5), h == s, hash(h) == hash(H(b"KDUMP   ")),
        h.size(), H.kind, "kind" in [f.name for f in m.fields(H)],
        [f.name for f in m.fields(s)], [f.name for f in m.fields(S)],
        outcome(lambda: setattr(h, "version", 1)), outcome(lambda: delattr(h, "version")),
        outcome(lambda: setattr(h, "other", 1)),
        isinstance(outcome(lambda: setattr(h, "version", 1)), tuple) and
        issubclass(type(pytest.raises(AttributeError, setattr, h, "version", 1).value), AttributeError),
        repr(m.replace(s, version=4)), m.replace(s, extra=1) == S(b"DISKDUMP", 5, (1, 2), 1),
        repr(a), b.failed, a == b, St(1, [9]) == a, St(1, cache={1: 2}) == St(1),
        St.__hash__ is None, outcome(lambda: St(1, [], "n", {}, 5)),
        outcome(lambda: m.replace(a, seen=3)), repr(m.replace(a, pages=2)),
        m.asdict(St(2, [1], "y")), m.astuple(s), m.asdict(s),
        m.is_dataclass(h), m.is_dataclass(H), m.is_dataclass(1), outcome(lambda: m.fields(1)),
        repr(Cu(1)), Cu(1) == Cu(2), hash(Cu(1)) != 7, hash(Ha(1)), repr(Po(3)),
        H.version, "failed" in St.__dict__, "name" in St.__dict__ and St.name,
        repr(copy.copy(s)), repr(copy.deepcopy(a)), copy.deepcopy(h) == h,
        outcome(lambda: H()), outcome(lambda: St()),
    ]
    return seen


def test_same_behaviour_as_dataclasses() -> None:
    ours, theirs = observe(record), observe(dataclasses)
    for i, (x, y) in enumerate(zip(ours, theirs)):
        if isinstance(x, tuple) and x and x[0] == "raised":
            assert x[:2] == y[:2], i  # the same exception class; the wording may differ
        else:
            assert x == y, i


@pytest.mark.parametrize("m", IMPLS)
def test_defaults_are_not_shared(m: Any) -> None:
    St = build(m)["Stats"]
    x, y = St(1), St(2)
    x.failed.append(1)
    x.cache[1] = 1
    assert y.failed == [] and y.cache == {}


@pytest.mark.parametrize("m", IMPLS)
def test_declaration_mistakes_refused(m: Any) -> None:
    with pytest.raises(TypeError):
        @m.dataclass
        class Bad:
            a: int = 0
            b: int
    with pytest.raises(ValueError, match="mutable default"):
        @m.dataclass
        class Mutable:
            a: list[int] = []  # noqa: RUF012 (the mistake under test)
    with pytest.raises(ValueError):
        m.field(default=1, default_factory=int)

