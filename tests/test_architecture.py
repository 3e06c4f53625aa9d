"""The package's shape: the library imports no research, CLI or demo code, no module circles, and
modules and heads stay small."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "intentmeta"
OUTSIDE_THE_LIBRARY = ("intentmeta.research", "intentmeta.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Every module ``name`` imports, at the top, in a function, or under TYPE_CHECKING."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from package import module` imports the module, not just the package.
            found.update(
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            )
    return found


def is_library(name: str) -> bool:
    return not any(name == p or name.startswith(p + ".") for p in OUTSIDE_THE_LIBRARY)


@pytest.mark.parametrize("name", [name for name in MODULES if is_library(name)])
def test_library_modules_import_no_research_cli_or_demo_code(name):
    forbidden = [
        imported
        for imported in imports_of(name)
        if not is_library(imported) or imported.split(".")[0] in ("demo", "intentmeta_demo")
    ]
    assert forbidden == [], f"{name} imports {forbidden}"


def test_no_module_of_the_package_is_part_of_an_import_circle():
    graph = {name: {i for i in imports_of(name) if i in MODULES} - {name} for name in MODULES}
    circles = []
    state: dict[str, str] = {}  # "visiting" or "done"

    def visit(name: str, path: list[str]) -> None:
        state[name] = "visiting"
        for imported in sorted(graph[name]):
            if state.get(imported) == "visiting":
                circles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_every_subpackage_is_listed_for_installation():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    subpackages = {module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert subpackages <= listed
    assert "demo" not in listed  # installed as intentmeta_demo, never as a top-level `demo`


def test_the_library_imports_and_classifies_without_gradio_or_matplotlib():
    script = (
        "import sys; sys.modules.update(gradio=None, matplotlib=None)\n"
        "from conftest import FakeEncoder\n"
        "from intentmeta import IntentClassifier\n"
        "clf = IntentClassifier(encoder=FakeEncoder())\n"
        "clf.add_intent('refund', ['money back please', 'refund my order'])\n"
        "clf.add_intent('track', ['where is my parcel', 'track my parcel'])\n"
        "print(clf.classify('where is the parcel').intent)\n"
    )
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "track"


def test_the_demo_imports_itself_relatively_so_it_works_installed_as_intentmeta_demo():
    absolute = []
    for path in sorted((ROOT / "demo").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            absolute += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "demo"]
    assert absolute == []


def test_no_module_is_longer_than_400_lines():
    too_long = {
        str(path.relative_to(ROOT)): n
        for folder in ("intentmeta", "training", "demo", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert too_long == {}, "split these by idea (STYLE.md: one idea per module)"


HEAD_LINES = 60  # easyfsl's size: a head is one method, its steps live in modules of their own


def test_every_head_class_is_at_most_60_lines():
    from intentmeta.heads.base import FewShotHead

    heads = {}
    for path in sorted((PACKAGE / "heads").glob("*.py")):
        module = importlib.import_module(module_name(path))
        for cls in vars(module).values():
            if (
                inspect.isclass(cls)
                and issubclass(cls, FewShotHead)
                and cls is not FewShotHead
                and cls.__module__ == module.__name__
            ):
                heads[f"{path.name}: {cls.__name__}"] = len(inspect.getsourcelines(cls)[0])
    assert {"PlainPrototypicalHead", "PrototypicalHead", "MatchingHead"} <= {
        name.split(": ")[1] for name in heads
    }
    too_long = {name: n for name, n in heads.items() if n > HEAD_LINES}
    assert too_long == {}, "move what a head does beyond its method into a step module"
