"""Checked by mypy (not run by pytest): the return types editors see for the public surface."""

from __future__ import annotations

from typing import assert_type

from farlabs import AsyncFarMesh, AsyncStream, ChatResponse, FarMesh, Stream


def sync_surface(mesh: FarMesh, flag: bool) -> None:
    assert_type(mesh.chat("hi"), ChatResponse)
    assert_type(mesh.chat("hi", stream=False), ChatResponse)
    assert_type(mesh.chat("hi", stream=True), Stream)
    assert_type(mesh.chat("hi", stream=flag), ChatResponse | Stream)
    assert_type(mesh.chat_stream([{"role": "user", "content": "hi"}], max_tokens=3), Stream)
    assert_type(mesh.chat_stream_async("hi"), AsyncStream)


async def async_surface(mesh: AsyncFarMesh) -> None:
    assert_type(await mesh.chat("hi"), ChatResponse)
    assert_type(await mesh.chat("hi", stream=True), AsyncStream)
    assert_type(mesh.chat_stream("hi", temperature=0), AsyncStream)
    assert_type(await mesh.chat_stream("hi"), AsyncStream)
