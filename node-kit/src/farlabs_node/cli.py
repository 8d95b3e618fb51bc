"""`far-node` command line: setup, run, bootstrap, status, prepare-model."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import ValidationError

from farlabs_node import __version__
from farlabs_node.config import DEFAULT_BOOTSTRAP_PORT, DEFAULT_HOST
from farlabs_node.settings import Mode, NodeSettings, QuantType, TorchDtype, load_settings


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

    run = sub.add_parser(
        "run",
        help="serve blocks into the swarm + run the gateway and the discovery agent",
        description="Flags override FARLABS_NODE_* env vars, which override the config file, which overrides the "
        "defaults (docs/provider-guide.md, 'Settings').",
        argument_default=argparse.SUPPRESS,  # a flag not given leaves the setting to env, config file, default
    )
    run.add_argument("--model", help=f"model to serve (default: {_default('model')})")
    run.add_argument("--model-id", help="id announced to the mesh (default: derived from --model)")
    run.add_argument(
        "--mode",
        choices=get_args(Mode),
        help="swarm: serve blocks into Petals; local: whole model here (centralized fallback)",
    )
    run.add_argument("--blocks", help="block range START:END to serve (default: chosen automatically)")
    run.add_argument("--num-blocks", type=int, help="with automatic placement: how many blocks")
    run.add_argument("--initial-peers", nargs="*", help="DHT multiaddrs (default: FAR_MESH_DHT_BOOTSTRAP, else the server's)")
    run.add_argument("--host", help=f"listen address for gateway and DHT (default {_default('host')})")
    run.add_argument("--port", "--gateway-port", dest="gateway_port", type=int,
                     help=f"gateway port (default {_default('gateway_port')})")
    run.add_argument("--dht-port", type=int, help="DHT/libp2p port (default: any free port)")
    run.add_argument("--public-ip")
    run.add_argument("--server", dest="server_url", help="reference server URL (default: FARLABS_SERVER_URL, else config)")
    run.add_argument(
        "--gateway-token",
        help="token the gateway accepts when no server is configured "
        "(default: FARLABS_GATEWAY_TOKEN, else one saved in the node home)",
    )
    run.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when available)")
    run.add_argument("--torch-dtype", choices=get_args(TorchDtype))
    run.add_argument("--quant-type", choices=get_args(QuantType))
    run.add_argument("--throughput", type=float, help="announced throughput (a number: no speed test)")
    run.add_argument("--update-period", dest="update_period_s", type=float,
                     help=f"seconds between DHT announcements (default {_default('update_period_s'):g})")
    run.add_argument("--client-update-period", dest="client_update_period_s", type=float,
                     help=f"gateway's route refresh, seconds (default {_default('client_update_period_s'):g})")
    run.add_argument("--request-timeout", dest="request_timeout_s", type=float,
                     help=f"gateway's per-request swarm timeout (default {_default('request_timeout_s'):g})")
    run.add_argument("--heartbeat-interval", dest="heartbeat_interval_s", type=float, help=argparse.SUPPRESS)
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


def _default(name: str) -> Any:
    return NodeSettings.model_fields[name].get_default(call_default_factory=True)


def _run_settings(args: argparse.Namespace) -> NodeSettings:
    """The settings of `far-node run`: the flags given, over env vars, config file and defaults."""
    flags = {name: value for name, value in vars(args).items() if name != "command"}
    if not flags.get("initial_peers", True):
        del flags["initial_peers"]  # `--initial-peers` with no value: as if not given
    return load_settings(**flags)


def _one_line(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
                     for e in exc.errors())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `far-node` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = _run_settings(args) if args.command == "run" else load_settings()
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
                ),
                home=settings.home,
            )
            return 0
        if args.command == "run":
            from farlabs_node.run import run_node

            code = run_node(settings)
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

            return show_status(settings, args.gateway_url)
        if args.command == "dashboard":
            from farlabs_node.dashboard import print_dashboard_link

            return print_dashboard_link(settings, args.server_url)
        if args.command == "prepare-model":
            from farlabs_node.models import resolve_model

            print(resolve_model(args.model).path)
            return 0
    except ValidationError as exc:  # a bad setting: flag, env var or config file
        print(f"far-node {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:  # bad input: one clear line, no traceback
        print(f"far-node {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
