"""The layering and the size limits, read from the source; every rule here is a path rule.

Imports run one way: core ← models ← export ← app side (gui.viewmodel) ← Qt (gui.qt) ← the command
line (gui.cli). Every import counts, the ones inside functions too: a lazy import is still a dependency.
"""

import ast
import importlib.util
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# folder -> the package it installs as (pyproject's package-dir)
PACKAGES = {"gui/core": "resnet_studio.core", "models": "resnet_studio.models", "export": "resnet_studio.export",
            "gui": "resnet_studio.gui"}
LAYERS = [("resnet_studio.core", 0), ("resnet_studio.resources", 0), ("resnet_studio.models", 1),
          ("resnet_studio.export", 2), ("resnet_studio.gui.viewmodel", 3), ("resnet_studio.gui.qt", 4),
          ("resnet_studio.gui.cli", 5), ("resnet_studio.gui", 3)]
QT = ("PySide6", "shiboken6", "pyqtgraph")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            if folder == "gui" and path.is_relative_to(ROOT / "gui/core"):
                continue
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def layer(module: str) -> int:
    return next(rank for prefix, rank in LAYERS if module == prefix or module.startswith(prefix + "."))


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module name ``module`` imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            # "from .core import report" imports the module core.report when there is one.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        out.update(names)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: {i for i in imported(m, p, known) if i != m} for m, p in known.items()}


def test_nothing_imports_upward():
    upward = sorted(f"{m} imports {i}" for m, deps in graph().items() for i in deps
                    if i.startswith("resnet_studio") and layer(i) > layer(m))
    assert upward == []


def test_no_import_cycles():
    full = graph()
    edges = {m: {d for d in deps if d in full} for m, deps in full.items()}
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    assert cycles == []


def test_qt_only_under_gui_qt_and_torch_only_in_models_and_export():
    for module, deps in graph().items():
        qt = sorted(d for d in deps if d.startswith(QT))
        torch = sorted(d for d in deps if d.split(".")[0] == "torch")
        if not module.startswith("resnet_studio.gui.qt"):
            assert not qt, f"{module} imports {qt}"
        # The app and the core run on ONNX Runtime alone; torch work runs as a child from models/ or export/.
        if not module.startswith(("resnet_studio.models", "resnet_studio.export")):
            assert not torch, f"{module} imports {torch}"


def test_the_old_name_of_the_core_appears_nowhere():
    """gui/core installs as resnet_studio.core; its folder also answers to the old name in an
    editable install (gui/ then gui/core), which would load every class twice; gui/core/__init__.py refuses it."""
    old = "resnet_studio.gui" + ".core"
    sources = [*ROOT.joinpath("gui").rglob("*.py"), *ROOT.joinpath("models").rglob("*.py"),
               *ROOT.joinpath("export").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py"),
               ROOT / "pyproject.toml", ROOT / "README.md", ROOT / "Makefile"]
    assert [str(p) for p in sources if old in p.read_text()] == []


def test_every_child_module_exists_and_nothing_else_starts_python():
    from resnet_studio.core import children

    for name, module in children.MODULES.items():
        assert importlib.util.find_spec(module) is not None, f"child {name}: no module {module}"
    starters = sorted(str(path.relative_to(ROOT)) for module, path in modules().items()
                      if "sys.executable" in path.read_text() and module != "resnet_studio.core.children")
    assert starters == []


def test_module_and_function_sizes():
    long_modules, long_functions = [], []
    for module, path in modules().items():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{module} ({text.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= MAX_FUNCTION_LINES:
                long_functions.append(f"{module}.{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long_modules == [] and long_functions == []


def test_each_constant_has_one_home():
    """A module-level CONSTANT defined in two modules is one fact written twice."""
    homes = Counter()
    for module, path in modules().items():
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper() and len(target.id) > 2:
                    homes[target.id] += 1
    assert sorted(name for name, count in homes.items() if count > 1) == []
