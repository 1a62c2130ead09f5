"""The external calculation conformance suite: FileMaker's documented examples, run through fmscript.

``fmscript/conformance/calc-vectors.tsv`` holds expression → expected pairs taken from Claris FileMaker Pro
Help (see ``README.md`` beside it for the format and the attribution).  This module loads them,
evaluates each one and compares the result the way the vector README says: text exactly, numbers by
value (rounding *or* truncating the result to the digits shown gives the expected number) and values cut
off with ``...`` as a prefix.

Vectors with a ``depends`` tag need context.  This module supplies it where fmscript can (see
:func:`runnable`): a fixed clock for the date/time ``Get`` names, session state (account, last error) for
some other ``env`` vectors, ``$`` variables for ``var`` vectors and a one-record data layer holding what the
docs say for some ``field`` vectors.  ``locale`` vectors run as they are: the default locale is en-US.
The others are counted as "not run".

``fmscript conformance`` prints the pass rate per category (:func:`report`).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import re
import sys
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from pathlib import Path

from ..errors import E_FIELD_MISSING

_ESCAPE = re.compile(r"\\([ntr\\])")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")

TARGET = 0.95  # pass rate the self-contained vectors must reach


@dataclass(frozen=True)
class Vector:
    id: str
    category: str
    depends: tuple[str, ...]
    expression: str
    expected: str
    source: str

    @property
    def self_contained(self) -> bool:
        return not self.depends


def _decode(s: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], s)


def default_path() -> Path:
    """The vectors ship inside the package, so ``fmscript conformance`` works from an installed wheel."""
    return Path(__file__).resolve().parent / "calc-vectors.tsv"


def load_vectors(path: str | Path | None = None) -> list[Vector]:
    """Read and decode ``calc-vectors.tsv``."""
    lines = Path(path or default_path()).read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines[1:]:
        if not line.strip():
            continue
        vid, cat, dep, expr, expected, source = (line.split("\t") + [""] * 6)[:6]
        deps = tuple(d.strip() for d in dep.split(",") if d.strip())
        out.append(Vector(vid, cat, deps, _decode(expr), _decode(expected), source))
    return out


def expected_value(v: Vector) -> str:
    """The expected result in FileMaker's terms: ``¶`` and a lone line feed are the return character
    (CR); an explicit CR+LF (Base64Encode's line end) stays as it is."""
    text = v.expected.replace("¶", "\r")
    return re.sub(r"(?<!\r)\n", "\r", text)


def _digits_after_point(s: str) -> int:
    return len(s.split(".", 1)[1]) if "." in s else 0


def matches(actual: str, expected: str) -> bool:
    """FileMaker's value, as displayed, against the documented one (see the module docstring)."""
    if actual == expected:
        return True
    for marker in ("...", "…"):
        if marker in expected:
            prefix = expected.split(marker, 1)[0]
            if actual.startswith(prefix):
                return True
            if _NUMBER.match(prefix) and _NUMBER.match(actual):
                return _number_matches(actual, prefix)
            return False
    if _NUMBER.match(expected) and _NUMBER.match(actual):
        return _number_matches(actual, expected)
    return False


def _number_matches(actual: str, expected: str) -> bool:
    try:
        a, e = Decimal(actual), Decimal(expected)
    except InvalidOperation:
        return False
    q = Decimal(1).scaleb(-_digits_after_point(expected))
    ctx = Context(prec=1000)
    return a.quantize(q, ROUND_HALF_UP, ctx) == e or a.quantize(q, ROUND_DOWN, ctx) == e


# -- context for vectors with depends tags ---------------------------------------------------------------

# The moment the Get examples were written for: Get ( CurrentTimestamp ) → 6/4/2026 9:15:00 AM.
FIXED_NOW = _dt.datetime(2026, 6, 4, 9, 15, 0, tzinfo=_dt.timezone.utc)


class _Record:
    """A one-record data layer for the field vectors whose contents the docs describe."""

    def __init__(self, fields: dict[str, object]):
        self.fields = {k.casefold(): v for k, v in fields.items()}

    def read_field(self, f, table, name, rep):
        from ..calc.functions import CalcError

        key = (f"{table}::{name}" if table else name).casefold()
        if key not in self.fields:
            label = f"{table}::{name}" if table else name
            raise CalcError(f"the field “{label}” is missing", code=E_FIELD_MISSING)
        v = self.fields[key]
        if isinstance(v, list):
            return v[rep - 1] if rep <= len(v) else ""
        return v if rep == 1 else ""

    def repetitions_of(self, table, name) -> int:
        v = self.fields.get((f"{table}::{name}" if table else name).casefold())
        return len(v) if isinstance(v, list) else 1

    def related_values(self, f, table, name):
        return None  # one record, no relationship graph: a field is its own value

    def related_aggregate(self, f, table, name, kind):
        return None

    def path(self):
        return None


_JSON_DATA = '{"address":{"city":"Melbourne","postcode":"3000","state":"VIC"}}'

# Field contents stated in the source's prose, per vector.
FIELD_CONTEXT: dict[str, dict[str, object]] = {
    "logical-json-001": {"TextField": "2 + 2"},
    # "when TextField contains .08 * Amount and the Amount field contains 10.00"
    "logical-json-004": {"TextField": ".08 * Amount", "Amount": Decimal("10.00")},
    "logical-json-002": {"textfield": "2 + 2"},
    "logical-json-003": {"textfield": "2 + 2"},
    "logical-json-005": {},
    "logical-json-014": {"OrderNum": ""},
    "logical-json-027": {"data": _JSON_DATA},
    "logical-json-028": {"data": '{"address":{"city":"Melbourne","postcode":"3000"}}'},
    "logical-json-035": {"data": _JSON_DATA},
    "logical-json-039": {"Product::Colors": "green\rred\ryellow"},
    "specialty-001": {"Field1": "white", "Field2": "black"},
    "specialty-003": {"Contacts::FirstName": "Alice", "Contacts::LastName": "Smith"},
    "numeric-083": {"ParcelBids": ["1000", "1200", "1300", "1500", ""]},
    # A webhook whose signature header is the HMAC of its body: the check in the example gives 1.
    "design-031": {"WebhookData::Body": "payload",
                   "WebhookData::HmacHeader": " uC/LeRrOxXhZuYm0MKgmSIzi5Hn9+SMmvQoug3WkK6Q= "},
    "numeric-084": {"ParcelBids": ["1000", "1200", "1300", "1500", ""]},
    # "a number field defined to repeat with ten values and contains the values 2500, 1200, and 1500"
    "numeric-085": {"ParcelBids": ["2500", "1200", "1500"] + [""] * 7},
    # "Scores[1] = 85, Scores[2] = 90, Scores[3] = 78, Scores[4] = "", Scores[5] = """
    "numeric-086": {"Scores": ["85", "90", "78", "", ""]},
    # Date fields: "when ProjectDue is 10/7/2019" and so on.
    "date-time-008": {"ProjectDue": _dt.date(2019, 10, 7)},
    "date-time-012": {"ProjectDue": _dt.date(2019, 10, 9)},
    "date-time-018": {"ProjectDue": _dt.date(2019, 2, 2)},
    "numeric-060": {"Loan": ["-2000", "600", "300", "500", "700", "400"]},
}

# $ variables for var vectors.
VAR_CONTEXT: dict[str, dict[str, object]] = {
    "logical-json-019": {f"$variable[{i}]": str(i) for i in range(1, 11)},
    "design-031": {"$$webhookSecret": "secret"},
}

# Session state for env vectors, as the docs' sample values describe it.
SESSION_CONTEXT: dict[str, dict[str, object]] = {
    "get-005": {"account": {"name": "bjones"}},
    "get-006": {},
    "get-007": {"account": {"extended_privileges": ("fmapp", "fmwebdirect")}},
    "get-025": {},
    "get-026": {},  # the headless window is 1024 points wide (fmscript/calc/functions/get.py)
    "get-027": {},
    "get-030": {"last_error": 401},
    "get-031": {"last_message_choice": 2},
    "get-045": {},
    "logical-json-018": {"calc.self": "11"},
}

# The clock for the date/time Get vectors (UTC, so the result does not depend on the machine's zone).
# get-003's sample value is a different moment from the others: 10/2/2026 1:00 AM UTC.
CLOCK = {"get-003": _dt.datetime(2026, 10, 2, 1, 0, 0, tzinfo=_dt.timezone.utc)}
# Environment variables for the path Get names (the docs' sample user is bjones on a Mac).
ENVIRONMENT: dict[str, dict[str, str]] = {
    "get-015": {"HOME": "/Users/bjones"},
    "get-016": {"FMSCRIPT_DOCUMENTS": "/Users/bjones/Documents"},
}
# Vectors tagged env that need nothing of the machine: the Windows path conversion.
PORTABLE = {"specialty-037"}
ENV_RUNNABLE = {"get-001", "get-002", "get-003", "get-004", "get-040", *SESSION_CONTEXT, *ENVIRONMENT, *PORTABLE}


# Vectors whose documented value fmscript deliberately does not give: {id: (fmscript's result, why)}.
# docs/conformance.md lists them; the tests pin fmscript's result so a change is noticed.
DIFFERENCES: dict[str, tuple[str, str]] = {
    "text-018": ("9:30:00 AM", "en-US shows a time of day with AM/PM; the help page omits it here, while "
                               "text-019, date-time-025 and date-time-033 show it"),
    "date-time-030": ("4:14:32 AM", "as text-018: the source writes the time without AM/PM"),
    "date-time-031": ("4:40:30 AM", "as text-018: the source writes the time without AM/PM"),
    "date-time-032": ("4:16:10 AM", "as text-018: the source writes the time without AM/PM"),
    "numeric-065": ("45", "trigonometric results show the 15 significant digits a double holds; the Degrees "
                          "help page (and numeric-068, the same expression) gives 45"),
}


def runnable(v: Vector) -> bool:
    """True when fmscript can give the vector the context its tags ask for."""
    deps = set(v.depends)
    if not deps:
        return True
    if deps <= {"locale"}:
        return True  # the default locale is en-US, the one the vectors are written in
    if deps <= {"env", "locale", "random"}:
        return v.id in ENV_RUNNABLE
    if deps == {"var"}:
        return v.id in VAR_CONTEXT
    if deps == {"container"}:
        return True  # container data is part of the value model
    if deps == {"field", "var", "container"}:
        return v.id in FIELD_CONTEXT and v.id in VAR_CONTEXT
    if deps <= {"field", "locale"}:
        return v.id in FIELD_CONTEXT or v.id in SESSION_CONTEXT
    return False


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    import os

    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def evaluate(v: Vector) -> str:
    """The vector's result as text (``?`` on error, as FileMaker shows it)."""
    from ..calc.compile import compile_calc, var_key
    from ..calc.values import to_text
    from ..errors import FMScriptError
    from ..script.runtime import Frame, Session

    data = _Record(FIELD_CONTEXT[v.id]) if v.id in FIELD_CONTEXT else None
    session = Session(data=data)
    frame = Frame(session)
    for key, value in SESSION_CONTEXT.get(v.id, {}).items():
        if key in ("last_error", "last_message_choice"):
            setattr(session, key, value)
        else:
            session.extensions[key] = value
    for name, value in VAR_CONTEXT.get(v.id, {}).items():
        base, _, rep = name.partition("[")
        scope = session.globals if base.startswith("$$") else frame.locals
        scope[var_key(base, int(rep.rstrip("]")) if rep else 1)] = value
    try:
        calc = compile_calc(v.expression)
    except FMScriptError as e:
        return f"<parse error: {e.message}>"
    except Exception as e:  # a fault in fmscript itself: report it as this vector's result
        return f"<internal error: {e.__class__.__name__}: {e}>"
    from ..calc.functions.get import fixed_clock

    with fixed_clock(CLOCK.get(v.id, FIXED_NOW)), _environment(ENVIRONMENT.get(v.id, {})):
        return to_text(calc.evaluate(frame))


def check(v: Vector) -> tuple[bool, str]:
    """(passed, actual) for one vector."""
    actual = evaluate(v)
    if v.id == "get-040":  # Get ( UUID ): random; compare the shape
        ok = bool(re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", actual))
        return ok, actual
    return matches(actual, expected_value(v)), actual


@dataclass
class Tally:
    passed: int = 0
    total: int = 0

    def rate(self) -> str:
        return f"{self.passed}/{self.total}" + (f" ({100 * self.passed / self.total:.1f} %)" if self.total else "")


def run_all(vectors: list[Vector]):
    """Check every runnable vector; returns {category: (self-contained Tally, context Tally, not run)} and
    the failures as (vector, actual)."""
    per: dict[str, list] = {}
    failures = []
    for v in vectors:
        slot = per.setdefault(v.category, [Tally(), Tally(), 0])
        if not runnable(v):
            slot[2] += 1
            continue
        ok, actual = check(v)
        t = slot[0] if v.self_contained else slot[1]
        t.total += 1
        t.passed += ok
        if not ok:
            failures.append((v, actual))
    return per, failures


def report(argv: list[str] | None = None) -> int:
    """``fmscript conformance [--vectors PATH] [--failures]``: the pass rate per category.

    Exit status 0 when the self-contained vectors reach the target pass rate, 1 below it, 2 when the
    vector file cannot be read."""
    ap = argparse.ArgumentParser(prog="fmscript conformance",
                                 description="Run FileMaker's documented calculation examples.")
    ap.add_argument("--vectors", help="calc-vectors.tsv to run (default: the copy shipped with fmscript)")
    ap.add_argument("--failures", action="store_true", help="list every failing vector")
    args = ap.parse_args(argv)
    try:
        vectors = load_vectors(args.vectors)
    except OSError as e:
        print(f"fmscript conformance: cannot read the vectors: {e}", file=sys.stderr)
        return 2
    per, failures = run_all(vectors)
    print(f"{'category':<14} {'self-contained':>20} {'with context':>20} {'not run':>8}")
    tot_s, tot_c, tot_n = Tally(), Tally(), 0
    for cat in sorted(per):
        s, c, n = per[cat]
        print(f"{cat:<14} {s.rate():>20} {c.rate():>20} {n:>8}")
        tot_s.passed += s.passed
        tot_s.total += s.total
        tot_c.passed += c.passed
        tot_c.total += c.total
        tot_n += n
    print(f"{'total':<14} {tot_s.rate():>20} {tot_c.rate():>20} {tot_n:>8}")
    if args.failures and failures:
        print()
        for v, actual in failures:
            print(f"{v.id}: {v.expression!r}\n    expected {expected_value(v)!r}\n    got      {actual!r}")
            if v.id in DIFFERENCES:
                print(f"    (deliberate: {DIFFERENCES[v.id][1]})")
    ok = tot_s.total == 0 or tot_s.passed / tot_s.total >= TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(report())
