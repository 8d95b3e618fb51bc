"""Small tensors cross Petals' process boundary by value; large or already shared ones keep torch's shared memory."""

from __future__ import annotations

import multiprocessing as mp
import pickle
from multiprocessing.reduction import ForkingPickler

import pytest
import torch

from farlabs_node import patches
from farlabs_node.swarm.ipc import SMALL_TENSOR_BYTES


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    patches.apply()


@pytest.mark.parametrize("tensor", [
    torch.randn(1, 1, 576),  # a decoding step's hidden state
    torch.tensor(3),  # 0-d
    torch.zeros(0, dtype=torch.int64),  # empty (Petals' dummy hypothesis ids)
    torch.tensor([True, False]),
    torch.randn(4, 3).t(),  # not contiguous
    torch.randn(8).to(torch.bfloat16),
])
def test_a_small_tensor_goes_by_value_and_arrives_equal(tensor: torch.Tensor) -> None:
    data = ForkingPickler.dumps(tensor)
    assert len(data) < SMALL_TENSOR_BYTES + 1024  # the bytes themselves, not a shared-memory handle
    copy = pickle.loads(data)
    assert copy.dtype == tensor.dtype and copy.shape == tensor.shape and torch.equal(copy, tensor)
    assert not copy.is_shared() and not tensor.is_shared()  # the sender's tensor was not moved to shared memory
    if tensor.numel():
        copy.add_(1) if copy.dtype != torch.bool else copy.logical_not_()
        assert not torch.equal(copy, tensor)  # a copy, not a view of the sender's memory


def test_large_and_shared_tensors_keep_shared_memory() -> None:
    large = torch.randn(SMALL_TENSOR_BYTES // 4 + 1)
    assert pickle.loads(ForkingPickler.dumps(large)).is_shared()
    shared = torch.zeros(1, dtype=torch.uint8).share_memory_()  # like hivemind's future states
    assert pickle.loads(ForkingPickler.dumps(shared)).is_shared()


def _echo_plus_one(conn) -> None:  # type: ignore[no-untyped-def]
    tensor = conn.recv()
    conn.send((tensor + 1, tensor.is_shared()))


def test_a_forked_process_exchanges_them_over_a_pipe() -> None:
    parent, child = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(target=_echo_plus_one, args=(child,))
    proc.start()
    parent.send(torch.arange(6.0).reshape(1, 2, 3))
    result, arrived_shared = parent.recv()
    proc.join(10)
    assert torch.equal(result, torch.arange(6.0).reshape(1, 2, 3) + 1) and not arrived_shared


def test_petals_runtime_no_longer_shares_small_outputs() -> None:
    from petals.server import task_pool

    small = task_pool._move_to_device_if_tensor(torch.randn(1, 1, 576), "cpu", share_memory=True)
    large = task_pool._move_to_device_if_tensor(torch.randn(SMALL_TENSOR_BYTES), "cpu", share_memory=True)
    assert not small.is_shared() and large.is_shared()
