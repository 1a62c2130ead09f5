"""The vector functions of FileMaker 22 (AddEmbeddings, SubtractEmbeddings, NormalizeEmbedding) on Claris's own
examples, and GetTokenCount."""
from __future__ import annotations

import pytest

from fmscript.interpreter import Interpreter


def value(calc: str) -> str:
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.run_text(f"Set Variable [ $$v ; Value: {calc} ]")
    return str(fm.get_global("$$v"))


@pytest.mark.parametrize("calc, expected", [
    ('AddEmbeddings ( "[1, 2, 3]" ; "[4, 5, 6]" )',  # Claris's example
     "[0.40160966445124940405, 0.56225353023174917677, 0.722897396012249005]"),
    ('NormalizeEmbedding ( "[3, 4]" )', "[0.5999999999999999778, 0.80000000000000004441]"),  # Claris's example
    ('NormalizeEmbedding ( "[3, 4, 12]" ; 2 )', "[0.5999999999999999778, 0.80000000000000004441]"),
    ('NormalizeEmbedding ( "[3, 4, 12]" ; 0 )',  # 0: every dimension; the doubles of 3/13, 4/13, 12/13
     "[0.23076923076923078204, 0.30769230769230770939, 0.92307692307692312816]"),
    ('SubtractEmbeddings ( "[4, 4]" ; "[1, 0]" )', "[0.5999999999999999778, 0.80000000000000004441]"),
    ('AddEmbeddings ( "[1, 2]" ; "[1, 2, 3]" )', "?"),  # different dimensions
    ('SubtractEmbeddings ( "[1, 2]" ; "[1, 2]" )', "?"),  # a zero vector
    ('NormalizeEmbedding ( "not a vector" )', "?"),
    ('GetTokenCount ( "Claris FileMaker" )', "4"),  # Claris's example
    ('GetTokenCount ( "" )', "0"),
])
def test_vector_functions(calc, expected):
    assert value(calc) == expected
