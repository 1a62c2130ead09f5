"""A non-streamed answer that stops when its client goes away.

The route holds the generation lock (one answer at a time: mlx's stream is shared; anyio's lock hands itself to
waiters in the order they came, so requests are served first come, first served).  While the answer is made in a
worker thread, the client's connection is watched: when it closes, generation stops at the next piece and the
lock passes on, instead of one abandoned ``max_tokens`` request blocking every other chat.  A streamed answer
needs none of this: Starlette stops its generator when the client disconnects.
"""
from __future__ import annotations

import sys
import threading

import anyio

#: Seconds between looks at the client's connection.
POLL_SECONDS = 0.2


async def complete_unless_gone(request, run) -> str:
    """``run.complete()`` (see ``chat._Run``), stopped early when the client disconnects."""
    gone = threading.Event()

    def work() -> str:
        run.start()
        try:
            parts = []
            while not gone.is_set() and (text := run.next_text()) is not None:
                parts.append(text)
            if not gone.is_set():
                parts.append(run.finish_tools())  # the tool calls of a whole answer (chat._Run)
            return "".join(parts)
        finally:
            run.close()

    async def watch() -> None:
        while not await request.is_disconnected():
            await anyio.sleep(POLL_SECONDS)
        gone.set()
        sys.stderr.write("fmscript serve: a chat answer was stopped: its client went away\n")

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        try:
            return await anyio.to_thread.run_sync(work)
        finally:
            tg.cancel_scope.cancel()
