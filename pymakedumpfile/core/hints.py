"""The :mod:`typing` names the package uses, without importing :mod:`typing` when it runs.

``import typing`` costs a capture about 4 ms of start-up (with ``re``, which nothing else on the
capture path needs), for names that only annotate.  Modules import them from here: type
checkers see :mod:`typing`'s own (``TYPE_CHECKING`` is true for them), and at run time each
name is a stand-in that does what the package does with it outside annotations: a subscript
(``Union[str, "os.PathLike[str]"]`` in a type alias), a base class (``Protocol``,
``TypedDict``: plain classes, never checked with isinstance here), a decorator (``overload``)
or a call (``cast``, ``TypeVar``).  Modules that need typing's behaviour at run time
(``NamedTuple`` makes real classes) import it from :mod:`typing` directly; none of them is on the
capture path (``tests/unit/test_record.py`` checks that a capture's imports leave typing out).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO as IO
    from typing import Any as Any
    from typing import BinaryIO as BinaryIO
    from typing import Callable as Callable
    from typing import ClassVar as ClassVar
    from typing import Literal as Literal
    from typing import NoReturn as NoReturn
    from typing import Optional as Optional
    from typing import Protocol as Protocol
    from typing import TextIO as TextIO
    from typing import TypedDict as TypedDict
    from typing import TypeVar as TypeVar
    from typing import Union as Union
    from typing import cast as cast
    from typing import overload as overload
else:
    class _Hint:
        """A typing construct at run time: subscripting it gives it back."""

        __slots__ = ("name",)

        def __init__(self, name):
            self.name = name

        def __getitem__(self, item):
            return self

        def __repr__(self):
            return f"hints.{self.name}"

    IO = _Hint("IO")
    Any = _Hint("Any")
    BinaryIO = _Hint("BinaryIO")
    Callable = _Hint("Callable")
    ClassVar = _Hint("ClassVar")
    Literal = _Hint("Literal")
    NoReturn = _Hint("NoReturn")
    Optional = _Hint("Optional")
    TextIO = _Hint("TextIO")
    Union = _Hint("Union")

    class Protocol:
        """Base of the package's protocols at run time: a plain class (they are structural types
        for the checker; nothing derives from them or tests them with isinstance)."""

        __slots__ = ()

    class TypedDict(dict):
        """Base of the package's TypedDicts at run time: a dict."""

        def __init_subclass__(cls, **options):
            super().__init_subclass__()

    def TypeVar(name, *constraints, **options):  # noqa: N802 (typing's name)
        return _Hint(name)

    def cast(kind, value):
        return value

    def overload(fn):
        return fn

__all__ = ["IO", "TYPE_CHECKING", "Any", "BinaryIO", "Callable", "ClassVar", "Literal", "NoReturn", "Optional",
           "Protocol", "TextIO", "TypedDict", "TypeVar", "Union", "cast", "overload"]
