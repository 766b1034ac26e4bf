"""The shape of the code: no import cycle in ``ntk_bridge``, no module using another's private names.

Read statically with ``ast`` (nothing is imported).  An import is an edge wherever it sits,
at module level or inside a function (a lazy import still ties the two modules together), except
under ``if TYPE_CHECKING:``; so is a look-up of a package module in ``sys.modules``.  An edge
goes to the module that is actually executed: ``from . import x`` inside package ``p`` is an edge
to the module ``p.x`` when there is one (not to ``p/__init__``), ``from .m import name`` an edge
to ``p.m``.  Imports whose target is computed at run time (``importlib.import_module(f"...")``)
cannot be followed and are not edges.

A private name is one with a single leading underscore; ``from m import _x``, ``m._x`` and
``m.f(_x=...)`` (``m`` a module of this project) use one of ``m``.  Tests may reach into privates
(to monkeypatch), so only ``ntk_bridge/``, ``proofs_checks/`` and ``benchmarks/`` are held to this.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ntk_bridge"
NO_PRIVATE_USE = ("ntk_bridge", "proofs_checks", "benchmarks")


# --------------------------------------------------------------------------- reading the sources
def module_name(path: Path) -> str:
    """``ntk_bridge/predict/__init__.py`` -> ``ntk_bridge.predict``; ``ntk_bridge/store.py`` -> ``ntk_bridge.store``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(*folders: str) -> dict[str, tuple[str, bool]]:
    """``{module: (source, is_package)}`` of every ``.py`` file under ``folders``."""
    out = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            out[module_name(path)] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (its ``else`` is kept)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module ``from <node.module> import ...`` names, relative imports resolved."""
    if not node.level:
        return node.module
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def _known(name: str, modules) -> str | None:
    """``name`` or its longest prefix that is one of ``modules`` (``None``: not this project's)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _sys_modules_key(node: ast.AST, module: str, is_package: bool) -> str | None:
    """The module ``sys.modules[key]`` / ``sys.modules.get(key)`` looks up, when ``key`` is known statically."""
    if isinstance(node, ast.Subscript):
        container, key = node.value, node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
            and node.args:
        container, key = node.func.value, node.args[0]
    else:
        return None
    if not (isinstance(container, ast.Attribute) and container.attr == "modules"
            and isinstance(container.value, ast.Name) and container.value.id == "sys"):
        return None
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    if isinstance(key, ast.Name) and key.id == "__name__":
        return module
    if isinstance(key, ast.Name) and key.id == "__package__":
        return module if is_package else module.rpartition(".")[0]
    return None


def imports(module: str, source: str, is_package: bool, modules) -> set[str]:
    """The modules of ``modules`` that ``source`` imports (the module that runs, see the module docstring)."""
    out = set()
    for node in _nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _known(alias.name, modules):
                    out.add(_known(alias.name, modules))
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node)
            for alias in node.names:
                if _join(base, alias.name) in modules:          # a submodule: that module is what runs
                    out.add(_join(base, alias.name))
                elif _known(base, modules):                     # a name defined in (the __init__ of) base
                    out.add(_known(base, modules))
        else:
            key = _sys_modules_key(node, module, is_package)
            if key and _known(key, modules):
                out.add(_known(key, modules))
    return out


