"""Fair sharing of generation: answers take turns, a few tokens each, and stop when their client goes away.

mlx's stream is shared, so one step of one answer runs at a time (the engine's lock, ``fmscript.ai.generate``).
Which answer runs is decided here: a request holds the server's generation lock for one *turn* of
:data:`TURN_PIECES` pieces (about a token each), then lets go; anyio's lock hands itself to the waiters in the
order they came, and the request that just ran queues behind them.  So requests are served round robin: a
5-token answer asked while a 1000-token answer runs waits for one turn of it, not for all of it.

A non-streamed answer watches its client's connection while it waits and while it runs: when the client
closes it, generation stops at the next piece and the lock passes on, instead of one abandoned ``max_tokens``
request holding every other chat.  A streamed answer is stopped by Starlette, which ends its generator when the
client disconnects.
"""
from __future__ import annotations

import sys
import threading

import anyio

#: Seconds between looks at the client's connection.
POLL_SECONDS = 0.2
#: Pieces an answer makes in one turn before the next waiting answer gets the lock.
TURN_PIECES = 16


class Turns:
    """The server's generation lock, taken one turn at a time; counts the answers under way (``/health``)."""

    def __init__(self):
        self.lock = anyio.Lock()
        self.answers = 0

    async def turn(self, run, gone: threading.Event | None = None) -> tuple[list[str], bool]:
        """Up to :data:`TURN_PIECES` pieces of ``run``'s answer (see ``chat._Run``), and whether it is over."""
        async with self.lock:
            return await anyio.to_thread.run_sync(_pieces, run, gone)

    async def whole(self, run, gone: threading.Event | None = None) -> str:
        """The whole answer, turn by turn; it stops early once ``gone`` is set (the tool calls are then not read)."""
        self.answers += 1
        run.start()
        try:
            parts: list[str] = []
            done = False
            while not done and not (gone is not None and gone.is_set()):
                texts, done = await self.turn(run, gone)
                parts.extend(texts)
            if done:
                parts.append(run.finish_tools())  # the tool calls of a whole answer (chat._Run)
            return "".join(parts)
        finally:
            self.answers -= 1
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(run.close)


def _pieces(run, gone: threading.Event | None) -> tuple[list[str], bool]:
    out: list[str] = []
    for _ in range(TURN_PIECES):
        if gone is not None and gone.is_set():
            return out, False
        text = run.next_text()
        if text is None:
            return out, True
        out.append(text)
    return out, False


async def complete_unless_gone(request, turns: Turns, run) -> str:
    """``run``'s whole answer, taking turns with the other answers, stopped early when the client disconnects."""
    gone = threading.Event()

    async def watch() -> None:
        while not await request.is_disconnected():
            await anyio.sleep(POLL_SECONDS)
        gone.set()
        sys.stderr.write("fmscript serve: a chat answer was stopped: its client went away\n")

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        try:
            return await turns.whole(run, gone)
        finally:
            tg.cancel_scope.cancel()
