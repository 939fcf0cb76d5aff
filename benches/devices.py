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


# What each device speeds up, each as what the layer adds over the bare service given the
# same request (`bare_with_token`): for a new or a forged token, in multiples of HMAC-SHA256
# alone over its signing input (the physics, measured in the same run, and far steadier on a
# shared VM than the jsonwebtoken floor); for a cache hit, in nanoseconds.
PATHS = {
    "HS256, cache off": ("access/HS256/layer", "hmac"),
    "cache hit": ("access/HS256/layer_cached", "ns"),
    "tokens used once, cache on": ("access/HS256/layer_cached_single_use", "hmac"),
    "bad signature": ("access/base/layer_rejected_bad_signature", "hmac"),
    # Against the bare service given the same request: one without credentials.
    "no token": ("access/base/layer_no_token", "ns"),
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
    "coarse_clock": ["cache hit"],
    "prepared_refusals": ["bad signature", "no token"],
    "refusal_key": ["bad signature", "no token"],
    "admission": ["tokens used once, cache on"],
    "simd_payload": ["HS256, cache off"],
    "simd_check": ["HS256, cache off", "bad signature"],
}

with_ = medians("with")


def figure(run, path):
    layer, unit = PATHS[path]
    base = "access/base/bare" if path == "no token" else "access/base/bare_with_token"
    added = run[layer] - run[base]
    if unit == "ns":
        return added, f"+{added:.0f} ns"
    hmac = run["access/HS256/hmac_alone"]
    return added / hmac, f"+{added:.0f} ns = {added / hmac:.2f} x HMAC ({hmac:.0f} ns)"


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
