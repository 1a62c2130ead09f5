"""The external conformance suite: FileMaker's documented examples (tests/conformance/calc-vectors.tsv).

Every self-contained vector must give FileMaker's documented result.  Vectors with a ``depends`` tag run
where fmscript can give them their context; the few whose documented value fmscript deliberately does not
give are pinned to fmscript's own result (``DIFFERENCES``, listed with reasons in docs/conformance.md).
"""
import pytest

from fmscript import conformance as C

VECTORS = C.load_vectors()
SELF_CONTAINED = [v for v in VECTORS if v.self_contained]
WITH_CONTEXT = [v for v in VECTORS if not v.self_contained and C.runnable(v)]


def test_the_copy_of_the_vectors_is_complete():
    assert len(VECTORS) == 379
    assert len(SELF_CONTAINED) == 226


@pytest.mark.parametrize("v", SELF_CONTAINED, ids=lambda v: v.id)
def test_self_contained_vector(v):
    ok, actual = C.check(v)
    if v.id in C.DIFFERENCES:
        assert actual == C.DIFFERENCES[v.id][0]
    else:
        assert ok, f"{v.expression!r}: expected {C.expected_value(v)!r}, got {actual!r}"


def test_self_contained_pass_rate_reaches_the_target():
    passed = sum(C.check(v)[0] for v in SELF_CONTAINED)
    assert passed / len(SELF_CONTAINED) >= C.TARGET


@pytest.mark.parametrize("v", WITH_CONTEXT, ids=lambda v: v.id)
def test_vector_with_context(v):
    ok, actual = C.check(v)
    if v.id in C.DIFFERENCES:
        assert actual == C.DIFFERENCES[v.id][0]
    else:
        assert ok, f"{v.expression!r}: expected {C.expected_value(v)!r}, got {actual!r}"


def test_differences_are_vectors_that_run():
    ids = {v.id for v in SELF_CONTAINED + WITH_CONTEXT}
    assert set(C.DIFFERENCES) <= ids


@pytest.mark.parametrize("actual,expected,ok", [
    ("0.00144057623049", "0.00144057...", True),
    (".0014405", "0.00144057...", False),
    ("44.99999999999999826", "44.9999999999999983", True),
    ("45.0000000000000001", "45", True),
    ("2.71828", "2.7182818", False),
    ("abc", "ABC", False),
    ("Contacts\rInvoices\rInvoices_Contacts\rX", "Contacts\rInvoices\rInvoices_Contacts…", True),
])
def test_matching_rules(actual, expected, ok):
    assert C.matches(actual, expected) is ok


def test_report_prints_every_category(capsys):
    assert C.report([]) == 0
    out = capsys.readouterr().out
    for cat in ("text", "numeric", "date-time", "logical-json", "get", "specialty", "design", "total"):
        assert cat in out


def test_report_lists_failures_with_reasons(capsys):
    C.report(["--failures"])
    out = capsys.readouterr().out
    assert "date-time-030" in out and "deliberate" in out


def test_report_on_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert C.report(["--vectors", str(tmp_path / "none.tsv")]) == 2


def test_docs_conformance_md_shows_the_current_results():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text(encoding="utf-8")
    per, failures = C.run_all(VECTORS)
    for cat, (s, c, n) in per.items():
        row = re.search(rf"^\| {re.escape(cat)} \| ([^|]+) \| ([^|]+) \| (\d+) \|$", doc, re.M)
        assert row, f"docs/conformance.md has no row for {cat}"
        shown_s = "–" if s.total == 0 else f"{s.passed}/{s.total}"
        assert row.group(1).strip() == shown_s, cat
        assert row.group(2).strip() == f"{c.passed}/{c.total}", cat
        assert int(row.group(3)) == n, cat
    for v, _ in failures:
        assert v.id in doc, f"{v.id} fails but docs/conformance.md does not explain it"
    # One entry per list item: wrapped lines joined.
    items = [" ".join(item.split()) for item in re.split(r"\n- ", doc)]
    for v in VECTORS:
        if C.runnable(v):
            continue
        cat, num = v.id.rsplit("-", 1)
        # Named in full, or as "-nnn" in a run that starts with a vector of the same category:
        # "design-001, -002, -003".
        run = re.compile(rf"(?<![\w-]){re.escape(cat)}-\d{{3}}(?:(?:,| and) -\d{{3}})*")
        assert any(v.id in it or any(f"-{num}" in m.group(0) for m in run.finditer(it)) for it in items), \
            f"{v.id} is not run but docs/conformance.md does not say why"
