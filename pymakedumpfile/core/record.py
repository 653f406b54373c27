"""Records: the part of :mod:`dataclasses` this package uses, without its import.

``import dataclasses`` imports :mod:`inspect` (and with it ``ast``, ``dis`` and ``tokenize``): about
6 ms of a capture's start-up, an eighth of all its imports, spent on every run for a few frozen
records.  This module gives the same decorator and helpers: ``dataclass`` (``frozen``),
``field`` (``default``, ``default_factory``, ``init``, ``repr``, ``compare``), ``fields``,
``replace``, ``asdict``, ``astuple``, ``is_dataclass`` and ``FrozenInstanceError``, with the
semantics of the standard library's (generated ``__init__``, ``__repr__`` and ``__eq__`` unless
the class defines them, ``__hash__`` by the same rules, fields inherited from record bases,
``ClassVar`` annotations left out).  ``tests/unit/test_record.py`` checks each against
:mod:`dataclasses` on the same classes.  Type checkers see :mod:`dataclasses` itself.
"""

from __future__ import annotations

from .hints import TYPE_CHECKING

if TYPE_CHECKING:
    from dataclasses import FrozenInstanceError, asdict, astuple, dataclass, field, fields, is_dataclass, replace
else:
    _MISSING = object()

    class FrozenInstanceError(AttributeError):
        pass

    class Field:
        __slots__ = ("name", "default", "default_factory", "init", "repr", "compare")

        def __init__(self, default, default_factory, init, repr, compare):  # noqa: A002 (dataclasses' names)
            if default is not _MISSING and default_factory is not _MISSING:
                raise ValueError("cannot specify both default and default_factory")
            self.name = ""
            self.default, self.default_factory = default, default_factory
            self.init, self.repr, self.compare = init, repr, compare

        def __repr__(self):
            return f"Field(name={self.name!r})"

    def field(*, default=_MISSING, default_factory=_MISSING, init=True, repr=True, compare=True):  # noqa: A002
        return Field(default, default_factory, init, repr, compare)

    def _is_classvar(annotation) -> bool:
        text = annotation if isinstance(annotation, str) else repr(annotation)
        return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))

    def _process(cls, frozen):
        all_fields = {}
        for base in cls.__mro__[-1:0:-1]:
            all_fields.update(getattr(base, "__dataclass_fields__", {}))
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if _is_classvar(annotation):
                continue
            value = cls.__dict__.get(name, _MISSING)
            f = value if isinstance(value, Field) else Field(value, _MISSING, True, True, True)
            f.name = name
            if isinstance(value, Field):
                if f.default is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, f.default)
            if f.default_factory is _MISSING and f.default is not _MISSING and \
                    type(f.default) in (list, dict, set):
                raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: "
                                 "use default_factory")
            all_fields[name] = f
        cls.__dataclass_fields__ = all_fields
        flist = list(all_fields.values())
        env = {"_MISSING": _MISSING, "_setattr": object.__setattr__}
        params, body, seen_default = [], [], False
        for f in flist:
            if f.init:
                if f.default is not _MISSING:
                    env[f"_d_{f.name}"] = f.default
                    params.append(f"{f.name}=_d_{f.name}")
                    seen_default = True
                elif f.default_factory is not _MISSING:
                    params.append(f"{f.name}=_MISSING")
                    seen_default = True
                elif seen_default:
                    raise TypeError(f"non-default argument {f.name!r} follows default argument")
                else:
                    params.append(f.name)
            if f.default_factory is not _MISSING:
                env[f"_f_{f.name}"] = f.default_factory
                value = f"_f_{f.name}() if {f.name} is _MISSING else {f.name}" if f.init else f"_f_{f.name}()"
            elif f.init:
                value = f.name
            elif f.default is not _MISSING:
                value = f"_d_{f.name}"
                env[value] = f.default
            else:
                continue
            body.append(f"_setattr(self, {f.name!r}, {value})" if frozen else f"self.{f.name} = {value}")
        if hasattr(cls, "__post_init__"):
            body.append("self.__post_init__()")
        src = f"def __init__(self, {', '.join(params)}):\n    " + ("\n    ".join(body) or "pass") + "\n"
        ns: dict = {}
        exec(src, env, ns)  # noqa: S102 (the source is built above from field names only)
        own = cls.__dict__
        if "__init__" not in own:
            ns["__init__"].__qualname__ = f"{cls.__qualname__}.__init__"
            cls.__init__ = ns["__init__"]
        shown = tuple(f.name for f in flist if f.repr)
        compared = tuple(f.name for f in flist if f.compare)
        if "__repr__" not in own:
            def __repr__(self):
                inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
                return f"{type(self).__qualname__}({inner})"
            cls.__repr__ = __repr__
        if "__eq__" not in own:
            def __eq__(self, other):
                if other.__class__ is not self.__class__:
                    return NotImplemented
                return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)
            cls.__eq__ = __eq__
        class_hash = own.get("__hash__", _MISSING)
        explicit_hash = not (class_hash is _MISSING or (class_hash is None and "__eq__" in own))
        if frozen and not explicit_hash:
            def __hash__(self):
                return hash(tuple(getattr(self, n) for n in compared))
            cls.__hash__ = __hash__
        elif not frozen and not explicit_hash:
            cls.__hash__ = None
        if frozen:
            names = frozenset(all_fields)

            def __setattr__(self, name, value):
                if type(self) is cls or name in names:
                    raise FrozenInstanceError(f"cannot assign to field {name!r}")
                super(cls, self).__setattr__(name, value)

            def __delattr__(self, name):
                if type(self) is cls or name in names:
                    raise FrozenInstanceError(f"cannot delete field {name!r}")
                super(cls, self).__delattr__(name)
            cls.__setattr__, cls.__delattr__ = __setattr__, __delattr__
        return cls

    def dataclass(cls=None, *, frozen=False):
        if cls is None:
            return lambda c: _process(c, frozen)
        return _process(cls, frozen)

    def is_dataclass(obj) -> bool:
        return hasattr(obj if isinstance(obj, type) else type(obj), "__dataclass_fields__")

    def fields(obj):
        try:
            found = obj.__dataclass_fields__
        except AttributeError:
            raise TypeError("must be called with a dataclass type or instance") from None
        return tuple(found.values())

    def replace(obj, **changes):
        for f in fields(obj):
            if not f.init:
                if f.name in changes:
                    raise ValueError(f"field {f.name} is declared with init=False, "
                                     "it cannot be specified with replace()")
            elif f.name not in changes:
                changes[f.name] = getattr(obj, f.name)
        return obj.__class__(**changes)

    def _convert(obj, record):
        if is_dataclass(obj) and not isinstance(obj, type):
            return record(obj)
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*[_convert(v, record) for v in obj])
        if isinstance(obj, (list, tuple)):
            return type(obj)(_convert(v, record) for v in obj)
        if isinstance(obj, dict):
            return type(obj)((_convert(k, record), _convert(v, record)) for k, v in obj.items())
        import copy
        return copy.deepcopy(obj)

    def asdict(obj):
        if not is_dataclass(obj) or isinstance(obj, type):
            raise TypeError("asdict() should be called on dataclass instances")

        def record(o):
            return {f.name: _convert(getattr(o, f.name), record) for f in fields(o)}
        return record(obj)

    def astuple(obj):
        if not is_dataclass(obj) or isinstance(obj, type):
            raise TypeError("astuple() should be called on dataclass instances")

        def record(o):
            return tuple(_convert(getattr(o, f.name), record) for f in fields(o))
        return record(obj)

__all__ = ["FrozenInstanceError", "asdict", "astuple", "dataclass", "field", "fields", "is_dataclass", "replace"]
