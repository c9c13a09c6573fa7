"""The tests mirror the package layout (issue 25), as docs/development.md ("Where the tests are") says:
a module's tests are found by its name, every other test directory is a suite that page lists, and
every test path a page, docstring or comment names exists."""

from __future__ import annotations

import glob
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
PACKAGE = REPO / "operator" / "jiradrift"
DEVELOPMENT = REPO / "docs" / "development.md"
SUPPORT = {"plugins"}  # pytest plugins, registered in tests/conftest.py: no tests of their own

# Where test paths are named. CHANGELOG.md is left out: it records where things were.
NAMING_PATHS = (
    "README.md",
    "mkdocs.yml",
    "pyproject.toml",
    "Dockerfile",
    "Dockerfile.emulator",
    ".dockerignore",
    ".ci",
    ".github",
    "bench",
    "charts",
    "docs",
    "operator",
    "tests",
    "tools",
)
SKIPPED_DIRS = {"__pycache__", ".venv", "site", ".mypy_cache", ".ruff_cache"}
TEST_PATH = re.compile(r"(?<![\w/.-])tests/[\w./*-]*[\w*/]")


def packages() -> set[str]:
    return {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def documented_suites() -> set[str]:
    text = DEVELOPMENT.read_text()
    section = text.split("## Where the tests are\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `tests/(\w+)/` \|", section, re.M))


def directories_with_tests() -> list[Path]:
    """Directories under tests/ that hold Python files (a stale one holding only __pycache__ does not count)."""
    return sorted(
        d
        for d in TESTS.rglob("*")
        if d.is_dir() and not SKIPPED_DIRS & set(d.relative_to(TESTS).parts) and any(d.glob("*.py"))
    )


def test_every_test_directory_is_a_package_or_a_documented_suite() -> None:
    known = packages() | documented_suites() | SUPPORT
    strays = [d.name for d in directories_with_tests() if d.parent == TESTS and d.name not in known]
    assert not strays, (
        f"tests/{strays[0]}/ is neither a package of operator/jiradrift/ nor a suite listed in "
        "docs/development.md ('Where the tests are'): move its tests to tests/<package>/test_<module>*.py, "
        f"or add the suite to that table. All such directories: {strays}"
    )


def test_a_directory_inside_a_package_directory_mirrors_a_subpackage() -> None:
    for d in directories_with_tests():
        parts = d.relative_to(TESTS).parts
        if len(parts) > 1 and parts[0] in packages():
            assert (PACKAGE.joinpath(*parts) / "__init__.py").exists(), (
                f"tests/{'/'.join(parts)}/ mirrors no package operator/jiradrift/{'/'.join(parts)}/: "
                f"name its tests tests/{parts[0]}/test_<module>*.py instead"
            )


def test_the_documented_suites_exist_and_none_is_named_like_a_package() -> None:
    suites = documented_suites()
    assert {"operator", "node", "chart", "docs"} <= suites, suites  # the table is read, not empty
    for suite in sorted(suites):
        assert (TESTS / suite).is_dir(), f"docs/development.md lists tests/{suite}/, which does not exist"
        assert suite not in packages(), (
            f"tests/{suite}/ is listed as a cross-cutting suite but is named like the package "
            f"operator/jiradrift/{suite}/: its tests belong to that package"
        )


def test_a_test_file_beside_the_suites_tests_a_top_level_module() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert {"cli", "redact"} <= modules
    for path in sorted(TESTS.glob("test_*.py")):
        name = path.stem.removeprefix("test_")
        assert any(name == m or name.startswith(f"{m}_") for m in modules), (
            f"tests/{path.name} tests no top-level module of operator/jiradrift/ ({sorted(modules)}): "
            "move it to tests/<package>/test_<module>*.py"
        )


def test_a_test_file_in_a_package_directory_tests_a_module_of_that_package() -> None:
    """The rule above, one level down: tests/<package>/**/test_<name>.py names a module or subpackage
    of operator/jiradrift/<package>/** (the directory it mirrors)."""
    checked, strays = 0, []
    for package in sorted(packages()):
        for path in sorted((TESTS / package).rglob("test_*.py")):
            parts = path.parent.relative_to(TESTS).parts
            mirrored = PACKAGE.joinpath(*parts)
            modules = {p.stem for p in mirrored.glob("*.py") if not p.stem.startswith("_")}
            modules |= {p.parent.name for p in mirrored.glob("*/__init__.py")}
            name = path.stem.removeprefix("test_")
            checked += 1
            if not any(name == m or name.startswith(f"{m}_") for m in modules):
                strays.append((path.relative_to(REPO), "/".join(parts), sorted(modules)))
    assert checked > 100  # the package directories were found and read
    assert not strays, (
        f"{strays[0][0]} tests no module of operator/jiradrift/{strays[0][1]}/ ({strays[0][2]}): rename it to "
        f"tests/{strays[0][1]}/test_<module>*.py after the module it tests, or move it to the package or suite "
        "whose module it tests (docs/development.md, 'Where the tests are'). All such files: "
        f"{[str(path) for path, _, _ in strays]}"
    )


def named_test_paths() -> list[tuple[str, str]]:
    """(where, path) for every ``tests/...`` path a page, docstring, comment or script names."""
    found = []
    for root in NAMING_PATHS:
        start = REPO / root
        files = [start] if start.is_file() else [p for p in start.rglob("*") if p.is_file()]
        for path in files:
            if SKIPPED_DIRS & set(path.relative_to(REPO).parts):
                continue
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                for match in TEST_PATH.finditer(line):
                    if line[match.end() : match.end() + 1] in {"<", "{"}:
                        continue  # a pattern such as tests/<package>/test_<module>*.py, not a path
                    found.append((f"{path.relative_to(REPO)}:{number}", match.group(0).rstrip("/.")))
    return found


def test_every_test_path_the_repository_names_exists() -> None:
    named = named_test_paths()
    assert any(path == "tests/handlers/test_schedule.py" for _, path in named)  # the scan finds the docs' paths
    missing = [
        f"{where}: {path}"
        for where, path in named
        if not (glob.glob(str(REPO / path)) if "*" in path else (REPO / path).exists())
    ]
    assert not missing, "these name a test path that does not exist (moved? update the reference):\n" + "\n".join(
        missing
    )


def test_no_two_test_files_share_a_name() -> None:
    """pytest imports test files by their name (rootdir-relative, no packages): a second
    ``test_report.py`` in another directory stops the whole collection ("import file mismatch")."""
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted(TESTS.rglob("test_*.py")):
        if SKIPPED_DIRS & set(path.relative_to(TESTS).parts):
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(REPO)} and {path.relative_to(REPO)}")
        seen.setdefault(path.name, path)
    assert not clashes, "test files sharing a name (rename one, e.g. test_<module>_<what>.py): " + "; ".join(clashes)
