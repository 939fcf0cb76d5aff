#!/usr/bin/env python3
"""Fails when a module of src/ imports from a module that imports it back, or from a layer
above its own, or when the resource server imports the session side.

Reads every path into the crate in src/ (`use crate::a::b`, grouped `use crate::{a::b, c}`,
`use super::...`, and `crate::a::b` in expressions), maps each to the module (file) it
names, and looks for cycles twice: between files, and between the top-level modules
(`service` -> `refresh` -> `shared` -> ...). A name the crate root re-exports
(`use crate::Sessions`) counts as the module it comes from. A parent importing what it
declares as a child (`mod.rs` re-exporting `cache.rs`) is not a cycle: the child is part of
the parent. Prints the order of the top-level modules, lowest first.

The layers (LAYERS, lowest first) are the crate's architecture written down: a top-level
module imports only from its own layer or those below, except for the EXCEPTIONS, each with
its reason. The resource server (RESOURCE_SERVER: the verify-only layer, scopes, DPoP, the
wire floor) never imports the session side (SESSION_SIDE), so that splitting it into a crate
of its own stays a move, not a rewrite.

`--self-test` plants each form of import in a copy of src/ and fails unless every planted
cycle, upward import and resource-server import of the session side is found and the tree
as it is passes.
"""
import pathlib
import re
import shutil
import sys
import tempfile

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"

# Lowest first. A module may import from its own layer and the layers below.
LAYERS = [
    # the floor: time, settings and their bounds, a timer that works under any executor, a
    # backend's optional capabilities behind a pointer, the guides (documentation only)
    ["clock", "defaults", "limits", "timer", "capability", "guide"],
    # refusals and configuration errors, and how they render
    ["error"],
    # counters and logs, route matching, keys, claims of any issuer, well-known documents
    ["telemetry", "routes", "keys", "standard_claims", "well_known"],
    # minting and verifying tokens; the one door to session state; the user-claims window
    ["token", "store", "user_cache"],
    # DPoP proofs, the refresh cookie
    ["dpop", "cookie"],
    # the wire, shared by the three layers: credentials, refusals, body, future
    ["http"],
    # what each layer checks: sessions (access), scopes, other issuers' tokens (verifier),
    # the user's authentication (step_up)
    ["access", "scope", "verifier", "step_up"],
    # an MCP server's calls: scopes and step-ups by method and name
    ["mcp"],
    # the refresh route
    ["refresh"],
    # the session middleware
    ["service"],
    # the app's handle and builder; Machinable's claim type
    ["sessions", "machinable"],
    # framework integration
    ["axum"],
]

# (importer, imported): why this import may run up the layers. Keep it short.
EXCEPTIONS = {}

# The resource server's modules, and the session side they never import.
RESOURCE_SERVER = [
    "verifier", "scope", "step_up", "mcp", "standard_claims", "well_known", "dpop", "http",
]
SESSION_SIDE = ["access", "cookie", "refresh", "service", "sessions", "store", "user_cache"]
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def module_of(src, path):
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def files(src):
    return {module_of(src, p): p for p in src.rglob("*.rs")}


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


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", text)


