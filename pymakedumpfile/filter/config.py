"""The filter configuration of ``--config FILE``: what to erase from a dump before it leaves
the machine, in makedumpfile's language (docs/erase.md has the grammar and where we differ).

A file is a list of sections (``[vmlinux]``, ``[MODULE]``; commands before any header belong
to ``vmlinux``) holding two kinds of command::

    erase EXPR [size N[K|M] | size EXPR | nullify]
    for ID in EXPR [via MEMBER | within STRUCT[:MEMBER]]
        erase ID[.member...] [size ... | nullify]
    endfor

An EXPR is a symbol followed by members, separated by ``.`` (or ``->``; pointers are followed
whichever is written).  makedumpfile stops reading at the first mistake and erases what it had
read so far; here any mistake is an error naming the file and line, and nothing is written.
This module only parses; :mod:`.erase` finds the objects in a dump.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..core.errors import DumpError
from ..core.hints import Union

KEYWORDS = frozenset({"erase", "size", "nullify", "for", "in", "via", "within", "endfor"})
_SIZE = re.compile(r"(\d+)([kKmM]?)\Z")


class ConfigError(DumpError):
    """A mistake in a filter configuration, or an object it names that the dump does not have.
    Its path is ``FILE:LINE``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(message, f"{path}:{line}" if line else path)
        self.line = line


class Erase(NamedTuple):
    """``erase EXPR ...``: ``size`` is a number of bytes, an EXPR (a tuple of names) whose
    value is the size, or None (the object's own size)."""

    expr: tuple[str, ...]
    text: str  # EXPR as written: the eraseinfo line names it so
    size: int | tuple[str, ...] | None
    nullify: bool
    line: int


class Loop(NamedTuple):
    """``for VAR in EXPR [via MEMBER | within STRUCT:MEMBER] ... endfor``."""

    var: str
    expr: tuple[str, ...]
    via: str | None  # the member linking one structure to the next
    within: tuple[str, str] | None  # (struct, list_head member) around each list entry
    body: tuple[Erase, ...]
    line: int


Command = Union[Erase, Loop]


class Section(NamedTuple):
    name: str  # "vmlinux" or a module's name
    line: int  # of its header (0: the commands before any header)
    commands: tuple[Command, ...]

    def names(self) -> frozenset[str]:
        """Every symbol and structure name the commands use (what a type index must hold)."""
        out: set[str] = set()
        for c in self.commands:
            out.add(c.expr[0])
            var = c.var if isinstance(c, Loop) else None
            if isinstance(c, Loop) and c.within:
                out.add(c.within[0])
            for e in c.body if isinstance(c, Loop) else (c,):
                for expr in (e.expr, e.size if isinstance(e.size, tuple) else ()):
                    if expr and expr[0] != var:
                        out.add(expr[0])
        return frozenset(out)


class Config(NamedTuple):
    path: str
    sections: tuple[Section, ...]

    def names(self) -> frozenset[str]:
        """Every symbol and structure name the commands of the kernel's sections use."""
        return frozenset().union(*(s.names() for s in self.sections if s.name == "vmlinux"))


