"""Fair sharing of generation (issue 17): answers take turns of a few tokens, so a short answer asked while a long
one runs finishes first, streamed or not, and answers made side by side are the answers made alone."""
from __future__ import annotations

import threading

from .harness import BASE, wait_until

LONG = {"model": BASE, "messages": [{"role": "user", "content": "tell me everything"}], "max_tokens": 1000}
SHORT = {"model": BASE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def finished_in_order(server, stream_long: bool) -> tuple[list[str], str, str]:
    """Start the long answer, wait until it is under way, ask the short one; the order in which they finished."""
    c = server.client(timeout=300)
    order: list[str] = []
    started = threading.Event()
    long_text: list[str] = []

    def long_answer():
        if stream_long:
            for ev in c.chat.completions.create(stream=True, **LONG):
                if ev.choices and ev.choices[0].delta.content:
                    long_text.append(ev.choices[0].delta.content)
                    started.set()
        else:
            long_text.append(c.chat.completions.create(**LONG).choices[0].message.content)
        order.append("long")

    t = threading.Thread(target=long_answer)
    t.start()
    try:
        if stream_long:
            assert started.wait(120), "the long answer did not start"
        else:
            wait_until(lambda: server.health()["generation"]["answers"] >= 1 or order, 120, "the long answer")
        short = c.chat.completions.create(**SHORT).choices[0].message.content
        order.append("short")
    finally:
        t.join(300)
    return order, short, "".join(long_text)


def test_a_short_answer_asked_during_a_long_stream_finishes_first(server):
    c = server.client(timeout=300)
    alone = c.chat.completions.create(**SHORT).choices[0].message.content
    long_alone = c.chat.completions.create(**LONG)
    assert long_alone.usage.completion_tokens == LONG["max_tokens"]  # long enough to be interleaved with
    order, short, long_text = finished_in_order(server, stream_long=True)
    assert order == ["short", "long"]
    assert short == alone and long_text == long_alone.choices[0].message.content  # turns change no answer


def test_a_short_answer_asked_during_a_long_whole_answer_finishes_first(server):
    order, _, _ = finished_in_order(server, stream_long=False)
    assert order == ["short", "long"]
    assert server.health()["generation"]["answers"] == 0


def test_a_streamed_answer_whose_client_goes_is_stopped(server):
    # max_tokens far past the context: bounded to it, and stopped long before it when the client closes.
    line = "a streamed chat answer was stopped: its client went away"
    def said() -> int:
        return server.log_path.read_text(errors="replace").count(line)

    seen = said()
    c = server.client(timeout=300)
    stream = c.chat.completions.create(stream=True, **{**LONG, "max_tokens": 1_000_000})
    for ev in stream:
        if ev.choices and ev.choices[0].delta.content:
            break
    stream.close()
    wait_until(lambda: said() > seen, 120, "the streamed answer to stop")
    wait_until(lambda: server.health()["generation"]["answers"] == 0, 30, "no answer under way")
    assert c.chat.completions.create(**SHORT).choices[0].message.content
