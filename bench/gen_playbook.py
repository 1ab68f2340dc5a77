#!/usr/bin/env python3
"""Writes a generated playbook to stdout: STEPS steps in PHASES phases, as a chain
(each step after the one before) or independent (needs: [] everywhere)."""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=10000)
parser.add_argument("--phases", type=int, default=10)
parser.add_argument("--shape", choices=["chain", "independent", "mixed"], default="mixed")
parser.add_argument("--command", default="true")
args = parser.parse_args()

out = ["version: 1", "name: generated", "phases:"]
per_phase = max(1, args.steps // args.phases)
n = 0
for p in range(args.phases):
    out.append(f"  - id: phase-{p}")
    if args.shape == "independent":
        out.append("    needs: []")
    out.append("    steps:")
    for s in range(per_phase):
        if n >= args.steps:
            break
        out.append(f"      - id: s{n}")
        out.append(f"        run: {args.command}")
        out.append("        idempotent: true")
        if args.shape == "independent":
            out.append("        needs: []")
        elif args.shape == "mixed" and s % 10 == 5:
            out.append(f"        needs: [s{n - 5}]")
        n += 1
print("\n".join(out))