class _Tokens:
    """The words of a configuration with their line numbers; section headers end commands."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.items: list[tuple[str, int, bool]] = []  # (word, line, is a section header)
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("["):
                end = line.find("]")
                if end < 0:
                    raise ConfigError(path, n, f"section header without ']': {line!r}")
                name = line[1:end].strip()
                if not name:
                    raise ConfigError(path, n, "empty section name '[]'")
                if line[end + 1:].strip():
                    raise ConfigError(path, n, f"text after the section header: {line[end + 1:].strip()!r}")
                self.items.append((name, n, True))
                continue
            self.items.extend((w, n, False) for w in line.split())
        self.pos = 0
        self.last_line = self.items[-1][1] if self.items else 1

    def peek(self) -> tuple[str, int, bool] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> tuple[str, int, bool]:
        t = self.items[self.pos]
        self.pos += 1
        return t

    def word(self, line: int, what: str, after: str) -> tuple[str, int]:
        """The next word, which must not be a keyword or a section header."""
        t = self.peek()
        if t is None or t[2] or t[0] in KEYWORDS:
            found = "the end of the file" if t is None else (f"section [{t[0]}]" if t[2] else f"'{t[0]}'")
            raise ConfigError(self.path, t[1] if t else line, f"expected {what} after '{after}', found {found}")
        self.pos += 1
        return t[0], t[1]

    def accept(self, keyword: str) -> int | None:
        """The line of the next word if it is ``keyword`` (then taken), else None."""
        t = self.peek()
        if t is not None and not t[2] and t[0] == keyword:
            self.pos += 1
            return t[1]
        return None


def split_expr(path: str, line: int, text: str) -> tuple[str, ...]:
    """``a.b->c`` as ("a", "b", "c")."""
    parts = tuple(p for p in text.replace("->", ".").split(".") if p)
    if not parts:
        raise ConfigError(path, line, f"no symbol in {text!r}")
    for p in parts:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p):
            raise ConfigError(path, line, f"{p!r} in {text!r} is not a C name (write SYMBOL.member.member)")
    return parts


def parse_size(path: str, line: int, text: str) -> int | tuple[str, ...]:
    """A size: N, NK or NM (K = 1024 bytes, M = 1024 K), or an EXPR holding the size."""
    m = _SIZE.match(text)
    if m:
        n = int(m.group(1)) << {"": 0, "k": 10, "m": 20}[m.group(2).lower()]
        if n <= 0:
            raise ConfigError(path, line, f"size {text}: must be positive")
        return n
    if text[:1].isdigit() or text[:1] in "+-":
        # makedumpfile reads the leading decimal digits and ignores the rest: "0x10" erases nothing
        raise ConfigError(path, line, f"size {text!r}: not a size (write a decimal number of bytes, with K or M)")
    return split_expr(path, line, text)


def _erase(t: _Tokens, line: int, loop_var: str | None) -> Erase:
    text, wl = t.word(line, "a symbol", "erase")
    expr = split_expr(t.path, wl, text)
    if loop_var is not None and expr[0] != loop_var:
        raise ConfigError(t.path, wl, f"'erase {text}' inside 'for {loop_var}': an erase in a loop starts with "
                                      f"'{loop_var}'")
    size: int | tuple[str, ...] | None = None
    nullify = False
    if t.accept("nullify") is not None:
        nullify = True
    elif (sl := t.accept("size")) is not None:
        stext, sl2 = t.word(sl, "a size", "size")
        size = parse_size(t.path, sl2, stext)
    nxt = t.peek()
    if nxt is not None and not nxt[2] and nxt[0] in ("size", "nullify"):
        raise ConfigError(t.path, nxt[1], f"'erase {text}' takes one of 'size' and 'nullify'")
    return Erase(expr, text, size, nullify, line)


def _loop(t: _Tokens, line: int) -> Loop:
    var, vl = t.word(line, "a loop variable", "for")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
        raise ConfigError(t.path, vl, f"loop variable {var!r}: a name without '.'")
    if t.accept("in") is None:
        nxt = t.peek()
        raise ConfigError(t.path, nxt[1] if nxt else vl, f"expected 'in' after 'for {var}'")
    text, el = t.word(vl, "a symbol", "in")
    expr = split_expr(t.path, el, text)
    via: str | None = None
    within: tuple[str, str] | None = None
    if (ll := t.accept("via")) is not None:
        via, _ = t.word(ll, "a member name", "via")
    elif (ll := t.accept("within")) is not None:
        w, wl = t.word(ll, "STRUCT:MEMBER", "within")
        struct, _, member = w.partition(":")
        if not struct or (":" in w and not member):
            raise ConfigError(t.path, wl, f"within {w!r}: write STRUCT:MEMBER (MEMBER is 'list' if left out)")
        within = (struct, member or "list")
    body: list[Erase] = []
    while True:
        nxt = t.peek()
        if nxt is None or nxt[2]:
            where = "the end of the file" if nxt is None else f"section [{nxt[0]}]"
            raise ConfigError(t.path, line, f"'for {var}' has no 'endfor' before {where}")
        word, wl, _ = t.take()
        if word == "endfor":
            break
        if word == "erase":
            body.append(_erase(t, wl, var))
            continue
        if word == "for":
            raise ConfigError(t.path, wl, "a 'for' loop inside another: loops do not nest")
        raise ConfigError(t.path, wl, f"expected 'erase' or 'endfor' in 'for {var}', found '{word}'")
    return Loop(var, expr, via, within, tuple(body), line)


def parse_config(path: str, text: str | None = None) -> Config:
    """Read the filter configuration ``path`` (or ``text`` given as its contents).

    :raises ConfigError: a mistake, with its line; or the file cannot be read.
    """
    if text is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ConfigError(path, 0, f"Cannot open the filter configuration: {e.strerror}") from None
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise ConfigError(path, 0, "the filter configuration is not text (UTF-8)") from None
    t = _Tokens(path, text)
    sections: list[Section] = []
    commands: list[Command] = []
    name, header = "vmlinux", 0  # commands before any header are the kernel's
    while t.peek() is not None:
        word, line, is_header = t.take()
        if is_header:
            if commands or header:
                sections.append(Section(name, header, tuple(commands)))
            name, header, commands = word, line, []
        elif word == "erase":
            commands.append(_erase(t, line, None))
        elif word == "for":
            commands.append(_loop(t, line))
        elif word == "endfor":
            raise ConfigError(path, line, "'endfor' without 'for'")
        else:
            raise ConfigError(path, line, f"expected 'erase' or 'for', found '{word}'")
    if commands or header:
        sections.append(Section(name, header, tuple(commands)))
    return Config(path, tuple(sections))


__all__ = ["Command", "Config", "ConfigError", "Erase", "Loop", "Section", "parse_config"]
