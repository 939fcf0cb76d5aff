#!/usr/bin/env python3
"""Fails when a module of src/ imports from a module that imports it back.

Reads every `use crate::...`, `use super::...` and `crate::a::b` path in src/, maps each to
the module (file) it names, and looks for cycles twice: between files, and between the
top-level modules (`service` -> `refresh` -> `shared` -> ...). A parent importing what it
declares as a child (`mod.rs` re-exporting `cache.rs`) is not a cycle: the child is part of
the parent. Prints the order of the top-level modules, lowest first.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"


def module_of(path):
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def files():
    return {module_of(p): p for p in SRC.rglob("*.rs")}


def resolve(path, modules):
    """The longest existing module prefix of a path of segments."""
    for n in range(len(path), 0, -1):
        if tuple(path[:n]) in modules:
            return tuple(path[:n])
    return None


def strip_tests(text):
    # Unit tests may import freely; they are not part of the module graph.
    cut = text.find("#[cfg(test)]\nmod tests")
    return text if cut < 0 else text[:cut]


def imports(module, text, modules):
    found = set()
    for m in re.finditer(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", strip_tests(text)):
        segs = m.group(2).split("::")[1:]
        if m.group(1) == "crate":
            base = []
        else:
            base = list(module[:-1])
        target = resolve(base + segs, modules)
        if target is not None and target != module and target != ():
            found.add(target)
    return found


def cycles(graph):
    seen, stack, out = set(), [], []

    def visit(node, on_path):
        if node in on_path:
            out.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, on_path | {node})
        stack.pop()

    for node in sorted(graph):
        visit(node, frozenset())
    return out


def main():
    modules = files()
    graph = {}
    for module, path in modules.items():
        deps = imports(module, path.read_text(), modules)
        # A module may use its own children and its parent may declare it: not cycles.
        graph[module] = {d for d in deps if d[: len(module)] != module}
    top = {}
    for module, deps in graph.items():
        if not module:
            continue
        for d in deps:
            if d and d[0] != module[0]:
                top.setdefault(module[0], set()).add(d[0])
        top.setdefault(module[0], set())
    bad = False
    for name, graph_ in (("file", graph), ("top-level module", top)):
        found = cycles(graph_)
        for cycle in found:
            bad = True
            print(f"{name} import cycle: " + " -> ".join("::".join(c) if isinstance(c, tuple) else c for c in cycle))
    if bad:
        sys.exit(1)
    order, placed = [], set()
    while len(placed) < len(top):
        layer = sorted(m for m in top if m not in placed and top[m] <= placed)
        order.append(layer)
        placed.update(layer)
    print("no import cycles; top-level modules, lowest first:")
    for layer in order:
        print("  " + ", ".join(layer))


main()
