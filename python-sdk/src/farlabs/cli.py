"""`farlabs`: a small command line over the SDK.

farlabs chat "Explain quantum computing"      streams the answer to the terminal
farlabs models                                 lists the models the mesh serves
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from ._client import FarMesh
from ._exceptions import FarLabsError
from ._version import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farlabs", description="Far Mesh from the command line.")
    parser.add_argument("--version", action="version", version=f"farlabs {__version__}")
    parser.add_argument(
        "--base-url", help="server URL (default: $FARLABS_BASE_URL or http://127.0.0.1:8100)"
    )
    parser.add_argument(
        "--api-key", help="API key (default: $FARLABS_API_KEY; prefer the variable)"
    )
    parser.add_argument("--timeout", type=float, help="overall deadline in seconds")
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="generate an answer, streamed to the terminal")
    chat.add_argument("prompt", help="the prompt; '-' reads it from standard input")
    chat.add_argument("-m", "--model", help="model id (default: the server's)")
    chat.add_argument("-n", "--max-tokens", type=int)
    chat.add_argument("-t", "--temperature", type=float)
    chat.add_argument("--top-p", type=float)
    chat.add_argument("--stop", action="append", help="stop sequence (repeatable)")
    chat.add_argument("--seed", type=int)
    chat.add_argument("--system", help="a system message to put before the prompt")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument(
        "-v", "--verbose", action="store_true", help="print usage, cost and route to stderr"
    )

    commands.add_parser("models", help="list the models the mesh serves")
    return parser


def _chat(mesh: FarMesh, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    params = {
        key: value
        for key, value in (
            ("model", args.model),
            ("max_tokens", args.max_tokens),
            ("temperature", args.temperature),
            ("top_p", args.top_p),
            ("stop", args.stop),
            ("seed", args.seed),
        )
        if value is not None
    }
    chat_input: str | list[dict[str, str]] = prompt
    if args.system:
        chat_input = [
            {"role": "system", "content": args.system},
            {"role": "user", "content": prompt},
        ]
    if args.no_stream:
        response = mesh.chat(chat_input, **params)
        out.write(response.text + "\n")
        usage, cost, finish, request_id = (
            response.usage,
            response.cost_far,
            response.finish_reason,
            response.request_id,
        )
        route = response.route
    else:
        with mesh.chat_stream(chat_input, **params) as stream:
            try:
                for token in stream:
                    out.write(token)
                    out.flush()
            finally:
                out.write("\n")
        usage, cost, finish, request_id = (
            stream.usage,
            stream.cost_far,
            stream.finish_reason,
            stream.request_id,
        )
        route = stream.route
    if args.verbose:
        hops = ", ".join(f"{h.peer_id or h.node_id}[{h.start_block}:{h.end_block})" for h in route)
        err.write(
            f"[{usage.completion_tokens} tokens, {cost} FAR, finish={finish}, "
            f"request_id={request_id}{', route=' + hops if hops else ''}]\n"
        )
    return 0


def _models(mesh: FarMesh, out: TextIO) -> int:
    for model in mesh.models.list():
        out.write(f"{model.id}\t{model.owned_by or ''}\n")
    return 0


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 API error, 2 usage, 130 interrupted)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        with FarMesh(
            api_key=args.api_key,
            base_url=args.base_url,
            **({"timeout": args.timeout} if args.timeout else {}),
        ) as mesh:
            if args.command == "chat":
                return _chat(mesh, args, out, err)
            return _models(mesh, out)
    except FarLabsError as exc:
        err.write(f"farlabs: error: {exc}\n")
        if exc.partial_text:
            err.write(f"farlabs: {len(exc.partial_text)} characters had arrived before the error\n")
        return 1
    except ValueError as exc:
        err.write(f"farlabs: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        err.write("\nfarlabs: interrupted\n")
        return 130
