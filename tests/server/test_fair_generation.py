"""Fair sharing of generation (issue 17): answers take turns of a few tokens, so a short answer asked while a long
one runs finishes first, streamed or not, and answers made side by side are the answers made alone."""
from __future__ import annotations

import threading

from markupsafe import escape

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


# Every other use of the generation lock takes turns too (issue 17, item 4): embeddings a slice of their inputs a
# turn, the Admin Console's try-out a few tokens a turn, as a chat answer.

EMBED = "fmscript/tiny-embed"
#: Enough inputs for about 19 slices (a few seconds on 2 cores): a chat asked meanwhile waits for one slice.
MANY = [f"input number {i}: the quick brown fox jumps over the lazy dog" for i in range(300)]


def test_a_chat_asked_during_a_large_embeddings_request_finishes_first(server):
    c = server.client(timeout=300)
    c.embeddings.create(model=EMBED, input=["load the model"])
    alone = c.chat.completions.create(**SHORT).choices[0].message.content
    order: list[str] = []
    got: list = []

    def embed():
        got.append(c.embeddings.create(model=EMBED, input=MANY, encoding_format="float"))
        order.append("embeddings")

    t = threading.Thread(target=embed)
    t.start()
    try:
        wait_until(lambda: server.health()["generation"]["embeddings"] >= 1 or order, 120, "the embeddings")
        short = c.chat.completions.create(**SHORT).choices[0].message.content
        order.append("chat")
    finally:
        t.join(300)
    assert order == ["chat", "embeddings"]
    assert short == alone and [d.index for d in got[0].data] == list(range(len(MANY)))
    assert server.health()["generation"]["embeddings"] == 0


def test_embeddings_are_the_same_in_one_slice_or_many(server):
    import numpy as np

    from fmscript.server.genlock import EMBED_TURN_INPUTS, EMBED_TURN_TOKENS

    c = server.client(timeout=300)
    # More inputs than one turn takes, and one longer than a turn's tokens (a turn of its own), in between.
    texts = [f"sentence {i} about {'cats' if i % 2 else 'dogs'}" for i in range(EMBED_TURN_INPUTS * 2 + 5)]
    texts.insert(7, "word " * (EMBED_TURN_TOKENS + 50))
    many = c.embeddings.create(model=EMBED, input=texts, encoding_format="float")
    assert [d.index for d in many.data] == list(range(len(texts)))
    one_each = [c.embeddings.create(model=EMBED, input=[t], encoding_format="float") for t in texts]
    assert np.array_equal(np.asarray([d.embedding for d in many.data], np.float32),
                          np.asarray([r.data[0].embedding for r in one_each], np.float32))
    first = c.embeddings.create(model=EMBED, input=texts[:3], encoding_format="float")  # one slice
    assert [d.embedding for d in first.data] == [d.embedding for d in many.data[:3]]
    assert many.usage.prompt_tokens == sum(r.usage.prompt_tokens for r in one_each)


def test_an_embeddings_request_whose_client_goes_is_stopped(server):
    import http.client
    import json

    line = "an embeddings request was stopped: its client went away"
    seen = server.log_path.read_text(errors="replace").count(line)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    # Inputs as long as the model's context, a turn each: minutes of work were it not stopped.
    body = json.dumps({"model": EMBED, "input": ["word " * 2000] * 200})
    conn.request("POST", "/v1/embeddings", body, {**server.headers, "Content-Type": "application/json"})
    wait_until(lambda: server.health()["generation"]["embeddings"] >= 1, 120, "the embeddings to start")
    conn.close()
    wait_until(lambda: server.log_path.read_text(errors="replace").count(line) > seen, 120, "the request to stop")
    wait_until(lambda: server.health()["generation"]["embeddings"] == 0, 60, "the embeddings to stop")
    assert server.client(timeout=60).chat.completions.create(**SHORT).choices[0].message.content


def test_a_chat_asked_during_a_console_try_out_finishes_first(server):
    from .console_support import ConsoleClient

    c = server.client(timeout=300)
    person = ConsoleClient(f"http://127.0.0.1:{server.port}")
    assert person.login(server.key).status_code == 303
    csrf = person.csrf()
    asked = "tell me everything"
    alone = c.chat.completions.create(model=BASE, messages=[{"role": "user", "content": asked}], max_tokens=128)
    assert alone.usage.completion_tokens == 128  # the try-out's whole length: 8 turns
    order: list[str] = []
    pages: list = []
    stop = threading.Event()

    def ballast():  # two long answers taking turns with the try-out, so that it runs for many turns
        stream = c.chat.completions.create(stream=True, **LONG)
        try:
            for _ in stream:
                if stop.is_set():
                    break
        finally:
            stream.close()

    def try_out():
        pages.append(person.post("/console/models/try", {"model": BASE, "prompt": asked}, csrf=csrf))
        order.append("try-out")

    others = [threading.Thread(target=ballast) for _ in range(2)]
    for b in others:
        b.start()
    t = threading.Thread(target=try_out)
    try:
        wait_until(lambda: server.health()["generation"]["answers"] >= 2, 120, "the long answers")
        t.start()
        wait_until(lambda: server.health()["generation"]["answers"] >= 3 or order, 120, "the try-out")
        short = c.chat.completions.create(**SHORT).choices[0].message.content
        order.append("chat")
    finally:
        t.join(300)
        stop.set()
        for b in others:
            b.join(300)
    assert order == ["chat", "try-out"]
    page = pages[0].content.decode()
    assert pages[0].status_code == 200 and short
    assert f'<pre id="answer">{escape(alone.choices[0].message.content)}</pre>' in page  # turns change no answer
    wait_until(lambda: server.health()["generation"]["answers"] == 0, 60, "no answer under way")


def test_slices_bound_each_turn_by_inputs_and_tokens_and_keep_every_input_in_order():
    from fmscript.server.genlock import EMBED_TURN_INPUTS as N, EMBED_TURN_TOKENS as T, slices

    assert slices([1] * (2 * N + 1)) == [range(0, N), range(N, 2 * N), range(2 * N, 2 * N + 1)]
    # A turn ends before the input that would pass the tokens; an input longer than a turn is one of its own.
    assert slices([T // 2, T // 2, 1, T + 5, 3]) == [range(0, 2), range(2, 3), range(3, 4), range(4, 5)]
    assert slices([]) == []
