"""The import rule (docs/scoring.md): `scoring` uses NumPy and the standard library only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import scoring

SCORING_DIR = Path(scoring.__file__).resolve().parent
ALLOWED_ROOTS = {"numpy", "scoring"}
SUBMODULES = sorted(
    f"scoring.{path.stem}" for path in SCORING_DIR.glob("*.py") if path.stem != "__init__"
)

PROBE = """
import json, sys
before = set(sys.modules)
import scoring
{imports}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def is_allowed(module: str) -> bool:
    root = module.split(".")[0]
    return root in ALLOWED_ROOTS or root in sys.stdlib_module_names


def test_import_rule_helper_rejects_third_party_modules() -> None:
    for allowed in ("numpy.linalg", "tomllib", "_ctypes", "scoring.engine"):
        assert is_allowed(allowed), allowed
    for forbidden in ("pandas", "sqlalchemy.orm", "tasking.services", "flask", "scipy"):
        assert not is_allowed(forbidden), forbidden


def test_import_rule_scoring_loads_only_numpy_and_stdlib_at_runtime() -> None:
    assert {"scoring.engine", "scoring.model", "scoring.vector", "scoring.rank"} <= set(SUBMODULES)
    code = PROBE.format(imports="\n".join(f"import {name}" for name in SUBMODULES))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=SCORING_DIR.parent,
        timeout=60,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "scoring.engine" in loaded
    assert "numpy" in loaded
    offenders = sorted(name for name in loaded if not is_allowed(name))
    assert offenders == []


def imported_roots(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) for every absolute import in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_import_rule_source_imports_only_numpy_and_stdlib() -> None:
    files = sorted(SCORING_DIR.rglob("*.py"))
    assert {path.name for path in files} >= {"__init__.py", "engine.py", "explain.py", "model.py"}
    offenders = []
    seen = set()
    for path in files:
        for line, module in imported_roots(path):
            seen.add(module.split(".")[0])
            if not is_allowed(module):
                offenders.append(f"{path.name}:{line}: {module}")
    assert "numpy" in seen
    assert offenders == []


def test_import_rule_forbids_dynamic_imports() -> None:
    # importlib/__import__ would dodge the static check; the scoring code uses neither.
    for path in sorted(SCORING_DIR.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "__import__" not in source, path.name
        assert "import_module" not in source, path.name