def split_top(text):
    """Splits a use-tree list at the commas outside braces."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def expand(tree):
    """Every path a use-tree names: `a::{b::c, d}` -> [a::b::c, a::d]."""
    tree = re.sub(r"\s+", "", tree)
    tree = re.sub(r"\bas" + IDENT + "$", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    out = []
    for part in split_top(inner):
        for path in expand(part):
            out.append(prefix + ("" if path == "self" else path))
    return out


def paths(text):
    """(root, segments) of every path into the crate: `use` trees expanded, then the
    plain `crate::a::b` paths of the code."""
    text = strip_comments(strip_tests(text))
    found = []
    for m in re.finditer(r"\buse\s+([^;]*);", text, re.S):
        for path in expand(m.group(1)):
            segs = [s for s in path.split("::") if s and s != "self"]
            if segs and segs[0] in ("crate", "super"):
                found.append((segs[0], segs[1:]))
    code = re.sub(r"\buse\s+[^;]*;", "", text, flags=re.S)
    for m in re.finditer(r"\b(crate|super)((?:::" + IDENT + ")+)", code):
        found.append((m.group(1), m.group(2).split("::")[1:]))
    return found


def root_exports(src, modules):
    """Names the crate root re-exports from its own modules: name -> module."""
    exports = {}
    for root, segs in paths((src / "lib.rs").read_text().replace("pub use ", "use crate::")):
        if root == "crate" and segs:
            target = resolve(segs, modules)
            if target:
                exports[segs[-1]] = target
    return exports


def imports(module, text, modules, exports):
    found = set()
    for root, segs in paths(text):
        base = [] if root == "crate" else list(module[:-1])
        target = resolve(base + segs, modules)
        if target is None and root == "crate" and len(segs) >= 1:
            # `crate::Sessions`: through the root's re-export, to the module it comes from.
            target = exports.get(segs[0])
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


def check(src, quiet=False):
    """Prints the cycles, or the order of the top-level modules; True when there are none."""
    modules = files(src)
    exports = root_exports(src, modules)
    graph = {}
    for module, path in modules.items():
        deps = imports(module, path.read_text(), modules, exports)
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
    layer_of = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    for module in sorted(top):
        if module not in layer_of:
            bad = True
            if not quiet:
                print(f"module {module} is in no layer: add it to LAYERS")
    for module, deps in sorted(top.items()):
        for dep in sorted(deps):
            if (module, dep) in EXCEPTIONS:
                continue
            if layer_of.get(dep, -1) > layer_of.get(module, len(LAYERS)):
                bad = True
                if not quiet:
                    print(f"upward import: {module} (layer {layer_of[module]}) imports {dep} "
                          f"(layer {layer_of[dep]})")
            if module in RESOURCE_SERVER and dep in SESSION_SIDE:
                bad = True
                if not quiet:
                    print(f"the resource server imports the session side: {module} -> {dep}")
    for name, graph_ in (("file", graph), ("top-level module", top)):
        for cycle in cycles(graph_):
            bad = True
            if not quiet:
                print(f"{name} import cycle: " + " -> ".join(
                    "::".join(c) if isinstance(c, tuple) else c for c in cycle))
    if bad:
        return False
    if bad:
        return False
    if not quiet:
        order, placed = [], set()
        while len(placed) < len(top):
            layer = sorted(m for m in top if m not in placed and top[m] <= placed)
            order.append(layer)
            placed.update(layer)
        print("no import cycles, no upward import, the resource server apart from the "
              "session side; top-level modules by what they import, lowest first:")
        for layer in order:
            print("  " + ", ".join(layer))
    return True


# Each plant adds to src/token/mod.rs (below `sessions`, which builds its codec) an
# import of `sessions` in one form: each must close a cycle.
PLANTS = {
    "plain": "use crate::sessions::Sessions;",
    "grouped": "use crate::{sessions::Sessions};",
    "nested group": "use crate::{clock, sessions::{Sessions, SessionsBuilder}};",
    "root re-export": "use crate::Sessions;",
    "grouped root re-export": "use crate::{Claims, Sessions};",
    "expression": "fn planted() { let _ = crate::sessions::MAX_META_LEN; }",
}


# Imports that break the layering without closing a cycle: (file, line, what must be seen).
LAYER_PLANTS = {
    "upward import": ("keys/mod.rs", "use crate::http::LayerMark;", "upward import"),
    "resource server on the session side": (
        "verifier/mod.rs", "use crate::store::Guard;", "the resource server imports"),
}


def self_test():
    ok = check(SRC, quiet=True)
    if not ok:
        print("self-test: the tree as it is already has a cycle")
    for name, line in PLANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            copy = pathlib.Path(tmp) / "src"
            shutil.copytree(SRC, copy)
            target = copy / "token" / "mod.rs"
            # At the top: anything after the unit tests is not read.
            target.write_text(line + "\n" + target.read_text())
            if check(copy, quiet=True):
                print(f"self-test: a planted {name} import was not seen: {line}")
                ok = False
    for name, (file, line, _) in LAYER_PLANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            copy = pathlib.Path(tmp) / "src"
            shutil.copytree(SRC, copy)
            target = copy / file
            target.write_text(line + "\n" + target.read_text())
            if check(copy, quiet=True):
                print(f"self-test: a planted {name} was not seen: {line} in {file}")
                ok = False
    print("self-test passed" if ok else "self-test FAILED")
    return ok


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        sys.exit(0 if self_test() else 1)
    sys.exit(0 if check(SRC) else 1)
