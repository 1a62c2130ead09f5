"""Fair sharing of the model: requests take turns, a little work each, and stop when their client goes away.

mlx's stream is shared, so one step of one answer (or one embedding) runs at a time (the engine's lock,
``fmscript.ai.generate``).  Which request runs is decided here: a request holds the server's generation lock for
one *turn*, then lets go; anyio's lock hands itself to the waiters in the order they came, and the request that
just ran queues behind them.  So requests are served round robin, and nothing holds the lock for its whole work:

* a chat answer's turn is :data:`TURN_PIECES` pieces (about a token each), so a 5-token answer asked while a
  1000-token answer runs waits for one turn of it, not for all of it; the Admin Console's try-out answers the
  same way (``chat.try_answer``);
* an embeddings request's turn is a slice of its inputs, at most :data:`EMBED_TURN_INPUTS` of them and
  :data:`EMBED_TURN_TOKENS` tokens (:func:`slices`), so a chat asked while 2,000 inputs are embedded waits for
  one slice, not for all of them.

A request that is not streamed watches its client's connection while it waits and while it runs
(:func:`unless_gone`): when the client closes it, the work stops at the next piece or slice and the lock passes
on, instead of one abandoned ``max_tokens`` answer or 2,000-input request holding every other one.  A streamed
answer is stopped by Starlette, which ends its generator when the client disconnects.
"""
from __future__ import annotations

import sys
import threading

import anyio

#: Seconds between looks at the client's connection.
POLL_SECONDS = 0.2
#: Pieces an answer makes in one turn before the next waiting request gets the lock.
TURN_PIECES = 16
#: Inputs an embeddings request embeds in one turn at most: each is one pass of the model, as each piece of an
#: answer is.
EMBED_TURN_INPUTS = 16
#: Input tokens an embeddings turn takes at most (about what 16 steps of an answer cost); one input longer than
#: this is a turn of its own.
EMBED_TURN_TOKENS = 512


class Turns:
    """The server's generation lock, taken one turn at a time; counts the chat answers and embeddings requests
    under way (``/health``)."""

    def __init__(self):
        self.lock = anyio.Lock()
        self.answers = 0
        self.embeddings = 0

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

    async def in_slices(self, work, parts: list, gone: threading.Event | None = None) -> list | None:
        """``work(part)`` (blocking, a list back) for each of ``parts``, one part a turn, the lists joined in order;
        None once ``gone`` is set (the parts not yet done are not worked on)."""
        self.embeddings += 1
        try:
            out: list = []
            for part in parts:
                async with self.lock:
                    if gone is not None and gone.is_set():
                        return None
                    out.extend(await anyio.to_thread.run_sync(work, part))
            return out
        finally:
            self.embeddings -= 1


def slices(tokens: list[int]) -> list[range]:
    """The turns of inputs of ``tokens`` tokens each: consecutive runs of at most :data:`EMBED_TURN_INPUTS` inputs
    and :data:`EMBED_TURN_TOKENS` tokens (at least one input each), in order."""
    out: list[range] = []
    start, used = 0, 0
    for i, n in enumerate(tokens):
        if i > start and (i - start >= EMBED_TURN_INPUTS or used + n > EMBED_TURN_TOKENS):
            out.append(range(start, i))
            start, used = i, 0
        used += n
    if start < len(tokens):
        out.append(range(start, len(tokens)))
    return out


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


async def unless_gone(request, what: str, work):
    """``await work(gone)``, where ``gone`` is set, and stderr says that ``what`` was stopped, once the client
    disconnects (the work looks at it between pieces and slices)."""
    gone = threading.Event()

    async def watch() -> None:
        while not await request.is_disconnected():
            await anyio.sleep(POLL_SECONDS)
        gone.set()
        sys.stderr.write(f"fmscript serve: {what} was stopped: its client went away\n")

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        try:
            return await work(gone)
        finally:
            tg.cancel_scope.cancel()


async def complete_unless_gone(request, turns: Turns, run, what: str = "a chat answer") -> str:
    """``run``'s whole answer, taking turns with the other requests, stopped early when the client disconnects."""
    return await unless_gone(request, what, lambda gone: turns.whole(run, gone))
