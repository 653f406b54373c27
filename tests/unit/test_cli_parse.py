"""The command line read two ways: ``options.quick_parse`` (plain command lines, without importing
click) must give exactly the keyword arguments click gives, or leave the line to click.

click is the reference: its parser is what the options were first declared for, and it is the one
that reads --help and every mistake. Command lines are drawn from the declared options in every
spelling click accepts (grouped short flags, attached values, ``--opt=value``), with repeats,
unknown options, ``--`` and missing values mixed in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymakedumpfile.cli.clicked import command
from pymakedumpfile.cli.options import CHOICE, CONST, FLAG, OPTIONS, quick_parse

REPO = Path(__file__).resolve().parents[2]


def by_click(args: list[str]) -> dict[str, Any] | None:
    """click's keyword arguments for ARGS, or None when click refuses them."""
    import click

    try:
        with command.make_context("pymakedumpfile", list(args)) as ctx:
            return dict(ctx.params)
    except (click.exceptions.Exit, click.UsageError):
        return None


# the command lines the distributions' kdump services and our capture script run
PLAIN = [
    ["-l", "--message-level", "7", "-d", "31", "/proc/vmcore", "/var/crash/x/vmcore-incomplete"],
    ["-l", "--message-level", "7", "-d", "31", "--num-threads=2", "/proc/vmcore", "out"],
    ["-F", "-l", "--message-level", "7", "-d", "31", "/proc/vmcore"],
    ["-F", "-c", "-d", "31", "/proc/vmcore"],
    ["-c", "-d", "31", "-F", "/proc/vmcore"],
    ["-d", "1", "-c", "-F", "/proc/vmcore"],
    ["--dump-dmesg", "/proc/vmcore", "/var/crash/x/dmesg.x"],
    ["-ld31", "vmcore", "out"],
    ["-z", "-d31", "--num-threads", "1", "vmcore", "out"],
    ["--split", "-l", "-d", "31", "vmcore", "a", "b", "c"],
    ["--reassemble", "a", "b", "out"],
    ["-R", "out"],
    ["-E", "-d", "0", "vmcore", "out.elf"],
    ["-v"],
    ["--info", "--json", "dump"],
    ["--diskset", "d1", "--diskset", "d2", "out"],
    ["-F", "--stream-compress", "zstd", "-E", "vmcore"],
    ["vmcore", "out", "-l", "-d", "31"],
    [],
]


@pytest.mark.parametrize("args", PLAIN, ids=[" ".join(a) or "(none)" for a in PLAIN])
def test_plain_command_lines_are_read_without_click(args: list[str]) -> None:
    ours = quick_parse(args)
    assert ours is not None
    assert ours == by_click(args)


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["-lh"], ["--"], ["-d"], ["--num-threads"], ["-q"],
                                  ["--dump-dmesg=1", "x"], ["-l", "-c", "x", "y"], ["-d", "1", "-d", "2", "x", "y"],
                                  ["--stream-compress", "gz", "x"], ["--message-lev", "7"]])
def test_the_rest_is_left_to_click(args: list[str]) -> None:
    assert quick_parse(args) is None


def spelled(opt: Any, value: str) -> list[list[str]]:
    """The ways click accepts OPT with VALUE."""
    if opt.kind in (FLAG, CONST):
        return [[opt.flag]]
    if opt.flag.startswith("--"):
        return [[opt.flag, value], [f"{opt.flag}={value}"]]
    return [[opt.flag, value], [opt.flag + value]]


VALUES = st.sampled_from(["31", "0", "7", "1,31", "-1", "abc", "", "-l", "--json", "=3", "zstd", "lz4", "x y"])
WORDS = st.sampled_from(["vmcore", "out", "-", "/proc/vmcore", "a b", "gdbserver"])


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    args: list[str] = []
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.integers(0, 9))
        if kind < 6:
            opt = draw(st.sampled_from(OPTIONS))
            value = draw(VALUES) if opt.kind != CHOICE else draw(st.sampled_from(["zstd", "lz4", "gz"]))
            args += draw(st.sampled_from(spelled(opt, value)))
        elif kind < 8:
            args.append(draw(WORDS))
        elif kind == 8:  # short flags grouped, maybe ending in one that takes a value
            shorts = [o for o in OPTIONS if not o.flag.startswith("--")]
            group = draw(st.lists(st.sampled_from(shorts), min_size=2, max_size=4))
            args.append("-" + "".join(o.flag[1] for o in group) + draw(st.sampled_from(["", "31"])))
        else:
            args.append(draw(st.sampled_from(["--", "-h", "--nope", "-Q", "--num-threads", "-d"])))
    return args


@settings(max_examples=3000, deadline=None)
@given(command_lines())
def test_quick_parse_agrees_with_click(args: list[str]) -> None:
    ours = quick_parse(args)
    if ours is not None:
        assert ours == by_click(args), args


def test_capture_imports_no_click(tmp_path: Path) -> None:
    """A plain capture loads neither click nor the click-side module; --help loads both."""
    code = ("import sys\nfrom pymakedumpfile.cli import main\nrc = main(sys.argv[1:])\n"
            "print(rc, 'click' in sys.modules, 'pymakedumpfile.cli.clicked' in sys.modules)\n")
    plain = subprocess.run([sys.executable, "-c", code, "-l", "-d", "31", str(tmp_path / "none"), str(tmp_path / "o")],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert plain.stdout.splitlines()[-1] == "1 False False", plain  # 1: no such VMCORE
    helped = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, cwd=REPO,
                            timeout=120)
    assert helped.stdout.splitlines()[-1] == "0 True True", helped
