"""`make demo`: the whole mesh on one machine, on embedded defaults.

Starts the reference server (embedded PostgreSQL) with an API key made for the demo, a DHT bootstrap peer
and two far-node processes splitting SmolLM2's 30 blocks (0:15 and 15:30), streams one answer to the
terminal through the coordinator, prints how to call the mesh, and keeps it running until Ctrl-C; then
it stops every process it started.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from farlabs_server.settings import DEFAULT_MODEL_ID, Settings

from .localmesh import LocalMesh, NodeSpec
from .sse import iter_events

PROMPT = "Explain quantum computing in simple terms"


def create_demo_key() -> str:
    out = subprocess.run([sys.executable, "-m", "farlabs_server.cli", "keys", "create", "demo"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def wait_for_coverage(base_url: str, api_key: str, model_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(f"{base_url}/models/{model_id}/nodes", headers={"Authorization": f"Bearer {api_key}"})
        if r.status_code == 200 and r.json()["covered"]:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the nodes did not cover {model_id} within {timeout_s:.0f} s")


def stream_answer(base_url: str, api_key: str) -> None:
    print(f"\n> {PROMPT}\n", flush=True)
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 80, "temperature": 0,
            "request_id": f"demo-{int(time.time())}"}
    with httpx.stream("POST", f"{base_url}/mesh/inference/generate", json=body, timeout=300,
                      headers={"Authorization": f"Bearer {api_key}"}) as r:
        if r.status_code != 200:
            print(f"(the mesh answered {r.status_code}: {r.read().decode()})")
            return
        for event, data in iter_events(r):
            if event == "message":
                print(data["token"], end="", flush=True)
            elif event == "done":
                hops = " → ".join(f"{h['peer_id'][-6:] if h['peer_id'] else 'node'}[{h['start_block']}:{h['end_block']}]"
                                  for h in data["route"])
                print(f"\n\n✓ {data['usage']['completion_tokens']} tokens, {data['cost_far']} FAR, "
                      f"first token after {data['time_to_first_token_ms']:.0f} ms, route {hops}", flush=True)
            else:
                print(f"\n(error: {data['error']['message']})", flush=True)


def print_dashboard(mesh: LocalMesh, node: str) -> None:
    try:
        link = mesh.dashboard_link(node)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        link = f"(could not make a sign-in link: {exc})"
    print(f"""
 Provider dashboard: {mesh.url}/dashboard
   Sign in as {node}'s wallet with this link (it expires; keep it private):
   {link}
   A new link any time: FARLABS_NODE_HOME={mesh.node_home(node)} {mesh.node_bin} dashboard
   Or sign in with a browser wallet (EIP-191 personal_sign, e.g. MetaMask) that owns a node.""", flush=True)


def print_usage(base_url: str, api_key: str) -> None:
    print(f"""
──────────────────────────────────────────────────────────────────────
 Far Mesh is running.
   Base URL : {base_url}
   API key  : {api_key}   (created for this demo)
   API docs : {base_url}/docs

 curl:
   curl -N {base_url}/mesh/inference/generate -H "Authorization: Bearer {api_key}" \\
        -H "Content-Type: application/json" -d '{{"prompt": "Explain quantum computing", "max_tokens": 50}}'

 Python SDK (.venv has it; elsewhere: pip install ./python-sdk):
   from farlabs import FarMesh
   mesh = FarMesh(api_key="{api_key}", base_url="{base_url}")
   print(mesh.chat("Explain quantum computing").text)

 TypeScript SDK (@farlabs/sdk):
   const mesh = new FarMesh({{ apiKey: "{api_key}", baseURL: "{base_url}" }});

 Any OpenAI client: base_url="{base_url}/v1", api_key="{api_key}", model="{DEFAULT_MODEL_ID}"

 More keys: .venv/bin/farlabs-server keys create NAME        Stop: Ctrl-C
──────────────────────────────────────────────────────────────────────""", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="farlabs-server-demo", description=__doc__)
    parser.add_argument("--node-venv", type=Path, default=Path(".venv-node"), help="the far-node environment")
    parser.add_argument("--work-dir", type=Path, default=Path(".farlabs/demo"), help="logs and node homes")
    args = parser.parse_args(argv)

    settings = Settings()
    node_bin = args.node_venv / "bin" / "far-node"
    mesh = LocalMesh(work_dir=args.work_dir.resolve(), node_bin=node_bin.resolve(), model="smollm2",
                     server_port=settings.port, admin_key=None)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("• preparing the embedded database and a demo API key…", flush=True)
        api_key = create_demo_key()
        mesh.start_server()
        print(f"✓ server ready at {mesh.url} (embedded PostgreSQL in {settings.data_dir})", flush=True)
        if node_bin.exists():
            print("• preparing SmolLM2-135M-Instruct (converted once, then cached)…", flush=True)
            mesh.prepare_model()
            mesh.start_bootstrap()
            print(f"✓ DHT bootstrap peer at {mesh.maddr}", flush=True)
            nodes = [mesh.start_node(NodeSpec("far-node-a", "0:15")), mesh.start_node(NodeSpec("far-node-b", "15:30"))]
            print("• starting two nodes (blocks 0:15 and 15:30)…", flush=True)
            mesh.wait_ready(nodes)
            wait_for_coverage(mesh.url, api_key, DEFAULT_MODEL_ID)
            print("✓ both nodes are serving and registered", flush=True)
            stream_answer(mesh.url, api_key)
        else:
            print(f"(no node environment at {args.node_venv}: running the server alone)", flush=True)
        print_usage(mesh.url, api_key)
        if node_bin.exists():
            print_dashboard(mesh, "far-node-a")
        print(f"(logs in {mesh.work_dir}/)", flush=True)
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\n• stopping every process the demo started…", flush=True)
        mesh.stop_all()
        print("✓ stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
