"""Helpers for the calculation library tests: evaluate a calculation and get FileMaker's display of it."""
from __future__ import annotations

import pytest

from fmscript.calc.compile import compile_calc
from fmscript.calc.values import to_text
from fmscript.script.runtime import Frame, Session


class Calc:
    """``calc("Left ( \\"abc\\" ; 2 )")`` → ``"ab"``: the result as FileMaker displays it."""

    def __init__(self):
        self.session = Session()
        self.frame = Frame(self.session)

    def value(self, text: str):
        return compile_calc(text).evaluate(self.frame)

    def __call__(self, text: str) -> str:
        return to_text(self.value(text))

    @property
    def last_error_detail(self) -> str:
        return self.session.last_error_detail


@pytest.fixture
def calc() -> Calc:
    return Calc()
