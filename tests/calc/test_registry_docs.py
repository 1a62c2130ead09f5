"""The function registry: one registration per function, each with a signature and a description, and
the generated reference in docs/functions.md kept up to date."""
import re
from pathlib import Path

from fmscript.calc.functions import registry
from fmscript.docgen_functions import render_functions_md

FAMILIES = Path(__file__).resolve().parents[2] / "fmscript" / "calc" / "functions"

REQUIRED = """
Left Right Middle Length Position PatternCount Substitute Upper Lower Proper Trim TrimAll Replace Exact Filter
FilterValues LeftWords RightWords MiddleWords WordCount LeftValues RightValues MiddleValues GetValue ValueCount
List Quote Char Code SerialIncrement GetAsText GetAsNumber GetAsBoolean GetAsDate GetAsTime GetAsTimestamp
GetAsURLEncoded Base64Encode Base64Decode HexEncode HexDecode CryptDigest CryptAuthCode SortValues UniqueValues
TextStyleAdd TextColor TextFormatRemove
Abs Ceiling Floor Int Round Truncate Mod Div Sign Sqrt Exp Ln Log Lg Random Pi SetPrecision Max Min Sum Average
Count StDev Variance Combination Factorial FV PV PMT NPV Sin Cos Tan Asin Acos Atan Degrees Radians RGB
Date Time Timestamp Day Month Year DayOfWeek DayOfYear DayName MonthName WeekOfYear WeekOfYearFiscal Hour Minute
Seconds
If Case Choose While SetRecursion IsEmpty IsValid EvaluationError Evaluate GetField GetFieldName Self
JSONSetElement JSONGetElement JSONDeleteElement JSONListKeys JSONListValues JSONGetElementType
JSONFormatElements JSONMakeArray JSONParse JSONParsedState
Base64EncodeRFC DayNameJ MonthNameJ YearName Hiragana Katakana KanaHankaku KanaZenkaku RomanHankaku RomanZenkaku
KanjiNumeral NumToJText
""".split()


def test_every_required_function_is_registered():
    reg = registry()
    assert [n for n in REQUIRED if n.casefold() not in reg] == []


def test_each_function_is_registered_once(monkeypatch):
    """Re-run the registrations of the library's families and count the names they register."""
    import importlib

    import fmscript.calc.functions as package

    registry()
    seen = []
    original = package.function

    def spy(signature, **kw):
        seen.append(signature.split("(", 1)[0].strip().casefold())
        seen.extend(n.casefold() for n in kw.get("names", ()))
        return original(signature, **kw)

    monkeypatch.setattr(package, "function", spy)
    for fam in ("logic", "core", "text", "number", "json_fns", "datetime_fns", "extra"):
        importlib.reload(importlib.import_module(f"fmscript.calc.functions.{fam}"))
    assert len(seen) > 150 and "sum" in seen and "list" in seen and "jsonstring" in seen
    assert sorted({n for n in seen if seen.count(n) > 1}) == []


def test_each_get_name_is_registered_once():
    names = []
    for path in FAMILIES.glob("*.py"):
        names += [n.casefold() for n in re.findall(r'^@get\(\s*"([^"]+)"', path.read_text(encoding="utf-8"), re.M)]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_every_function_has_a_signature_and_a_description():
    for d in {id(d): d for d in registry().values()}.values():
        assert d.signature.startswith(d.name), d.name
        assert d.doc.strip(), f"{d.name} has no description"


def test_docs_functions_md_is_up_to_date():
    docs = Path(__file__).resolve().parents[2] / "docs" / "functions.md"
    assert docs.read_text(encoding="utf-8") == render_functions_md(), "run: fmscript docs"


def test_descriptions_are_one_line():
    for d in {id(d): d for d in registry().values()}.values():
        first = (d.impl.__doc__ or "").strip().split("\n\n")[0]
        assert "\n" not in first, f"{d.name}: the first paragraph of its docstring spans several lines"
