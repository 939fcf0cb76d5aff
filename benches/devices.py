#!/usr/bin/env python3
"""The with/without table of benches/devices.sh: for each device, the path it speeds up,
as a ratio to that run's floor with the device and without it.

Usage: python3 benches/devices.py [dir written by devices.sh, default target/devices]
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/devices"


def medians(run):
    found = {}
    for dirpath, _, filenames in os.walk(os.path.join(root, run)):
        if os.path.basename(dirpath) == "new" and "estimates.json" in filenames:
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                name = json.load(f)["full_id"]
            with open(os.path.join(dirpath, "estimates.json")) as f:
                found[name] = json.load(f)["median"]["point_estimate"]
    return found


# What each device speeds up, and the floor of the same run it is measured against. A new or
# forged token: a ratio to the jsonwebtoken floor. A cache hit: what the layer adds over the
# bare service given the same request (the figure issue 30 sets a goal for).
PATHS = {
    "HS256, cache off": ("access/HS256/layer", "access/HS256/floor", "ratio"),
    "cache hit": ("access/HS256/layer_cached", "access/base/bare_with_token", "added"),
    "bad signature": (
        "access/base/layer_rejected_bad_signature",
        "access/base/floor_rejected_bad_signature",
        "ratio",
    ),
}
DEVICES = {
    "prepared_hmac": ["HS256, cache off", "bad signature"],
    "known_headers": ["HS256, cache off", "bad signature"],
    "vector_base64": ["HS256, cache off", "bad signature"],
    "one_pass": ["HS256, cache off"],
    "str_read": ["HS256, cache off"],
    "thread_cache": ["cache hit"],
    "revoked_filter": ["cache hit"],
    "session_hash": ["cache hit"],
    "token_bytes": ["cache hit"],
    "prepared_refusals": ["bad signature"],
}

with_ = medians("with")


def figure(run, path):
    layer, floor, kind = PATHS[path]
    if kind == "added":
        added = run[layer] - run[floor]
        return added, f"+{added:.0f} ns over bare"
    return run[layer] / run[floor], f"{run[layer] / run[floor]:.3f} ({run[layer]:.0f} ns)"


print("| device (patch in `benches/without/`) | path | with | without | gain |")
print("|---|---|---|---|---|")
for device, paths in DEVICES.items():
    if not os.path.isdir(os.path.join(root, device)):
        continue
    without = medians(device)
    for path in paths:
        (vw, tw), (vo, to) = figure(with_, path), figure(without, path)
        print(f"| `{device}` | {path} | {tw} | {to} | {vo / vw:.2f} x |")
router = {k: v for k, v in with_.items() if k.startswith("router/")}
if router:
    bare, ident = router["router/router_bare"], router["router/router_identity"]
    for name in ("router/router_layer", "router/router_axum_layer"):
        print(
            f"| {name} | a cache hit in a Router | +{router[name] - bare:.0f} ns over the bare "
            f"Router, +{router[name] - ident:.0f} ns over an identity route_layer | | |"
        )
