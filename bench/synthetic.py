#!/usr/bin/env python3
"""Generates a synthetic workspace of N path crates for planning benchmarks.

usage: bench/synthetic.py DIR N [chain|diamond|wide]

chain:   crate i depends on crate i-1 (depth N).
diamond: layers of 50 crates; every crate depends on 3 crates of the layer
         below (wide and deep, many shared transitive dependencies).
wide:    every crate past the first 50 depends on 3 of those 50 (shallow:
         rustc's cost per crate stays flat, so 10,000 crates build in
         minutes, where a deep diamond's compiles each load every crate
         below).
Crates have no registry dependencies, so `cargo metadata` works offline.
"""
import os
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    shape = sys.argv[3] if len(sys.argv) > 3 else "chain"
    os.makedirs(out, exist_ok=True)
    members = []
    for i in range(n):
        name = f"c{i:05}"
        members.append(f"crates/{name}")
        deps = []
        if shape == "chain" and i > 0:
            deps = [i - 1]
        elif shape == "diamond" and i >= 50:
            layer = i // 50
            base = (layer - 1) * 50
            deps = sorted({base + (i * 7 + k * 13) % 50 for k in range(3)})
        elif shape == "wide" and i >= 50:
            deps = sorted({(i * 7 + k * 13) % 50 for k in range(3)})
        d = os.path.join(out, "crates", name)
        os.makedirs(os.path.join(d, "src"), exist_ok=True)
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n')
            for j in deps:
                f.write(f'c{j:05} = {{ path = "../c{j:05}" }}\n')
        with open(os.path.join(d, "src", "lib.rs"), "w") as f:
            body = " + ".join([f"c{j:05}::value()" for j in deps] or ["0"])
            f.write(f"pub fn value() -> u64 {{ 1 + {body} }}\n")
    with open(os.path.join(out, "Cargo.toml"), "w") as f:
        f.write('[workspace]\nresolver = "2"\nmembers = [\n')
        for m in members:
            f.write(f'  "{m}",\n')
        f.write("]\n")


if __name__ == "__main__":
    main()
