"""Micro-batching: concurrent requests queue up and one worker call serves them together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Generic, TypeVar

J = TypeVar("J")


class MicroBatcher(Generic[J]):
    """Collects jobs for up to ``window_s`` (or ``max_batch`` jobs), then runs ``fn(jobs)`` on ``executor``.

    ``fn`` returns one result per job, or an exception instance for a job that failed. Jobs that
    arrive while a batch is being computed form the next batch, so under load batches grow even
    with a zero window. ``max_batch = 1`` turns batching off (one call per request, in order).
    """

    def __init__(self, fn: Callable[[list[J]], list[Any]], executor: Executor, window_s: float = 0.002,
                 max_batch: int = 64, on_batch: Callable[[int], None] | None = None) -> None:
        self.fn, self.executor, self.window_s, self.max_batch = fn, executor, window_s, max_batch
        self.on_batch = on_batch
        self._queue: asyncio.Queue[tuple[J, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None

    async def submit(self, job: J) -> Any:
        """Queue ``job`` and wait for its result (raises the job's exception)."""
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        assert self._queue is not None
        await self._queue.put((job, fut))
        return await fut

    async def _collect(self) -> list[tuple[J, asyncio.Future]]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        if self.max_batch > 1:
            await asyncio.sleep(self.window_s)  # let concurrent requests join (sleep(0) still yields once)
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return [(j, f) for j, f in batch if not f.done()]  # drop requests that gave up (deadline)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if not batch:
                continue
            if self.on_batch is not None:
                self.on_batch(len(batch))
            try:
                results = await loop.run_in_executor(self.executor, self.fn, [j for j, _ in batch])
            except Exception as exc:  # the whole call failed: every job gets the error
                results = [exc] * len(batch)
            for (_, fut), res in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(res, Exception):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
