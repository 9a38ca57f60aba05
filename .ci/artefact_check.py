"""Check a built sdist and wheel of kevents (.ci/artefact-test.sh runs it).

    python .ci/artefact_check.py sdist SDIST [GIT_FILES]
    python .ci/artefact_check.py wheel WHEEL SOURCE_DIR

sdist: every file git tracks (GIT_FILES, one path a line) is in it, but the GitHub
workflows and .gitignore; no compiled file. wheel: the tag is ``cp311-abi3`` (a
free-threaded interpreter builds ``cp3XX-cp3XXt``); it holds every module of the
source's packages, ``py.typed`` in each package, the compiled modules, the LICENSE and
SPDX metadata, and nothing else (no C, cdef, header or build script).
"""

from __future__ import annotations

import sys
import sysconfig
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path, PurePosixPath

PACKAGES = ("kevents", "kevents_asyncio", "kevents_trio")
NOT_IN_SDIST = (".github/", ".gitignore")
COMPILED = (".so", ".pyd", ".dll", ".dylib", ".o", ".pyc")


def check_sdist(sdist: Path, git_files: Path | None) -> None:
    with tarfile.open(sdist) as tar:
        names = {PurePosixPath(m.name) for m in tar.getmembers() if m.isfile()}
    top = {n.parts[0] for n in names}
    assert len(top) == 1, f"one top directory expected: {top}"
    inside = {str(PurePosixPath(*n.parts[1:])) for n in names}
    compiled = sorted(n for n in inside if n.endswith(COMPILED))
    assert not compiled, f"compiled files in the sdist: {compiled}"
    for required in ("LICENSE", "PKG-INFO", "kevents/_cffi/build.py", "tests/conftest.py"):
        assert required in inside, f"{required} is not in the sdist"
    if git_files is not None:
        tracked = set(git_files.read_text().split())
        missing = sorted(f for f in tracked - inside if not f.startswith(NOT_IN_SDIST))
        assert not missing, f"tracked files missing from the sdist: {missing}"
    print(f"sdist ok: {sdist.name}, {len(inside)} files")


def check_wheel(wheel: Path, source: Path) -> None:
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    _, _, python, abi, platform = wheel.name.removesuffix(".whl").split("-")
    if free_threaded:
        tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
        assert (python, abi) == (tag, tag + "t"), wheel.name
    else:
        assert (python, abi) == ("cp311", "abi3"), f"not an abi3 wheel: {wheel.name}"
    assert platform != "any", wheel.name
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    dist_info = meta_name.rsplit("/", 1)[0]
    assert meta["License-Expression"] == "MIT", meta["License-Expression"]
    assert f"{dist_info}/licenses/LICENSE" in names, "LICENSE is not in the wheel"
    runtime = {n for n in names if not n.startswith(dist_info + "/") and not n.endswith("/")}
    expected: set[str] = set()
    for root in (source, source / "adapters"):
        for package in PACKAGES:
            if (root / package).is_dir():
                for path in (root / package).rglob("*.py"):
                    rel = path.relative_to(root).as_posix()
                    if not rel.startswith("kevents/_cffi/"):
                        expected.add(rel)
                expected.add(f"{package}/py.typed")
    missing = sorted(expected - runtime)
    assert not missing, f"missing from the wheel: {missing}"
    extra = sorted(n for n in runtime - expected if not n.endswith((".so", ".pyd")))
    assert not extra, f"not runtime files, yet in the wheel: {extra}"
    native = sorted(n for n in runtime if n.endswith((".so", ".pyd")))
    assert any(n.startswith("kevents/_native.") for n in native), native
    if not free_threaded:
        assert all(".abi3." in n or n.endswith(".pyd") for n in native), native
    print(f"wheel ok: {wheel.name}; compiled: {', '.join(native)}")


def main() -> None:
    kind, artefact, *rest = sys.argv[1:]
    if kind == "sdist":
        check_sdist(Path(artefact), Path(rest[0]) if rest else None)
    elif kind == "wheel":
        check_wheel(Path(artefact), Path(rest[0]))
    else:
        raise SystemExit(f"unknown artefact kind {kind!r}")


if __name__ == "__main__":
    main()
