"""The package's import graph: no cycles (module- or function-level imports) and no
module importing another module's private names."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "analysis"


def _modules():
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


def _imports(mods):
    """(importer, imported module, imported name or None) for every import in the package."""
    out = []
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out += [(name, a.name, None) for a in node.names if a.name in mods]
            elif isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rsplit(".", 1)[0]
                module = (f"{base}.{node.module}" if node.module else base) if node.level \
                    else node.module
                for a in node.names:
                    sub = f"{module}.{a.name}"
                    if sub in mods:
                        out.append((name, sub, None))
                    elif module in mods:
                        out.append((name, module, a.name))
    return out


def _cycles(edges, nodes):
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in nodes:
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycles_even_through_function_level_imports():
    mods = _modules()
    edges = {}
    for importer, imported, _ in _imports(mods):
        if importer != imported:
            edges.setdefault(importer, set()).add(imported)
    assert _cycles(edges, mods) == []


def test_no_module_imports_another_modules_private_names():
    mods = _modules()
    private = [(importer, f"{imported}.{name}") for importer, imported, name in _imports(mods)
               if name and name.startswith("_") and importer != imported
               and not imported.rsplit(".", 1)[-1].startswith("_")]  # _utils, loaders._io
    assert private == []


def test_the_checks_see_a_cycle_and_a_private_import(tmp_path):
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges, ["a", "b", "c", "d"]) == [["a", "b", "c"]]
