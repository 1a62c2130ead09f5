"""uvicorn's h11 protocol with read deadlines, so a slow client cannot hold a connection forever.

uvicorn times out an idle kept-alive connection but not a request that is arriving: a client that sends its
headers a byte at a time, or its body a byte now and then, holds its connection (and, with many such clients, the
server's sockets) for as long as it likes.  Here a request must arrive as Apache's ``mod_reqtimeout`` requires by
default: its headers within 20 seconds, extended by a second for each 500 bytes received, 40 seconds at most, and
its body within 20 seconds, extended likewise with no cap.  Past its deadline the connection gets ``408`` in
OpenAI's error object and is closed.  Time while the server itself has stopped reading (the app is behind with a
big upload) does not count against the client.
"""
from __future__ import annotations

import json
import sys

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .errors import error_body
from .limits import MIN_READ_RATE, read_timeout

#: Seconds between looks while the server has paused reading.
_RECHECK = 1.0


class ReadDeadlineProtocol(H11Protocol):
    """``H11Protocol`` plus a deadline for the headers and one for the body of each request."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._timer = None
        self._phase: str | None = None
        self._start("headers")  # a connection that sends nothing at all is a slow client too

    def data_received(self, data: bytes) -> None:
        if self._phase is None:  # the first bytes of the next request on a kept-alive connection
            self._start("headers")
        self._received += len(data)
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._phase is None and not self.transport.is_closing() and self.conn.trailing_data[0]:
            self._start("headers")  # a pipelined next request had already begun to arrive
            self._follow()

    def connection_lost(self, exc) -> None:
        self._stop()
        super().connection_lost(exc)

    def _follow(self) -> None:
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._start("body")
        elif state is not h11.IDLE:  # the whole request is in (or the connection is ending)
            self._stop()

    def _start(self, phase: str) -> None:
        self._phase, self._since, self._received = phase, self.loop.time(), 0
        self._initial = read_timeout()
        self._schedule(self._deadline())

    def _stop(self) -> None:
        self._phase = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _deadline(self) -> float:
        allowed = self._initial + self._received / MIN_READ_RATE
        if self._phase == "headers":
            allowed = min(allowed, 2 * self._initial)
        return self._since + allowed

    def _schedule(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._phase is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow is not None and self.flow.read_paused:  # the server is behind, not the client
            self._since += _RECHECK
            return self._schedule(now + _RECHECK)
        deadline = self._deadline()
        if now < deadline:  # more arrived since this look was set
            return self._schedule(deadline)
        self._time_out()

    def _time_out(self) -> None:
        what, self._phase = self._phase, None
        client = "%s:%d" % self.client[:2] if self.client else "a client"
        sys.stderr.write(f"fmscript serve: closed the connection of {client}: its request {what} did not arrive "
                         "in time\n")
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            body = json.dumps(error_body(f"The request {what} did not arrive in time (at least "
                                         f"{self._initial:g} seconds, and a second more for each {MIN_READ_RATE} "
                                         "bytes received).", "invalid_request_error", None,
                                         "request_timeout")).encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                 b"connection: close\r\ncontent-length: " + str(len(body)).encode() +
                                 b"\r\n\r\n" + body)
        self.transport.close()
