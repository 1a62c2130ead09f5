"""Every function of the library, given odd arguments, gives a value or ``?``: never a Python error.

``?`` must come from a deliberate FileMaker error (a CalcError, which leaves its sentence in
``Get ( LastErrorDetail )``); any other exception is a bug and propagates out of ``evaluate``."""
import datetime as _dt
import random
from decimal import Decimal

import pytest

from fmscript.calc.compile import compile_calc
from fmscript.calc.functions import registry
from fmscript.calc.values import Time, Timestamp
from fmscript.errors import FMScriptError

ODD = ['""', '"abc"', "-1", "0", "1.5", "1000000", '"¶a¶¶b¶"', "Date ( 2 ; 29 ; 2024 )", "Time ( 25 ; 0 ; 0 )",
       "Timestamp ( Date ( 1 ; 1 ; 2020 ) ; 0 )", '"{\\"a\\":[1,2]}"', '"12:30"', '"1/2/2020"',
       'TextEncode ( "x" ; "utf-8" ; 0 )', "-1E+3", '"ｶﾞ"', '"[+]"', "1/3", "1E+400", "-0.5", '"(1"']
OURS = {"core", "text", "number", "logic", "json_fns", "datetime_fns", "get", "extra"}
SKIP = {"Random", "Get"}


def _functions():
    for d in sorted({id(d): d for d in registry().values()}.values(), key=lambda d: d.name):
        if d.impl.__module__.rsplit(".", 1)[-1] in OURS and d.name not in SKIP:
            yield d


VALUE_TYPES = (str, Decimal, _dt.date, Time, Timestamp)


def check_odd_arguments(calc, d) -> None:
    n = d.min_args
    rnd = random.Random(d.name)  # the same arguments on every run
    combos = [()] if n == 0 else [[a] + [rnd.choice(ODD) for _ in range(n - 1)] for a in ODD]
    for args in combos:
        text = d.name if not args else f"{d.name} ( {' ; '.join(args)} )"
        try:
            c = compile_calc(text)
        except FMScriptError:
            continue
        calc.session.last_error_detail = ""
        result = c.evaluate(calc.frame)  # a Python exception here fails the test
        assert isinstance(result, VALUE_TYPES) or type(result).__name__ == "Container", (text, result)
        if result == "?":
            assert calc.session.last_error_detail, f"{text}: ? without a FileMaker error"


@pytest.mark.parametrize("d", list(_functions()), ids=lambda d: d.name)
def test_odd_arguments(calc, d):
    check_odd_arguments(calc, d)


def test_a_crashing_function_fails_the_check(calc, monkeypatch):
    # The check can fail: a function that always raises TypeError is caught, not turned into ?.
    d = registry()["abs"]

    def crash(x):
        raise TypeError("always")

    monkeypatch.setattr(d, "impl", crash)
    with pytest.raises(TypeError, match="always"):
        check_odd_arguments(calc, d)
