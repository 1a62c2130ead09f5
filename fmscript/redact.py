"""Keeps secrets out of output: API keys registered by Configure AI Account (and anything that looks
like a bearer key) are masked in traces, errors, logs and REPL displays."""
from __future__ import annotations

import re

_SECRETS: set[str] = set()
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|sk-proj-[A-Za-z0-9_\-]{8,})")


def register_secret(value: str) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for s in sorted(_SECRETS, key=len, reverse=True):
        if s in text:
            text = text.replace(s, mask(s))
    return _KEY_LIKE.sub(lambda m: mask(m.group(0)), text)


def mask(value: str) -> str:
    return "••••" + value[-4:] if len(value) > 12 else "••••"
