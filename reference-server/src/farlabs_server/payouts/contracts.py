"""The compiled payout contracts (ABI and bytecode), loaded from the committed artifacts.

`reference-server/contracts/compile.mjs` writes the artifacts; its `--check` mode (run by the test
suite) proves they match the Solidity sources.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_abi_to_4byte_selector
from hexbytes import HexBytes

CONTRACT_NAMES = ("FarToken", "FarBatchPayout")


@dataclass(frozen=True)
class ContractArtifact:
    """One compiled contract: what web3 needs to deploy it and to call it."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str


@cache
def load_artifact(name: str) -> ContractArtifact:
    """Read `artifacts/<name>.json` shipped inside this package."""
    if name not in CONTRACT_NAMES:
        raise KeyError(f"unknown contract {name!r}; known: {', '.join(CONTRACT_NAMES)}")
    text = resources.files(__package__).joinpath("artifacts", f"{name}.json").read_text("utf-8")
    data = json.loads(text)
    return ContractArtifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler_version=data["compiler"]["version"],
    )


@cache
def _custom_errors() -> dict[bytes, tuple[str, list[str], list[str]]]:
    errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in CONTRACT_NAMES:
        for item in load_artifact(name).abi:
            if item["type"] == "error":
                selector = function_abi_to_4byte_selector(item)  # type: ignore[arg-type]
                errors[selector] = (
                    item["name"],
                    [i["name"] for i in item["inputs"]],
                    [i["type"] for i in item["inputs"]],
                )
    return errors


def decode_revert(data: bytes | str | None) -> str:
    """Describe revert data from either contract, e.g. `BatchAlreadyPaid(batchId=0x…, paidAtBlock=7)`."""
    raw = bytes(HexBytes(data)) if data else b""
    if len(raw) < 4:
        return "reverted without a reason"
    selector, payload = raw[:4], raw[4:]
    if selector == bytes.fromhex("08c379a0"):  # Error(string)
        return str(decode(["string"], payload)[0])
    known = _custom_errors().get(selector)
    if known is None:
        return f"reverted with unknown error 0x{raw.hex()}"
    error_name, names, types = known
    values = decode(types, payload)
    shown = ", ".join(f"{n}=0x{v.hex()}" if isinstance(v, bytes) else f"{n}={v}" for n, v in zip(names, values, strict=True))
    return f"{error_name}({shown})"


def revert_data(error: BaseException) -> bytes | None:
    """The raw revert data carried by an exception from an `eth_call`, if any.

    JSON-RPC nodes (anvil, geth) reach web3 as `ContractLogicError` with `.data` as hex; web3's
    in-process eth-tester provider raises eth-tester's `TransactionFailed("execution reverted: b'…'")`
    for custom errors instead, so that message is parsed as well.
    """
    data = getattr(error, "data", None)
    if isinstance(data, (str, bytes)) and data:
        try:
            return bytes(HexBytes(data))
        except ValueError:
            pass
    for arg in error.args:
        if isinstance(arg, bytes):
            return arg
        if isinstance(arg, str):
            start = max(arg.find("b'"), arg.find('b"'))
            if start < 0:
                continue
            try:
                value = ast.literal_eval(arg[start:])
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, bytes):
                return value
    return None
