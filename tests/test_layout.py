"""The code's layout as rules: what may import what (read from the source, every import counted,
including those inside functions)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "desktop")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Project modules that ``path`` imports, resolved to module names (``from . import x`` → pkg.x)."""
    me = module_name(path)
    pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    names = {module_name(p) for p in files}
    return {module_name(p): {m for m in imports_of(p) if m in names and m != module_name(p)} for p in files}


def test_no_module_imports_one_that_imports_it_back():
    g = graph()
    # a package's __init__ may name its children (lazily); edges into an __init__ are not cycles
    # through code, so only module → module edges are followed
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for n in sorted(g.get(m, ())):
            if n in ("engine", "engine.training", "desktop") or m in ("engine", "engine.training", "desktop"):
                continue
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_gui_never_imports_the_command_line_and_the_engine_never_imports_qt():
    g = graph()
    assert not {m: [n for n in deps if n.startswith("engine.cli")] for m, deps in g.items()
                if m.startswith("desktop") and any(n.startswith("engine.cli") for n in deps)}
    for p in (ROOT / "engine").rglob("*.py"):
        assert not any(i.startswith("PyQt6") for i in imports_of(p)), p


def test_the_product_needs_no_training_code():
    """engine.* outside engine.training imports nothing from it, except bench's optional PyTorch column."""
    g = graph()
    offenders = {m: sorted(n for n in deps if n.startswith("engine.training"))
                 for m, deps in g.items() if m.startswith("engine") and not m.startswith("engine.training")}
    assert {m: d for m, d in offenders.items() if d} == {"engine.bench": ["engine.training.torch_backend"],
                                                        "engine.cli.training": ["engine.training.args", "engine.training.data_report",
                                                                                "engine.training.evaluate", "engine.training.musicality_report",
                                                                                "engine.training.train"]}
