"""The code's shape: packages depend on each other in one direction, no import is hidden
inside a function to dodge a cycle, no module imports itself round a loop, and no source
file grows past the size where it usually holds two ideas."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "dsae"
MAX_LINES = 400
ROOT_MODULES = {"dsae", "dsae.errors", "dsae.utils", "dsae.config"}

# Lower ranks are lower layers. A module may import its own package and any package of a
# strictly lower rank; packages of equal rank are independent of each other.
RANKS = {
    "dsae": 0,  # the root modules: dsae/__init__, errors, utils, config
    "dsae.data": 1,
    "dsae.models": 1,
    "dsae.viz": 2,
    "dsae.objectives": 2,
    "dsae.samplers": 3,
    "dsae.train": 4,
    "dsae.eval": 4,
    "dsae.pipeline": 5,
    "dsae.studies": 3,
    "dsae.cli": 6,
    "dsae.__main__": 7,
}


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> str:
    """The unit of layering a module belongs to: ``dsae.<top>`` (or ``dsae`` itself)."""
    parts = module.split(".")
    top = ".".join(parts[:2])
    return "dsae" if top in ROOT_MODULES else top


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_modules(path: Path, tree: ast.AST) -> list[tuple[str, ast.AST]]:
    """Every ``dsae`` module a file imports, with the node that imports it."""
    me = module_name(path)
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node) for a in node.names if a.name.split(".")[0] == "dsae"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if is_pkg else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "dsae":
                out.append((mod, node))
                out += [(f"{mod}.{a.name}", node) for a in node.names]
    return out


def function_level(tree: ast.AST) -> set[int]:
    """ids of import nodes that sit inside a function body."""
    inside: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    inside.add(id(node))
    return inside


def known_modules() -> set[str]:
    return {module_name(p) for p in sources()}


def test_every_package_has_a_rank():
    layers = {layer(module_name(p)) for p in sources()}
    assert layers <= set(RANKS), f"give these packages a rank: {sorted(layers - set(RANKS))}"


def test_packages_import_only_lower_layers():
    bad = []
    for path in sources():
        me = module_name(path)
        mine = layer(me)
        for mod, node in imported_modules(path, ast.parse(path.read_text())):
            other = layer(mod)
            if other == mine or other not in RANKS or mine not in RANKS:
                continue
            if RANKS[other] >= RANKS[mine]:
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} {me} -> {mod}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_dsae_import_is_hidden_inside_a_function():
    bad = set()
    for path in sources():
        tree = ast.parse(path.read_text())
        inside = function_level(tree)
        for _, node in imported_modules(path, tree):
            if id(node) in inside:
                bad.add(f"{path.relative_to(REPO)}:{node.lineno}")
        text = path.read_text()
        if "importlib" in text and "import_module" in text:
            bad.add(f"{path.relative_to(REPO)}: imports modules by name (importlib)")
    assert not bad, "dsae imports inside functions:\n" + "\n".join(sorted(bad))


def test_modules_import_each_other_without_cycles():
    known = known_modules()
    graph: dict[str, set[str]] = {}
    for path in sources():
        me = module_name(path)
        tree = ast.parse(path.read_text())
        deps = set()
        for mod, _ in imported_modules(path, tree):
            while mod and mod not in known:
                mod = mod.rpartition(".")[0]
            if mod and mod != me and not me.startswith(mod + "."):
                deps.add(mod)  # a package's own __init__ is imported with any of its modules
        graph[me] = deps
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return stack[stack.index(d) :] + [d]
            if d not in state and (cycle := visit(d)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


@pytest.mark.parametrize("root", ["src", "benchmarks"])
def test_no_source_file_is_over_the_size_limit(root):
    big = [
        f"{p.relative_to(REPO)} ({n} lines)"
        for p in sorted((REPO / root).rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]
    assert not big, f"files over {MAX_LINES} lines:\n" + "\n".join(big)


def test_the_checks_catch_what_they_forbid(tmp_path):
    """The import scan finds upward, relative and function-level imports."""
    fake = PACKAGE / "models" / "_probe.py"  # never written: parsed from text
    code = "from dsae.train import train\nfrom ..eval import judge\ndef f():\n    import dsae.cli\n"
    tree = ast.parse(code)
    found = imported_modules(fake, tree)
    mods = {m for m, _ in found}
    assert {"dsae.train", "dsae.eval", "dsae.cli"} <= mods
    assert all(RANKS[layer(m)] > RANKS["dsae.models"] for m in ("dsae.train", "dsae.eval"))
    inside = function_level(tree)
    assert [m for m, n in found if id(n) in inside] == ["dsae.cli"]
