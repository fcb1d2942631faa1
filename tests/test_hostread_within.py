"""hostread.within: the one deadline helper every per-host phase (connect, TCP, banner,
exec, read, the whole host) awaits through. On 3.11 it is asyncio.timeout_at (no task of
its own per await); the behaviour callers rely on is wait_for's."""
import asyncio

import pytest

from fleetaudit.hostread import within


def _run(coro):
    return asyncio.run(coro)


def test_returns_the_result_in_time():
    async def main():
        loop = asyncio.get_running_loop()

        async def quick():
            await asyncio.sleep(0.01)
            return 42
        return await within(loop.time() + 5, quick())
    assert _run(main()) == 42


def test_a_deadline_reached_raises_timeout_and_cancels_the_work():
    seen = []

    async def main():
        loop = asyncio.get_running_loop()

        async def slow():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
        started = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await within(loop.time() + 0.2, slow())
        return loop.time() - started
    took = _run(main())
    assert 0.15 < took < 2 and seen == ["cancelled"]


def test_a_deadline_already_past_does_not_start_the_work():
    started = []

    async def main():
        loop = asyncio.get_running_loop()

        async def work():
            started.append(True)  # a connect would open a socket here
            return 1
        with pytest.raises(asyncio.TimeoutError):
            await within(loop.time() - 1, work())
        fut = loop.create_future()
        with pytest.raises(asyncio.TimeoutError):
            await within(loop.time(), fut)
        return fut
    fut = _run(main())
    assert started == [] and fut.cancelled()


def test_a_future_that_times_out_is_cancelled():
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()  # _wait_banner's "readable" future
        with pytest.raises(asyncio.TimeoutError):
            await within(loop.time() + 0.05, fut)
        return fut
    assert _run(main()).cancelled()


def test_errors_and_outside_cancellation_pass_through():
    async def main():
        loop = asyncio.get_running_loop()

        async def broken():
            raise ConnectionResetError("reset")
        with pytest.raises(ConnectionResetError):
            await within(loop.time() + 5, broken())

        async def waits():
            await within(loop.time() + 5, asyncio.sleep(10))
        task = asyncio.ensure_future(waits())
        await asyncio.sleep(0.05)
        task.cancel()  # an interrupt stopping the run: a cancellation, not a timeout
        with pytest.raises(asyncio.CancelledError):
            await task
    _run(main())


def test_the_work_runs_in_the_callers_task_where_timeout_at_exists():
    async def main():
        loop = asyncio.get_running_loop()
        outer = asyncio.current_task()

        async def which():
            return asyncio.current_task()
        return outer, await within(loop.time() + 5, which())
    outer, inner = _run(main())
    assert (inner is outer) == hasattr(asyncio, "timeout_at")  # 3.11+: no task per await
