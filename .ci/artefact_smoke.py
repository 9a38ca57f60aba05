"""The smoke test of an installed kevents, run where a user would run it: in an
environment holding the wheel (no source tree, no editable install, no PYTHONPATH).

    python .ci/artefact_smoke.py [--typecheck]

from a directory holding a copy of ``tests/`` and ``pyproject.toml`` (what cibuildwheel's
``test-sources`` copies; .ci/artefact-test.sh does the same). It checks that kevents
comes from site-packages, runs ``kevents info``, the typed user sample (a READ, TIMER,
USER, PROC, SIGNAL, AIO and VNODE round, compat.select, the asyncio and Trio adapters;
POSIX) and the suite's smoke subset; ``--typecheck`` also runs ``mypy --strict`` and
``basedpyright`` on the sample against the installed package (they must be installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

#: the suite's smoke subset: portable (each skips what its OS lacks), fast, and between
#: them every filter's basic round, the change-list rules and both adapters
SMOKE = [
    "tests/conformance/test_changelist.py",
    "tests/conformance/test_filter_user.py",
    "tests/conformance/test_filter_timer.py",
    "tests/conformance/test_filter_read_write.py",
    "tests/integration/test_asyncio_adapter.py",
    "tests/integration/test_trio_adapter.py",
]
#: left out of the subset (each still runs in the whole suite), with the reason
NOT_SMOKE = [
    # racy: its fd-leak check failed once in the artefact test under load (two epoll
    # fds and an eventfd still open right after the guest run's done_callback) and
    # passes alone; reported to the adapters' owner
    "tests/integration/test_trio_adapter.py::test_guest_mode",
]
SAMPLE = Path("tests/typing/user_sample.py")


def run(*cmd: str | Path, timeout: float = 600) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, timeout=timeout)


def installed_kevents() -> Path:
    """kevents' package directory, checked to be an installed wheel's."""
    out = subprocess.run(
        [sys.executable, "-c", "import kevents, kevents_asyncio; print(kevents.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path.cwd().anchor,  # nothing beside the importing script
    ).stdout
    package = Path(out.strip()).resolve().parent
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    platlib = Path(sysconfig.get_paths()["platlib"]).resolve()
    assert package.parent in (purelib, platlib), f"kevents imported from {package}"
    assert not (package / "_cffi").exists(), f"{package} holds build inputs: a source tree?"
    return package


def main() -> None:
    typecheck = "--typecheck" in sys.argv[1:]
    assert "PYTHONPATH" not in os.environ, "run without PYTHONPATH"
    assert not Path("kevents").exists(), "run outside the source tree"
    print("kevents installed in", installed_kevents())
    scripts = Path(sysconfig.get_paths()["scripts"])
    cli = shutil.which("kevents", path=str(scripts))
    assert cli is not None, f"no kevents console script in {scripts}"
    run(cli, "info")
    if os.name == "posix":
        run(sys.executable, SAMPLE)
    if typecheck:
        run(sys.executable, "-m", "mypy", "--strict", "--no-incremental", SAMPLE)
        pyright = shutil.which("basedpyright", path=str(scripts))
        assert pyright is not None, f"basedpyright is not installed in {scripts}"
        run(pyright, "--pythonpath", sys.executable, "--project", SAMPLE.parent)
    deselect = [f"--deselect={test}" for test in NOT_SMOKE]
    run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        *deselect,
        *SMOKE,
    )
    print("artefact smoke test ok")


if __name__ == "__main__":
    main()
