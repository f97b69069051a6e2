"""The code's layout as rules (docs/DESIGN.md, Layering): what may import what.

The rules are read from the source, every import counted wherever it stands — at module level, inside
a function, inside ``try`` or ``if`` — and matched by module name at any depth: banning ``torch`` bans
``import torch``, ``import torch.nn``, ``from torch import nn``, ``from torch.nn import functional`` and
``importlib.import_module("torch.nn")``.

1. The product (``engine`` outside ``engine/training/``) runs on the base install: it never imports
   ``torch``, ``torchvision`` or the training code (``engine.training``), and never the GUI
   (``desktop``) or Qt (``PyQt6``).
2. The app (``desktop``) never imports ``torch``, ``torchvision`` or ``engine.training`` either, and
   never the command line (``engine.cli``); the training code never imports the app or Qt.
3. The documented exceptions to 1 are imports made inside a function, so that they are loaded only
   when the one command that needs them runs:
   - ``engine.bench`` (``synesthete bench``'s optional PyTorch column) imports ``torch`` and
     ``engine.training.torch_backend``;
   - ``engine.cli.training`` (``synesthete data``, ``train``, ``evaluate``) imports ``engine.training.*``.
4. No module imports one that imports it back.

Each rule is a function of a source tree that returns its violations; the tests at the end build a
copy of this repository with one rule broken and check that the rule names it.
"""
from __future__ import annotations

import ast
import functools
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "desktop")

TORCH = ("torch", "torchvision")
PRODUCT_NEVER = TORCH + ("engine.training", "desktop", "PyQt6")
APP_NEVER = TORCH + ("engine.training", "engine.cli")
TRAINING_NEVER = ("desktop", "PyQt6")
# module -> the banned modules it may import, inside a function only
LAZY_EXCEPTIONS = {
    "engine.bench": ("torch", "engine.training.torch_backend"),
    "engine.cli.training": ("engine.training",),
}
# packages whose __init__ names its children without importing them at load time
LAZY_PACKAGES = ("engine", "engine.training", "desktop")


@dataclass(frozen=True)
class Import:
    module: str  # the imported name in full; ``from a import b`` gives a.b, and a (with ``base``)
    line: int
    lazy: bool  # inside a function body: runs only when the function is called
    statement: str  # as written, relative names resolved: ``from engine.training import model``
    base: bool = False  # the ``a`` of ``from a import b``: loaded, but judged by what is taken from it


def within(name: str, prefix: str) -> bool:
    """``name`` is the module ``prefix`` or inside it (torch.nn is within torch; torchvision is not)."""
    return name == prefix or name.startswith(prefix + ".")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for pkg in PACKAGES if (root / pkg).is_dir() for p in sorted((root / pkg).rglob("*.py"))}


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import in ``path``, relative ones resolved (``from . import x`` in pkg/m.py → pkg, pkg.x)."""
    me = module_name(path, root)
    pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, node.lineno, lazy, f"import {a.name}") for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            taken = [a.name for a in node.names if a.name != "*"]
            statement = f"from {mod} import {', '.join(a.name for a in node.names)}"
            found.append(Import(mod, node.lineno, lazy, statement, base=bool(taken)))
            found.extend(Import(f"{mod}.{t}", node.lineno, lazy, statement) for t in taken)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and not node.args[0].value.startswith(".")
              and (getattr(node.func, "attr", None) == "import_module" or getattr(node.func, "id", None) == "__import__")):
            found.append(Import(node.args[0].value, node.lineno, lazy, ast.unparse(node)))
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(parse(path.read_text()), False)
    return found


@functools.lru_cache(maxsize=None)
def parse(source: str) -> ast.Module:  # the copies below share the repository's unchanged files
    return ast.parse(source)


def is_product(module: str) -> bool:
    return within(module, "engine") and not within(module, "engine.training")


def where(path: Path, imp: Import, root: Path) -> str:
    return f"{path.relative_to(root).as_posix()}:{imp.line} `{imp.statement}`"


def banned_imports(root: Path = ROOT) -> list[str]:
    """Rules 1-3: each import of a module its layer may not import, unless it is a documented exception
    made the documented way."""
    out: dict[tuple[str, int], str] = {}  # one report a line: ``from torch import nn`` is one violation
    for me, path in source_files(root).items():
        never = (PRODUCT_NEVER if is_product(me) else TRAINING_NEVER if within(me, "engine")
                 else APP_NEVER)
        for imp in imports_of(path, root):
            ban = next((b for b in never if within(imp.module, b)), None)
            if ban is None or imp.base or (me, imp.line) in out:
                continue
            if any(within(imp.module, e) for e in LAZY_EXCEPTIONS.get(me, ())):
                if not imp.lazy:
                    out[me, imp.line] = (f"{where(path, imp, root)} at module level: a documented exception, "
                                         f"allowed only inside the function that needs it")
                continue
            out[me, imp.line] = f"{where(path, imp, root)}: {me} never imports {ban}"
    return sorted(out.values())


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = source_files(root)
    return {me: {i.module for i in imports_of(p, root) if i.module in files and i.module != me}
            for me, p in files.items()}


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Rule 4. The packages whose __init__ only names its children, loading them lazily (``engine``,
    ``engine.training``, ``desktop``), are not followed: edges through them are not cycles through code."""
    g = graph(root)
    packages = set(LAZY_PACKAGES)
    state: dict[str, int] = {}
    found = []

    def visit(m, stack):
        state[m] = 1
        for n in sorted(g.get(m, ())):
            if n in packages or m in packages:
                continue
            if state.get(n) == 1:
                found.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    return found


# --- the repository keeps the rules -------------------------------------------------------------

