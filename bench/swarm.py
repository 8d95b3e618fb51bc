"""Swarm: tokens/s of SmolLM2-135M-Instruct, greedy, through the whole mesh vs the bare Petals client vs local.

One command starts what `make demo` starts — the reference server (embedded PostgreSQL), a DHT bootstrap peer and
two far-node processes serving blocks 0:15 and 15:30 on loopback — plus one worker process in the node
environment that holds the bare Petals client and the plain transformers model. Then, in interleaved rounds,
the same chat prompt and token count go through every rung of the ladder:

  sdk      Python SDK `farlabs.FarMesh` (stream) -> coordinator -> node gateway -> swarm
  coord    raw HTTP (httpx) -> coordinator -> gateway -> swarm          (sdk - coord = SDK overhead)
  gateway  raw HTTP straight to node A's gateway -> swarm               (coord - gateway = coordinator hop)
  petals   bare Petals client (AutoDistributedModelForCausalLM.generate) (gateway - petals = gateway hop)
  local    plain transformers generate, same converted model            (petals - local = the swarm itself)

CPU seconds of each process group (server, node A, node B, worker) are read from /proc around every run, so
the table also says where the machine's CPU went per token.

`--trace` also logs every step inside Petals (bench/steptrace) and splits one token's time into the servers'
compute, the plumbing of each hop (p2pd transit, handler process <-> runtime) and the client's own time.

Run: .venv/bin/python bench/swarm.py [--rounds 5] [--tokens 32] [--node-threads N] [--trace]   (about 4 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from procstat import group_cpu_s

ROOT = Path(__file__).resolve().parents[1]
NODE_VENV = ROOT / ".venv-node"
PROMPT = "Explain quantum computing in simple terms"
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
RUNGS = ("sdk", "coord", "gateway", "petals", "local")


# ----------------------------------------------------------------- worker (runs in .venv-node)


def worker(maddr: str, threads: int) -> None:
    """Reads {"rung": "petals"|"local", "tokens": N} lines on stdin, answers one JSON line each on stdout."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from farlabs_node.models import resolve_model
    from farlabs_node.models.chat import load_chat_template, render_chat

    model = resolve_model("smollm2", show_progress=False)
    tok = AutoTokenizer.from_pretrained(model.path)
    text = render_chat(load_chat_template(model.path), [{"role": "user", "content": PROMPT}],
                       bos_token=tok.bos_token or "", eos_token=tok.eos_token or "")
    inputs = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    local = AutoModelForCausalLM.from_pretrained(model.path, torch_dtype=torch.float32).eval()

    from farlabs_node import patches

    patches.petals_ready()  # hivemind 1.1.12 compatibility names, before petals is imported
    from petals import AutoDistributedModelForCausalLM

    patches.apply()  # what the gateway runs too
    with patches.closed_client_dht("127.0.0.1"):
        remote = AutoDistributedModelForCausalLM.from_pretrained(
            model.path, initial_peers=[maddr], dht_prefix=model.dht_prefix, torch_dtype=torch.float32,
            show_route=False)
    print(json.dumps({"ready": True, "prompt_tokens": inputs.shape[1]}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        t0 = time.perf_counter()
        with torch.inference_mode():
            if cmd["rung"] == "petals":
                # An explicit session, closed here: one left to the garbage collector may be closed from
                # hivemind's event-loop thread, which then waits on itself (seen here as a hang).
                with remote.inference_session(max_length=inputs.shape[1] + cmd["tokens"]) as session:
                    out = remote.generate(inputs, max_new_tokens=cmd["tokens"], do_sample=False, session=session)
            else:
                out = local.generate(inputs, max_new_tokens=cmd["tokens"], do_sample=False)
        dt = time.perf_counter() - t0
        ids = out[0, inputs.shape[1]:].tolist()
        print(json.dumps({"seconds": dt, "ids": ids}), flush=True)


# ----------------------------------------------------------------- the mesh side (runs in .venv)


def gateway_of(mesh: Any, name: str, secret: str) -> tuple[str, str]:
    """URL and bearer token of node `name`'s gateway, as the coordinator would compute them."""
    import anyio
    import asyncpg

    from farlabs_server.discovery.service import gateway_token

    dsn = f"postgresql://postgres:@/postgres?host={mesh.work_dir / 'server-data' / 'pg'}"

    async def fetch() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchrow("SELECT id, token_generation, gateway_url FROM far_nodes WHERE node_name = $1", name)
        finally:
            await conn.close()

    row = anyio.run(fetch)
    return row["gateway_url"], gateway_token(secret, row["id"], row["token_generation"])


def stream_http(client: Any, url: str, token: str, body: dict[str, Any]) -> tuple[float, float, int]:
    """(seconds, time to first token, tokens) of one SSE stream (the coordinator's or a gateway's)."""
    from farlabs_devtools.sse import iter_events

    t0 = time.perf_counter()
    ttft = 0.0
    n = 0
    with client.stream("POST", url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=300) as r:
        r.raise_for_status()
        for event, data in iter_events(r):
            if event == "message":
                n += 1
                if n == 1:
                    ttft = time.perf_counter() - t0
            elif event == "done":
                n = (data.get("usage") or data)["completion_tokens"]  # coordinator: usage{}; gateway: flat
            elif event == "error":
                raise RuntimeError(data)
    return time.perf_counter() - t0, ttft, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", metavar="MADDR", help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--node-threads", type=int, default=0, help="far-node --torch-threads (0: far-node's default)")
    ap.add_argument("--worker-threads", type=int, default=1, help="torch threads of the bare client/local worker")
    ap.add_argument("--rungs", default=",".join(RUNGS))
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    ap.add_argument("--trace", action="store_true",
                    help="also trace every step inside Petals (bench/steptrace) and print where a token's time goes")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.worker_threads)
        return

    import httpx

    from farlabs import FarMesh
    from farlabs_devtools.localmesh import LocalMesh, NodeSpec

    rungs = args.rungs.split(",")
    work = Path(tempfile.mkdtemp(prefix="farlabs-bench-swarm-"))
    trace = work / "steps.log"
    if args.trace:  # inherited by the far-nodes and the worker (and the server, which imports no Petals)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent / "steptrace"),
                                                                   os.environ.get("PYTHONPATH")]))
        os.environ["FARLABS_STEP_TRACE"] = str(trace)
    secret = "bench-secret-" + "x" * 32
    tuning = ["--torch-threads", str(args.node_threads)] if args.node_threads else []
    mesh = LocalMesh(
        work_dir=work, node_bin=NODE_VENV / "bin" / "far-node", model="smollm2",
        server_env={"FARLABS_DATA_DIR": str(work / "server-data"), "FARLABS_SECRET_KEY": secret,
                    "FARLABS_MIN_SWARM_NODES": "2", "FARLABS_PAYOUT_SCHEDULE_ENABLED": "false",
                    "FARLABS_RATE_LIMIT_RPM": "100000", "LOG_LEVEL": "WARNING"},
    )
    wproc = None
    t_start = time.monotonic()
    try:
        mesh.start_server()
        mesh.prepare_model()
        mesh.start_bootstrap()
        nodes = [mesh.start_node(NodeSpec("node-a", "0:15"), *tuning), mesh.start_node(NodeSpec("node-b", "15:30"), *tuning)]
        mesh.wait_ready(nodes)
        admin = {"Authorization": f"Bearer {mesh.admin_key}"}
        api_key = httpx.post(f"{mesh.url}/admin/keys", headers=admin, json={"name": "bench"}).json()["key"]
        deadline = time.monotonic() + 120
        bearer = {"Authorization": f"Bearer {api_key}"}
        while not httpx.get(f"{mesh.url}/models/{MODEL_ID}/nodes", headers=bearer).json().get("covered"):
            if time.monotonic() > deadline:
                raise TimeoutError("the nodes never covered the model")
            time.sleep(0.3)
        gw_url, gw_token = gateway_of(mesh, "node-a", secret)
        worker_log = (work / "worker.log").open("wb")
        wproc = subprocess.Popen(
            [str(NODE_VENV / "bin" / "python"), str(Path(__file__).resolve()), "--worker", mesh.maddr or "",
             "--worker-threads", str(args.worker_threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=worker_log, text=True,
            start_new_session=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                                                     "TOKENIZERS_PARALLELISM": "false"})
        assert wproc.stdin and wproc.stdout
        hello = wproc.stdout.readline()
        while hello and not hello.startswith("{"):  # a library's stray print
            hello = wproc.stdout.readline()
        if not hello:
            raise RuntimeError((work / "worker.log").read_text()[-4000:])
        print(f"mesh up in {time.monotonic() - t_start:.1f} s; worker {hello.strip()}", flush=True)

        groups = {"server": mesh.child("server").proc.pid, "node-a": mesh.child("node-a").proc.pid,
                  "node-b": mesh.child("node-b").proc.pid, "worker": wproc.pid}
        sdk = FarMesh(api_key=api_key, base_url=mesh.url, timeout=300)
        http = httpx.Client()
        body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": args.tokens, "temperature": 0}

        def run(rung: str) -> dict[str, Any]:
            if rung == "sdk":
                t0 = time.perf_counter()
                ttft, n = 0.0, 0
                stream = sdk.chat_stream(PROMPT, max_tokens=args.tokens, temperature=0)
                for _ in stream:
                    n += 1
                    if n == 1:
                        ttft = time.perf_counter() - t0
                return {"seconds": time.perf_counter() - t0, "ttft": ttft, "tokens": n}
            if rung == "coord":
                s, ttft, n = stream_http(http, f"{mesh.url}/mesh/inference/generate", api_key, body)
                return {"seconds": s, "ttft": ttft, "tokens": n}
            if rung == "gateway":
                s, ttft, n = stream_http(http, f"{gw_url}/generate", gw_token, body)
                return {"seconds": s, "ttft": ttft, "tokens": n}
            wproc.stdin.write(json.dumps({"rung": rung, "tokens": args.tokens}) + "\n")
            wproc.stdin.flush()
            line = wproc.stdout.readline()
            while line and not line.startswith("{"):
                line = wproc.stdout.readline()
            out = json.loads(line)
            return {"seconds": out["seconds"], "ttft": None, "tokens": len(out["ids"]), "ids": out["ids"]}

        for rung in rungs:  # warm-up, not counted
            run(rung)
        trace.unlink(missing_ok=True)  # the trace covers the counted rounds only
        results: dict[str, list[dict[str, Any]]] = {r: [] for r in rungs}
        for i in range(args.rounds):
            order = rungs[i % len(rungs):] + rungs[:i % len(rungs)]  # rotate so no rung always goes first
            for rung in order:
                before = {g: group_cpu_s(p) for g, p in groups.items()}
                res = run(rung)
                after = {g: group_cpu_s(p) for g, p in groups.items()}
                res["cpu"] = {g: after[g][0] - before[g][0] for g in groups}
                res["p2pd"] = sum(after[g][1] - before[g][1] for g in groups)
                results[rung].append(res)
                print(f"round {i} {rung:8s} {res['tokens']} tok {res['seconds']:.3f} s "
                      f"{res['tokens'] / res['seconds']:.2f} tok/s", flush=True)
        report(results, args)
        if args.trace:
            from steptrace.report import summarize  # bench/ is on the path of a script run from it

            print(summarize(trace))
    finally:
        if wproc is not None:
            os.killpg(wproc.pid, signal.SIGKILL)  # with its DHT process and p2pd
            wproc.wait()
        mesh.stop_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs in {work}")


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    rungs = list(results)  # in the order they ran
    if "petals" in results and "local" in results:
        same = results["petals"][-1]["ids"] == results["local"][-1]["ids"]
        print(f"\nbare Petals ids == local ids: {same}")
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(load)}; {os.cpu_count()} CPUs; {args.rounds} rounds x {args.tokens} tokens; "
          f"node torch threads {args.node_threads or 'far-node default'}\n")
    med = {r: statistics.median(x["tokens"] / x["seconds"] for x in results[r]) for r in rungs}
    ms_tok = {r: statistics.median(1000 * x["seconds"] / x["tokens"] for x in results[r]) for r in rungs}
    base = med.get("local")
    print("| path | tok/s median (min–max) | ms/token | vs local (per round) | TTFT ms "
          "| CPU ms/token: server / node A / node B / worker (Python) + p2pd |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rungs:
        rates = [x["tokens"] / x["seconds"] for x in results[r]]
        ttfts = [x["ttft"] for x in results[r] if x["ttft"] is not None]
        cpu = {g: statistics.median(x["cpu"][g] / x["tokens"] for x in results[r]) for g in results[r][0]["cpu"]}
        p2pd = statistics.median(x["p2pd"] / x["tokens"] for x in results[r])
        cpu_s = " / ".join(f"{1000 * cpu[g]:.0f}" for g in ("server", "node-a", "node-b", "worker"))
        cpu_s += f" + {1000 * p2pd:.0f}"
        # ratio within each round (the load drifts between rounds), then the median of those
        per_round = [(x["tokens"] / x["seconds"]) / (y["tokens"] / y["seconds"])
                     for x, y in zip(results[r], results.get("local", []), strict=False)]
        ratio = f"{med[r] / base:.2f}× ({statistics.median(per_round):.2f}×)" if base else "–"
        ttft = f"{1000 * statistics.median(ttfts):.0f}" if ttfts else "–"
        print(f"| {r} | {med[r]:.2f} ({min(rates):.2f}–{max(rates):.2f}) | {ms_tok[r]:.1f} | {ratio} | {ttft} | "
              f"{cpu_s} (sum {1000 * (sum(cpu.values()) + p2pd):.0f}) |")
    ladder = [("SDK (sdk − coord)", "sdk", "coord"), ("coordinator (coord − gateway)", "coord", "gateway"),
              ("gateway (gateway − petals)", "gateway", "petals"), ("swarm (petals − local)", "petals", "local")]
    print("\nper-hop overhead, ms/token (medians):")
    for name, a, b in ladder:
        if a in ms_tok and b in ms_tok:
            print(f"  {name}: {ms_tok[a] - ms_tok[b]:+.1f}")


if __name__ == "__main__":
    main()
