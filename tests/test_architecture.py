"""The import direction, read from the source: core ← models ← export ← the command line and the app.

Every import counts, the ones inside functions too: a lazy import is still a dependency.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"models": "resnet_studio.models", "export": "resnet_studio.export", "gui": "resnet_studio.gui"}
# Lower layers may not import higher ones.
LAYERS = [("resnet_studio.gui.core", 0), ("resnet_studio.models", 1), ("resnet_studio.export", 2),
          ("resnet_studio.gui", 3), ("resnet_studio.resources", 0)]


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def layer(module: str) -> int:
    return next(rank for prefix, rank in LAYERS if module == prefix or module.startswith(prefix + "."))


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # "from .core import report" imports the module core.report when there is one.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        out.update(n for n in names if n.startswith("resnet_studio"))
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: {i for i in imports(m, p, known) if i != m} for m, p in known.items()}


def test_nothing_imports_upward():
    upward = sorted(f"{m} imports {i}" for m, deps in graph().items() for i in deps if layer(i) > layer(m))
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


def test_qt_stays_in_the_app_and_torch_out_of_the_core():
    for module, path in modules().items():
        text = {n.names[0].name if isinstance(n, ast.Import) else (n.module or "")
                for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))}
        qt = any(t.startswith(("PySide6", "pyqtgraph")) for t in text)
        torch = any(t.startswith("torch") for t in text)
        if not module.startswith("resnet_studio.gui") or module.startswith("resnet_studio.gui.core"):
            assert not qt, f"{module} imports Qt"
        if module.startswith("resnet_studio.gui.core"):
            assert not torch, f"{module} imports torch"
        # The app runs on ONNX Runtime alone; what needs torch runs in a child process from models/ or export/.
        if module.startswith("resnet_studio.gui"):
            assert not torch, f"{module} imports torch"
