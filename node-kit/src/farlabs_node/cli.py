"""`far-node` command line: setup, run, bootstrap, status, prepare-model."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from farlabs_node import __version__
from farlabs_node.config import (
    DEFAULT_BOOTSTRAP_PORT,
    DEFAULT_HOST,
    HIVEMIND_IDENTITY_FILENAME,
    NODE_KEY_FILENAME,
    NodeConfig,
    bootstrap_peers_from_env,
    default_torch_threads,
    node_home,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="far-node", description="Far Mesh provider node: serve LLM blocks, earn $FAR")
    parser.add_argument("--version", action="version", version=f"far-node {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    setup = sub.add_parser("setup", help="configure wallet, model and public IP; create the node key")
    setup.add_argument("--wallet", help="BSC wallet address that receives $FAR (EIP-55 checksum is verified)")
    setup.add_argument("--model", help="hub id, local checkpoint dir, or 'smollm2' (default model)")
    setup.add_argument("--public-ip", help="IP other peers reach this node at ('auto' to detect)")
    setup.add_argument("--node-name")
    setup.add_argument("--region", help="e.g. eu-west (used by the coordinator's routing)")
    setup.add_argument("--server", dest="server_url", help="reference server URL (discovery)")
    setup.add_argument("--initial-peers", nargs="*", help="DHT bootstrap multiaddrs")
    setup.add_argument("--wallet-key-file", help="sign the wallet authorization with this key file (demo/tests)")
    setup.add_argument("--authorization", help="the wallet's personal_sign signature of the authorization message")
    setup.add_argument("--non-interactive", action="store_true", help="take every answer from flags/defaults")

    run = sub.add_parser("run", help="serve blocks into the swarm + run the gateway and the discovery agent")
    run.add_argument("--model", help="model to serve (default: config, else SmolLM2-135M-Instruct)")
    run.add_argument("--model-id", help="id announced to the mesh (default: derived from --model)")
    run.add_argument(
        "--mode",
        choices=("swarm", "local"),
        default="swarm",
        help="swarm: serve blocks into Petals; local: whole model here (centralized fallback)",
    )
    run.add_argument("--blocks", help="block range START:END to serve (default: chosen automatically)")
    run.add_argument("--num-blocks", type=int, help="with automatic placement: how many blocks")
    run.add_argument("--initial-peers", nargs="*", help="DHT multiaddrs (default: FAR_MESH_DHT_BOOTSTRAP)")
    run.add_argument("--host", default=DEFAULT_HOST, help="listen address for gateway and DHT (default 127.0.0.1)")
    run.add_argument("--port", "--gateway-port", dest="gateway_port", type=int, help="gateway port (default 8300)")
    run.add_argument("--dht-port", type=int, default=0, help="DHT/libp2p port (default: any free port)")
    run.add_argument("--public-ip")
    run.add_argument("--server", dest="server_url", help="reference server URL (default: FARLABS_SERVER_URL)")
    run.add_argument(
        "--gateway-token",
        help="token the gateway accepts when no server is configured "
        "(default: FARLABS_GATEWAY_TOKEN, else one saved in the node home)",
    )
    run.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when available)")
    run.add_argument("--torch-dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    run.add_argument("--quant-type", default="none", choices=("none", "int8", "nf4"))
    run.add_argument("--throughput", type=float, default=1.0, help="announced throughput (a number: no speed test)")
    run.add_argument("--update-period", type=float, default=60.0, help="seconds between DHT announcements")
    run.add_argument("--client-update-period", type=float, default=15.0, help="gateway's route refresh, seconds")
    run.add_argument("--request-timeout", type=float, default=30.0, help="gateway's per-request swarm timeout")
    run.add_argument("--heartbeat-interval", type=float, default=30.0, help=argparse.SUPPRESS)
    run.add_argument(
        "--torch-threads",
        type=int,
        help="torch intra-op threads (default: half the cores for a swarm node on loopback, else torch's)",
    )
    run.add_argument(
        "--ephemeral-identity",
        action="store_true",
        help="do not use the node home's hivemind identity (several nodes on one machine)",
    )

    boot = sub.add_parser("bootstrap", help="run a DHT bootstrap peer and print its multiaddr")
    boot.add_argument("--host", default=DEFAULT_HOST)
    boot.add_argument("--port", type=int, default=DEFAULT_BOOTSTRAP_PORT)
    boot.add_argument("--identity-path", help="libp2p key file for a stable peer id (created if missing)")
    boot.add_argument("--maddr-file", help="also write the multiaddr to this file")
    boot.add_argument("--public-ip", help="address to announce (behind NAT / when listening on 0.0.0.0)")

    status = sub.add_parser("status", help="show this node's configuration and gateway health")
    status.add_argument("--gateway-url")

    dash = sub.add_parser("dashboard", help="print a sign-in link to this wallet's provider dashboard")
    dash.add_argument("--server-url", help="the reference server (default: the one `far-node setup` recorded)")

    prep = sub.add_parser("prepare-model", help="convert/build a model into the cache and print its directory")
    prep.add_argument("model", nargs="?", default="smollm2")
    return parser


def _run_options(args: argparse.Namespace) -> object:
    from farlabs_node.run import RunOptions
    from farlabs_node.swarm.server import parse_block_range
    from farlabs_node.wallet import read_private_key

    home = node_home()
    config = NodeConfig.load(home) or NodeConfig()
    node_key = read_private_key(home / NODE_KEY_FILENAME) if (home / NODE_KEY_FILENAME).exists() else None
    identity = home / HIVEMIND_IDENTITY_FILENAME
    return RunOptions(
        model=args.model or config.model,
        mode=args.mode,
        model_id=args.model_id,
        initial_peers=args.initial_peers or config.initial_peers or bootstrap_peers_from_env(),
        blocks=parse_block_range(args.blocks) if args.blocks else None,
        num_blocks=args.num_blocks,
        host=args.host,
        gateway_port=args.gateway_port or config.gateway_port,
        dht_port=args.dht_port,
        public_ip=args.public_ip or config.public_ip or None,
        server_url=args.server_url or os.environ.get("FARLABS_SERVER_URL") or config.server_url or None,
        gateway_token=args.gateway_token or os.environ.get("FARLABS_GATEWAY_TOKEN"),
        device=args.device,
        torch_dtype=args.torch_dtype,
        quant_type=args.quant_type,
        throughput=args.throughput,
        update_period_s=args.update_period,
        client_update_period_s=args.client_update_period,
        request_timeout_s=args.request_timeout,
        identity_path=str(identity) if identity.exists() and not args.ephemeral_identity else None,
        node_name=config.node_name,
        region=config.region or None,
        wallet_address=config.wallet_address or None,
        node_key=node_key,
        authorization=config.authorization or None,
        heartbeat_interval_s=args.heartbeat_interval,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `far-node` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "setup":
            from farlabs_node.setup_wizard import SetupAnswers, run_setup

            run_setup(
                SetupAnswers(
                    wallet=args.wallet,
                    model=args.model,
                    public_ip=args.public_ip,
                    node_name=args.node_name,
                    region=args.region,
                    server_url=args.server_url,
                    initial_peers=args.initial_peers,
                    wallet_key_file=args.wallet_key_file,
                    authorization=args.authorization,
                    non_interactive=args.non_interactive,
                )
            )
            return 0
        if args.command == "run":
            from farlabs_node.run import run_node

            opts = _run_options(args)
            threads = args.torch_threads or default_torch_threads(args.host, args.mode, args.device)
            if threads:
                import torch

                torch.set_num_threads(threads)
            code = run_node(opts)  # type: ignore[arg-type]
            # Skip interpreter teardown: hivemind's __del__ hooks print tracebacks once its loops are gone,
            # and every child process has already been stopped.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        if args.command == "bootstrap":
            from farlabs_node.swarm.bootstrap import run_bootstrap

            run_bootstrap(
                args.host, args.port, identity_path=args.identity_path, maddr_file=args.maddr_file, public_ip=args.public_ip
            )
            return 0
        if args.command == "status":
            from farlabs_node.status import show_status

            return show_status(args.gateway_url)
        if args.command == "dashboard":
            from farlabs_node.dashboard import print_dashboard_link

            return print_dashboard_link(args.server_url)
        if args.command == "prepare-model":
            from farlabs_node.models import resolve_model

            print(resolve_model(args.model).path)
            return 0
    except (ValueError, FileNotFoundError) as exc:  # bad input: one clear line, no traceback
        print(f"far-node {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
