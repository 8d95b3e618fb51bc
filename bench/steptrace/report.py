"""Lay the step tracer's events on one time line and say where a token's time goes (see sitecustomize.py).

Each client step (`cli.step`) visits the servers in turn (`cli.hop`); within a hop, the server's events split
its time into: transit in (client -> p2pd -> the server's handler process), handler in (deserialize, pickle into
the task pool, the runtime picks it up), compute (the blocks, in the runtime thread), handler out (outputs back
to the handler process, serialized) and transit out. The client's own time is the step minus its hops, plus the
LM head. The local rung's decoder time (`local.body`) is the baseline for the servers' compute.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Event:
    t: float  # ms
    pid: int
    name: str
    fields: dict[str, float] = field(default_factory=dict)


def read(path: Path) -> list[Event]:
    events = []
    for line in path.read_text().splitlines():
        t, pid, name, *kv = line.split()
        events.append(Event(1000 * float(t), int(pid), name, {k: float(v) for k, v in (x.split("=") for x in kv)}))
    return sorted(events, key=lambda e: e.t)


def first(events: list[Event], name: str, after: float, before: float) -> Event | None:
    return next((e for e in events if e.name == name and after <= e.t <= before), None)


def hop_parts(events: list[Event], t_in: float, t_out: float) -> dict[str, float] | None:
    """One client -> server -> client hop, split by the server's events inside it; None if any is missing."""
    req = first(events, "srv.req", t_in, t_out)
    load = first(events, "rt.load.out", t_in, t_out)
    done = first(events, "rt.compute", t_in, t_out)  # logged when the compute ends
    resp = first(events, "srv.resp", t_in, t_out)
    if req is None or load is None or done is None or resp is None:
        return None
    return {"transit in": req.t - t_in, "handler in": load.t - req.t,
            "compute": done.fields["wall"], "compute cpu": done.fields["cpu"],
            "handler out": resp.t - done.t, "transit out": t_out - resp.t, "n": done.fields["n"]}


def steps(events: list[Event]) -> list[dict[str, float]]:
    """One row per client step: the step's hops (in order), client time and LM head."""
    rows = []
    starts = [e for e in events if e.name == "cli.step.in"]
    for s in starts:
        end = first(events, "cli.step.out", s.t, float("inf"))
        if end is None:
            continue
        head = first(events, "cli.head", end.t, end.t + 1000)
        hop_ins = [e.t for e in events if e.name == "cli.hop.in" and s.t <= e.t <= end.t]
        hop_outs = [e.t for e in events if e.name == "cli.hop.out" and s.t <= e.t <= end.t]
        pairs = list(zip(hop_ins, hop_outs, strict=False))
        parts = [hop_parts(events, a, b) for a, b in pairs]
        hops = [h for h in parts if h is not None]
        if not hops or len(hops) < len(parts):
            continue
        row = {"n": hops[0]["n"], "hops": len(hops), "client": (end.t - s.t) - sum(b - a for a, b in pairs),
               "lm head": head.fields["wall"] if head else 0.0}
        for i, h in enumerate(hops):
            row.update({f"{i}:{k}": v for k, v in h.items() if k != "n"})
        rows.append(row)
    return rows


def summarize(path: Path) -> str:
    events = read(path)
    rows = steps(events)
    local = [e.fields for e in events if e.name == "local.body"]
    if not rows:
        return "step trace: no complete client steps found"
    out = []
    for kind, pick in (("decode (1 token)", lambda r: r["n"] == 1), ("prefill (the prompt)", lambda r: r["n"] > 1)):
        sel = [r for r in rows if pick(r)]
        if not sel:
            continue
        med = {k: statistics.median(r[k] for r in sel) for k in sel[0]}
        hops = int(med["hops"])
        total = med["client"] + med["lm head"] + sum(
            med[f"{i}:{k}"] for i in range(hops) for k in ("transit in", "handler in", "compute", "handler out",
                                                              "transit out"))
        out.append(f"\nstep trace, {kind}: medians over {len(sel)} steps, ms")
        out.append("| part | " + " | ".join(f"server {i + 1}" for i in range(hops)) + " |")
        out.append("|---|" + "---:|" * hops)
        for k in ("transit in", "handler in", "compute", "compute cpu", "handler out", "transit out"):
            out.append(f"| {k} | " + " | ".join(f"{med[f'{i}:{k}']:.2f}" for i in range(hops)) + " |")
        plumbing = sum(med[f"{i}:{k}"] for i in range(hops)
                       for k in ("transit in", "handler in", "handler out", "transit out"))
        compute = sum(med[f"{i}:compute"] for i in range(hops))
        out.append(f"client between hops {med['client']:.2f}; LM head {med['lm head']:.2f}; "
                   f"servers' compute {compute:.2f}; plumbing {plumbing:.2f} (all hops); sum {total:.2f}")
        same = [f for f in local if (f["n"] == 1) == (kind.startswith("decode"))]
        if same:
            body = statistics.median(f["wall"] for f in same)
            out.append(f"local decoder (all blocks, one process) {body:.2f}: servers' compute is "
                       f"{compute / body:.2f}× of it")
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    print(summarize(Path(sys.argv[1])))