def none(violations: list) -> None:
    assert not violations, "\n" + "\n".join(map(str, violations))


def test_the_product_imports_neither_torch_nor_the_training_code_nor_the_gui():
    none([v for v in banned_imports() if v.startswith("engine/") and not v.startswith("engine/training/")])


def test_the_app_imports_neither_torch_nor_the_training_code_nor_the_command_line():
    none([v for v in banned_imports() if v.startswith("desktop/")])


def test_the_training_code_never_imports_the_app_or_qt():
    none([v for v in banned_imports() if v.startswith("engine/training/")])


def test_no_module_imports_one_that_imports_it_back():
    none([" -> ".join(c) for c in cycles()])


def test_the_documented_exceptions_are_the_ones_in_use():
    """An exception nobody uses any more is dropped from the list (and from docs/DESIGN.md)."""
    files = source_files()
    for me, allowed in LAZY_EXCEPTIONS.items():
        used = [i.module for i in imports_of(files[me])]
        for a in allowed:
            assert any(within(u, a) for u in used), f"{me} no longer imports {a}"


# --- each rule catches its violation -------------------------------------------------------------

def copy_of_repo(tmp_path: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg,  # the sources only (not the model's weights)
                        ignore=lambda d, names: [n for n in names if n == "__pycache__"
                                                 or not (n.endswith(".py") or (Path(d) / n).is_dir())])
    return tmp_path


# the mutation: (file, code appended to it, what the report must say; {n} is the line of the import)
MUTATIONS = {
    "top-level import torch in a product module": (
        "engine/generation/sampling.py", "import torch\n", "engine/generation/sampling.py:{n} `import torch`: engine.generation.sampling never imports torch"),
    "import torch.nn (a submodule) in a product module": (
        "engine/generation/compose.py", "import torch.nn as nn\n", "engine/generation/compose.py:{n} `import torch.nn`: engine.generation.compose never imports torch"),
    "from torch import ... in a product module, inside a function": (
        "engine/music/keys.py", "def _f():\n    from torch import nn\n", "engine/music/keys.py:{n} `from torch import nn`: engine.music.keys never imports torch"),
    "import torchvision in a product module": (
        "engine/request.py", "import torchvision.models\n", ": engine.request never imports torchvision"),
    "import desktop... in engine/generation/runtime.py": (
        "engine/generation/runtime.py", "import desktop.theme\n", "engine/generation/runtime.py:{n} `import desktop.theme`: engine.generation.runtime never imports desktop"),
    "from desktop import ... in a product module, inside a function": (
        "engine/live/stream.py", "def _f():\n    from desktop.worker import GenerateWorker\n", ": engine.live.stream never imports desktop"),
    "PyQt6 in a product module": (
        "engine/live/ports.py", "from PyQt6.QtCore import QObject\n", ": engine.live.ports never imports PyQt6"),
    "PyQt6 in the training code": (
        "engine/training/train.py", "import PyQt6\n", ": engine.training.train never imports PyQt6"),
    "the training code in a product module": (
        "engine/live/scheduler.py", "from ..training import model\n",
        "engine/live/scheduler.py:{n} `from engine.training import model`: engine.live.scheduler never imports engine.training"),
    "module-level import of engine.training.train in engine/cli/training.py": (
        "engine/cli/training.py", "from ..training.train import train\n",
        "engine/cli/training.py:{n} `from engine.training.train import train` at module level: a documented exception"),
    "module-level import of torch_backend in engine/bench.py": (
        "engine/bench.py", "from .training import torch_backend\n",
        "engine/bench.py:{n} `from engine.training import torch_backend` at module level"),
    "module-level import torch in engine/bench.py": (
        "engine/bench.py", "import torch\n", "engine/bench.py:{n} `import torch` at module level"),
    "a documented exception taken by another module": (
        "engine/cli/pieces.py", "def _f():\n    from ..training.train import train\n", ": engine.cli.pieces never imports engine.training"),
    "import torch in desktop/": (
        "desktop/worker.py", "import torch\n", "desktop/worker.py:{n} `import torch`: desktop.worker never imports torch"),
    "importlib.import_module('torch.nn') in desktop/": (
        "desktop/app.py", "import importlib\ndef _f():\n    return importlib.import_module('torch.nn')\n",
        "desktop/app.py:{n} `importlib.import_module('torch.nn')`: desktop.app never imports torch"),
    "the training code in desktop/": (
        "desktop/player.py", "from engine.training import evaluate\n", ": desktop.player never imports engine.training"),
    "the command line in desktop/": (
        "desktop/main_window.py", "from engine.cli import main\n", ": desktop.main_window never imports engine.cli"),
}


def mutate(root: Path, file: str, code: str) -> int:
    """Appends ``code`` to ``file``; returns the line number of the import it adds."""
    path = root / file
    text = path.read_text()
    text += "" if text.endswith("\n") else "\n"
    path.write_text(text + code)
    return len(text.splitlines()) + len([l for l in code.splitlines() if l.strip()])


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_a_banned_import_is_reported_where_it_stands(tmp_path, case):
    root = copy_of_repo(tmp_path)
    assert banned_imports(root) == []  # the copy keeps the rules before the mutation
    file, code, expected = MUTATIONS[case]
    n = mutate(root, file, code)
    found = banned_imports(root)
    assert any(expected.format(n=n) in v for v in found), found


def test_a_cycle_is_reported(tmp_path):
    root = copy_of_repo(tmp_path)
    assert cycles(root) == []
    mutate(root, "engine/generation/tokens.py", "def _f():\n    from . import compose\n")
    assert any(c[0] == c[-1] and {"engine.generation.tokens", "engine.generation.compose"} <= set(c) for c in cycles(root)), cycles(root)
