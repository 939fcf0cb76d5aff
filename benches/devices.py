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


# What each device speeds up, and the floor of the same run it is measured against.
PATHS = {
    "HS256, cache off": ("access/HS256/layer", "access/HS256/floor"),
    "cache hit": ("access/HS256/layer_cached", "access/HS256/floor"),
    "bad signature": (
        "access/base/layer_rejected_bad_signature",
        "access/base/floor_rejected_bad_signature",
    ),
}
DEVICES = {
    "prepared_hmac": ["HS256, cache off", "bad signature"],
    "known_headers": ["HS256, cache off", "bad signature"],
    "vector_base64": ["HS256, cache off", "bad signature"],
    "one_pass": ["HS256, cache off"],
    "thread_cache": ["cache hit"],
    "revoked_filter": ["cache hit"],
    "prepared_refusals": ["bad signature"],
}

with_ = medians("with")


def ratio(run, path):
    layer, floor = PATHS[path]
    return run[layer] / run[floor], run[layer]


print("| device (patch in `benches/without/`) | path | with: ratio to floor (median) | without | gain |")
print("|---|---|---|---|---|")
for device, paths in DEVICES.items():
    without = medians(device)
    for path in paths:
        (rw, nw), (ro, no) = ratio(with_, path), ratio(without, path)
        print(
            f"| `{device}` | {path} | {rw:.3f} ({nw:.0f} ns) | {ro:.3f} ({no:.0f} ns) "
            f"| {ro / rw:.2f} x |"
        )
router = {k: v for k, v in with_.items() if k.startswith("router/")}
if router:
    ident = router["router/router_identity"]
    for name in ("router/router_layer", "router/router_axum_layer"):
        print(f"| {name} | over an identity route_layer | +{router[name] - ident:.0f} ns | | |")
