#!/usr/bin/env python3
"""Prints the criterion results of this run as a table of ratios to the floors.

Usage: python3 benches/report.py [criterion dir, default target/criterion]
"""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
results = {}
for dirpath, dirnames, filenames in os.walk(root):
    if os.path.basename(dirpath) == "new" and "estimates.json" in filenames:
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        results[bench["full_id"]] = est["median"]["point_estimate"]


def fmt(ns):
    return f"{ns / 1000:.3f} us" if ns >= 1000 else f"{ns:.0f} ns"


def row(name, ns, floor_name):
    floor = results.get(floor_name)
    ratio = f"{ns / floor:.2f} x {floor_name}" if floor else ""
    print(f"| {name} | {fmt(ns)} | {ratio} |")


print("| benchmark | median | ratio |")
print("|---|---|---|")
hs_floor = "access/HS256/floor"
for name in sorted(results):
    ns = results[name]
    if name.startswith("access/") and name.endswith("/layer"):
        row(name, ns, name.replace("/layer", "/floor"))
    elif name == "access/HS256/layer_10_keys":
        row(name, ns, "access/HS256/layer")
    elif name.startswith("stores/") and not name.startswith("stores/round_trip"):
        row(name, ns, name.rsplit("/", 1)[0] + "/memory")
    elif name.startswith("access/") and name.endswith("/layer_cached"):
        row(name, ns, hs_floor)
    elif name == "access/base/layer_rejected_bad_signature":
        row(name, ns, "access/HS256/layer")
    elif name.startswith("dpop/") and name != "dpop/floor":
        row(name, ns, "dpop/floor")
    elif name == "issuers/RS256/refused_unknown_issuer":
        row(name, ns, "issuers/RS256/layer")
    elif name in ("introspection/opaque_cache_hit", "introspection/jwt_cache_hit_beside_introspection"):
        row(name, ns, "introspection/jwt_cache_hit")
    elif name == "introspection/opaque_miss":
        row(name, ns, "introspection/round_trip_floor")
    elif name.startswith("issuers/") and not name.endswith("/floor"):
        row(name, ns, name.rsplit("/", 1)[0] + "/floor")
    elif name.startswith("refresh/") and name != "refresh/floor":
        row(name, ns, "refresh/floor")
    elif name.startswith("access/") and name.endswith("/floor") and name != hs_floor:
        row(name, ns, hs_floor)
    else:
        row(name, ns, None)


def goal(what, value, target, unit=""):
    print(f"| {what} | {value}{unit} | {target} |")


def have(*names):
    return all(n in results for n in names)


# Issue 30's goals, each from figures of this run only.
print()
print("| toward the physical limit | this run | goal |")
print("|---|---|---|")
bare = "access/base/bare_with_token"
if have("access/HS256/layer", hs_floor):
    goal("new HS256 token / jsonwebtoken floor", f"{results['access/HS256/layer'] / results[hs_floor]:.2f}", "<= 0.40")
if have("access/HS256/layer", bare, "access/HS256/hmac_alone"):
    added = results["access/HS256/layer"] - results[bare]
    goal("new HS256 token: added over bare / HMAC alone",
         f"{added / results['access/HS256/hmac_alone']:.2f} ({fmt(added)} / {fmt(results['access/HS256/hmac_alone'])})", "<= 3")
physics_new = ("access/HS256/hmac_alone", "access/HS256/base64_alone", "access/HS256/json_alone")
if have("access/HS256/layer", hs_floor, bare, *physics_new):
    physics = results[bare] + sum(results[name] for name in physics_new)
    goal("(bare + HMAC + base64 + JSON alone) / jsonwebtoken floor: the physics of a new token",
         f"{physics / results[hs_floor]:.2f}", "")
    goal("new HS256 token: added over that physics",
         fmt(results["access/HS256/layer"] - physics), "")
if have("access/base/layer_rejected_bad_signature", "access/base/floor_rejected_bad_signature"):
    goal("forged HS256 token / the floor refusing it",
         f"{results['access/base/layer_rejected_bad_signature'] / results['access/base/floor_rejected_bad_signature']:.2f}", "<= 0.40")
if have("access/base/floor_rejected_bad_signature", bare, "access/HS256/hmac_alone"):
    physics = results[bare] + results["access/HS256/hmac_alone"]
    goal("(bare + HMAC alone) / the floor refusing it: the physics",
         f"{physics / results['access/base/floor_rejected_bad_signature']:.2f}", "")
if have("access/HS256/layer_cached", bare):
    goal("cache hit: added over bare", fmt(results["access/HS256/layer_cached"] - results[bare]), "<= 150 ns")
if have("router/router_layer", "router/router_bare"):
    goal("cache hit in an axum Router: added over the bare Router",
         fmt(results["router/router_layer"] - results["router/router_bare"]), "<= 300 ns")
if have("router/router_around", "router/router_bare"):
    goal("the same, the layer around the Router in an outer Router's fallback (the README's form)",
         fmt(results["router/router_around"] - results["router/router_bare"]), "")
if have("router/router_wrapped", "router/router_bare"):
    goal("the same, the layer around the Router, served as it is",
         fmt(results["router/router_wrapped"] - results["router/router_bare"]), "")
for alg in ("RS256", "ES256", "EdDSA"):
    if have(f"access/{alg}/layer", f"access/{alg}/floor"):
        goal(f"new {alg} token / floor", f"{results[f'access/{alg}/layer'] / results[f'access/{alg}/floor']:.2f}", "<= 1.0")
