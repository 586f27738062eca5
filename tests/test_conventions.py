"""Conventions of the code base, checked on the source itself (see docs/DEVELOPING.md).

- No module imports another package's ``_private`` name: what one package offers another
  is public and named for what it does.
- Only the command line's callback turns the environment into ``Settings``: nothing in the
  installed packages reads ``os.environ`` or ``os.getenv``.
- Commands parse, call one domain function and print: no SQL in ``api/commands``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas2d.testdata import REPO

PACKAGE_FOLDERS = ("schema", "ingest", "ontology", "embeddings", "api")
"""Top-level folders installed as ``atlas2d.<folder>`` (pyproject.toml ``package-dir``)."""

PROJECT_ROOTS = ("atlas2d", "tests", "benchmarks")
SKIPPED = {".venv", ".git", "build", "dist", "node_modules", "__pycache__"}
SQL_BUILDERS = {"select", "text", "insert", "update", "delete"}
"""SQLAlchemy's statement constructors, called by their bare names."""
SQL_RUNNERS = {"execute", "exec_driver_sql", "scalar", "scalars"}
"""Methods of a Session or Connection that run a statement."""


def project_files() -> Iterator[Path]:
    """Every .py file of the project: packages, tests, benchmarks, samples' generators."""
    for path in sorted(REPO.rglob("*.py")):
        relative = path.relative_to(REPO)
        if not SKIPPED.intersection(relative.parts) and not relative.parts[0].startswith("."):
            yield path


def owner(path: Path) -> str:
    """The top-level package a file belongs to: ``atlas2d.schema``, ``atlas2d.testdata``, ``tests``…"""
    parts = path.relative_to(REPO).parts
    if parts[0] in PACKAGE_FOLDERS:
        return f"atlas2d.{parts[0]}"
    if parts[0] == "atlas2d":
        return "atlas2d" if len(parts) == 2 else f"atlas2d.{parts[1]}"
    return parts[0]


def module_owner(module: str) -> str | None:
    """The top-level package of an imported module name, None for modules outside the project."""
    parts = module.split(".")
    if parts[0] not in PROJECT_ROOTS:
        return None
    return ".".join(parts[:2]) if parts[0] == "atlas2d" and len(parts) > 1 else parts[0]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path, tree: ast.AST) -> Iterator[str]:
    """``file:line`` of each import of an underscore name (or module) from another top-level package."""
    home = owner(path)
    where = path.relative_to(REPO)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            source = module_owner(node.module)
            if source is None or source == home:
                continue
            names = [a.name for a in node.names if is_private(a.name)] + [p for p in node.module.split(".") if is_private(p)]
            if names:
                yield f"{where}:{node.lineno} imports {', '.join(names)} from {node.module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                source = module_owner(alias.name)
                if source is not None and source != home and any(is_private(p) for p in alias.name.split(".")):
                    yield f"{where}:{node.lineno} imports {alias.name}"


def environment_reads(path: Path, tree: ast.AST) -> Iterator[str]:
    """``file:line`` of each ``os.environ`` / ``os.getenv`` use (and ``from os import environ``)."""
    where = path.relative_to(REPO)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv"} and _is_name(node.value, "os"):
            yield f"{where}:{node.lineno} uses os.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in {"environ", "getenv", "putenv"}:
                    yield f"{where}:{node.lineno} imports os.{alias.name}"


def sql_uses(path: Path, tree: ast.AST) -> Iterator[str]:
    """``file:line`` of each SQL statement built or run: ``select(...)``, ``text(...)``, ``.execute(...)``…"""
    where = path.relative_to(REPO)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            built = [a.name for a in node.names if a.name in SQL_BUILDERS | {"func"}]
            if built:
                yield f"{where}:{node.lineno} imports {', '.join(built)} from {node.module}"
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in SQL_BUILDERS:
                yield f"{where}:{node.lineno} calls {node.func.id}(...)"
            elif isinstance(node.func, ast.Attribute) and node.func.attr in SQL_RUNNERS:
                yield f"{where}:{node.lineno} calls .{node.func.attr}(...)"


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_checks_see_the_whole_project() -> None:
    files = {str(p.relative_to(REPO)) for p in project_files()}
    assert {"schema/database.py", "api/cli.py", "tests/conftest.py", "benchmarks/dedup.py", "atlas2d/testdata/bench.py"} <= files
    assert not any(f.startswith(".venv") for f in files)


def test_no_module_imports_another_packages_private_names() -> None:
    found = [hit for path in project_files() for hit in private_imports(path, _tree(path))]
    assert not found, "private names imported across packages (make them public, with a good name):\n" + "\n".join(found)


def test_nothing_below_the_command_line_reads_the_environment() -> None:
    files = [p for folder in PACKAGE_FOLDERS for p in sorted((REPO / folder).rglob("*.py"))]
    found = [hit for path in files for hit in environment_reads(path, _tree(path))]
    assert not found, "environment read outside the Settings the CLI builds (take Settings or a URL):\n" + "\n".join(found)


def test_commands_hold_no_sql() -> None:
    found = [hit for path in sorted((REPO / "api" / "commands").glob("*.py")) for hit in sql_uses(path, _tree(path))]
    assert not found, "SQL in api/commands (move it into a function of the package that owns the data):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from atlas2d.ingest.store import _write\n", ["imports _write from atlas2d.ingest.store"]),
        ("from atlas2d.ingest.sources import _common\n", ["imports _common from atlas2d.ingest.sources"]),
        ("import atlas2d.ingest._hidden\n", ["imports atlas2d.ingest._hidden"]),
        ("from atlas2d.api.console import fail, _cell as cell\n", []),  # api/commands -> api: same package
        ("from atlas2d.ingest.store import __all__, write_records\n", []),
        ("from sqlalchemy.orm import _private_thing\n", []),  # not the project's
        ("from .console import _cell\n", []),  # relative: the same package
    ],
)
def test_private_import_check_names_the_file_and_line(source: str, expected: list[str]) -> None:
    """The check itself: it must catch what it is for and nothing else."""
    path = REPO / "api" / "commands" / "example.py"
    found = [hit.split(" ", 1)[1] for hit in private_imports(path, ast.parse(source))]
    assert found == expected
    if expected:
        assert next(private_imports(path, ast.parse(source))).startswith("api/commands/example.py:1 ")


def test_environment_and_sql_checks_catch_what_they_are_for() -> None:
    path = REPO / "api" / "commands" / "example.py"
    environ = "import os\nurl = os.environ.get('X')\nother = os.getenv('Y')\nfrom os import environ\n"
    assert sorted(h.split(" ", 1)[0] for h in environment_reads(path, ast.parse(environ))) == [
        "api/commands/example.py:2",
        "api/commands/example.py:3",
        "api/commands/example.py:4",
    ]
    sql = "from sqlalchemy import select\nrows = session.execute(select(Entry.id))\nprint_table(rows)\n"
    assert len(list(sql_uses(path, ast.parse(sql)))) == 3
    plain = "summary = store_status(session.connection())\nbar.update(task, completed=3)\nnames.update(more)\n"
    assert list(sql_uses(path, ast.parse(plain))) == []
