"""dracut/99pymakedumpfile/pymakedumpfile-capture.sh run on the host (no crash kernel): the
--if-configured gate that the dracut hook and the systemd service use, and a whole capture of a
small synthetic vmcore into a directory (no target to mount). The crash-kernel runs are in
tests/vm."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "dracut" / "99pymakedumpfile" / "pymakedumpfile-capture.sh"
COLLECTOR = Path(sys.executable).parent / "pymakedumpfile"  # the installed command


def capture(tmp_path: Path, *args: str, conf: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "conf").write_text(conf)
    env = {**os.environ, "PMD_CONF": str(tmp_path / "conf"), "PMD_RUNDIR": str(tmp_path / "run")}
    return subprocess.run(["sh", str(SCRIPT), "--action", "none", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def vmcore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gen import build_elf, make_note, vmcoreinfo_text
    from gen.x86_64 import x86_64_kernel

    k = x86_64_kernel(first_pfn=1, release="6.1.0-test")
    data = bytearray(32 * 4096)
    for pfn, page in k.pages.items():
        data[pfn * 4096 : (pfn + 1) * 4096] = page.data
    for pfn in range(8, 32, 2):
        data[pfn * 4096 : (pfn + 1) * 4096] = (b"page %d " % pfn * 600)[:4096]
    p = tmp_path_factory.mktemp("capture") / "vmcore"
    notes = make_note(b"VMCOREINFO", 0, vmcoreinfo_text(k.vmcoreinfo, CRASHTIME=1700000000))
    build_elf(p, [(0, 0xFFFF888000000000, bytes(data), len(data))], notes=notes)
    return p


def test_if_configured_without_a_target_does_nothing(tmp_path: Path, vmcore: Path) -> None:
    out = tmp_path / "out"
    p = capture(tmp_path, "--if-configured", "--vmcore", str(vmcore), "--path", str(out))
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p
    assert not out.exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("where", ["conf", "option"])
def test_if_configured_with_a_target_goes_on(tmp_path: Path, vmcore: Path, where: str) -> None:
    """A configured target (here one that does not exist) lets the capture start: it looks for the
    device and gives up after --wait seconds, with the setup error's exit code 2."""
    missing = str(tmp_path / "no-such-disk")
    conf, args = (f"PMD_TARGET={missing}\n", []) if where == "conf" else ("", ["--target", missing])
    p = capture(tmp_path, "--if-configured", "--wait", "0", "--vmcore", str(vmcore), *args, conf=conf)
    assert p.returncode == 2, p
    assert f"pymakedumpfile-capture: target {missing} not found after 0s" in p.stdout


def test_whole_capture_into_a_directory(tmp_path: Path, vmcore: Path) -> None:
    if not COLLECTOR.exists():
        pytest.skip(f"no installed pymakedumpfile command beside {sys.executable}")
    out = tmp_path / "out"
    p = capture(tmp_path, "--vmcore", str(vmcore), "--path", str(out), "--no-stamp", "--collector", str(COLLECTOR),
                "--args", "-l -d 1")
    assert p.returncode == 0, p
    assert (out / "vmcore").is_file() and not (out / "vmcore-incomplete").exists()
    log = (out / "capture.log").read_text()
    assert "collector exit code 0" in log and f"saved {out}/vmcore" in log
    from pymakedumpfile import open_dump

    with open_dump(out / "vmcore") as ctx, open_dump(vmcore) as src:
        assert ctx.attr["file.compression"] == "lzo" and ctx.attr["filter.dump_level"] == 1
        kept = {p for a, b in ctx.pagemap.runs() for p in range(a, b)}
        assert kept and all(ctx.read_pfn(pfn) == src.read_pfn(pfn) for pfn in kept)