def import_graph(srcs: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """``{module: modules it imports}`` among the modules of ``srcs`` (self-imports left out)."""
    return {m: imports(m, src, pkg, srcs) - {m} for m, (src, pkg) in srcs.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) through each strongly connected component of more than one module."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []

    def connect(v):                       # Tarjan; recursion depth <= number of modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(_cycle_through(min(comp), graph, comp) for comp in comps)


def _cycle_through(start: str, graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle ``[start, ..., start]`` inside ``comp`` (breadth first)."""
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return path[::-1] + [start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} is on no cycle of {sorted(comp)}")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(module: str, source: str, is_package: bool, modules) -> list[str]:
    """``"module:line uses other._name"`` for each private name of another of ``modules`` used in ``source``.

    Also a private keyword argument (``f(_x=...)``) in a call of another module's function.
    """
    tree = ast.parse(source)
    bound = {}                 # local name -> the module it stands for
    imported = {}              # local name -> the module it was imported from (a name that is not a module)
    found = []                 # (line, what is used)
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _known(alias.name, modules):
                    bound[alias.asname or alias.name.partition(".")[0]] = \
                        alias.name if alias.asname else alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node)
            for alias in node.names:
                if _join(base, alias.name) in modules:
                    bound[alias.asname or alias.name] = _join(base, alias.name)
                elif _known(base, modules):
                    imported[alias.asname or alias.name] = base
                if _private(alias.name) and _known(base, modules) and base != module:
                    found.append((node.lineno, f"{base}.{alias.name}"))

    def owner_of(node: ast.expr) -> str | None:
        """The module ``node`` (``m``, ``m.sub``, ``nb.m``) stands for, or ``None``."""
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not (isinstance(node, ast.Name) and node.id in bound):
            return None
        owner = ".".join([bound[node.id], *reversed(chain)])
        return owner if owner in modules else None

    for node in _nodes(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = owner_of(node.value)
            if owner and owner != module:
                found.append((node.lineno, f"{owner}.{node.attr}"))
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in imported:
                owner, name = imported[node.func.id], node.func.id
            elif isinstance(node.func, ast.Attribute):
                owner, name = owner_of(node.func.value), node.func.attr
            else:
                continue
            for kw in node.keywords:
                if owner and owner != module and kw.arg and _private(kw.arg):
                    found.append((node.lineno, f"{owner}.{name}({kw.arg}=...)"))
    return [f"{module}:{line} uses {name}" for line, name in sorted(found)]


# --------------------------------------------------------------------------- the rules, on this project
def test_the_package_has_no_import_cycle():
    srcs = sources(PACKAGE)
    graph = import_graph(srcs)
    assert sum(map(len, graph.values())) > 200, "the graph lost its edges: the reader is broken"
    assert "ntk_bridge.predict.meta_learning" in graph["ntk_bridge.predict"]   # a package imports its modules
    assert "ntk_bridge.store" in graph["ntk_bridge.experiments"]               # from .. import store: the module
    assert "ntk_bridge" in graph["ntk_bridge.store"]     # from . import __version__, inside a function: the package
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_module_uses_another_modules_private_names():
    srcs = sources(*NO_PRIVATE_USE)
    found = [use for m, (src, pkg) in srcs.items() for use in private_uses(m, src, pkg, srcs)]
    assert not found, "private names used from outside their module:\n" + "\n".join(found)


# --------------------------------------------------------------------------- the readers, on toy packages
def _toy(**files: str) -> dict[str, tuple[str, bool]]:
    """``p__init="..."`` -> ``{"p": (source, True)}``; ``p__a="..."`` -> ``{"p.a": (source, False)}``."""
    out = {}
    for key, src in files.items():
        parts = key.split("__")
        out[".".join(p for p in parts if p != "init")] = (src, parts[-1] == "init")
    return out


def test_a_package_importing_its_submodules_is_no_cycle():
    toy = _toy(p__init="from . import a, b\nfrom .a import f\n", p__a="from . import b\nfrom p import c\n",
               p__b="from .c import g\nimport p.c\n", p__c="x = 1\n")
    graph = import_graph(toy)
    assert graph["p"] == {"p.a", "p.b"} and graph["p.a"] == {"p.b", "p.c"} and graph["p.b"] == {"p.c"}
    assert cycles(graph) == []


@pytest.mark.parametrize("lazy", ["def f():\n    from . import a\n", "def f():\n    import p.a\n",
                                  "def f():\n    from .a import g\n", "import sys\nm = sys.modules['p.a']\n",
                                  "def f():\n    from p import a\n"])
def test_a_lazy_import_or_sys_modules_look_up_closes_a_cycle(lazy):
    toy = _toy(p__init="", p__a="from .b import f\n", p__b=lazy)
    assert cycles(import_graph(toy)) == [["p.a", "p.b", "p.a"]]


def test_an_import_of_the_package_namespace_is_an_edge_to_its_init():
    toy = _toy(p__init="from .a import f\n", p__a="import sys\ndef f():\n    return sys.modules[__package__]\n")
    assert cycles(import_graph(toy)) == [["p", "p.a", "p"]]
    toy = _toy(p__init="from .a import f\n", p__a="def f():\n    from . import g\n")   # g: a name, not a module
    assert cycles(import_graph(toy)) == [["p", "p.a", "p"]]


def test_type_checking_imports_are_no_edges():
    toy = _toy(p__init="", p__a="from .b import f\n",
               p__b="from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import X\n")
    assert cycles(import_graph(toy)) == []


def test_private_uses_are_found_in_every_spelling_and_own_names_are_not():
    toy = _toy(p__init="", p__a="_y = 1\nz = _y\ndef f(_k=0):\n    return f(_k=1)\n",
               p__b="from .a import _y, f\nfrom . import a\nv = a._y + f(_k=2) + a.f(_k=3) + f(k=4)\n",
               p__c="import p.a\nimport p.a as pa\nv = p.a._y + pa._y + pa.__name__\ndef g(s):\n    return s._y\n")
    found = [u for m, (src, pkg) in toy.items() for u in private_uses(m, src, pkg, toy)]
    assert found == ["p.b:1 uses p.a._y", "p.b:3 uses p.a._y", "p.b:3 uses p.a.f(_k=...)", "p.b:3 uses p.a.f(_k=...)",
                     "p.c:3 uses p.a._y", "p.c:3 uses p.a._y"]
