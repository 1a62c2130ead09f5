"""Golden scripts: ``tests/data/fixtures/NAME.fmscript`` run against the fixture database named in its first
line (``# db: people``); what Show Custom Dialog shows must equal ``NAME.out``."""
from __future__ import annotations

from pathlib import Path

import pytest

from fmscript.interpreter import Interpreter

from .dbfixtures import build_people, build_support_qa
from .relfixtures import build_sales

FIXTURES = Path(__file__).parent / "fixtures"
BUILDERS = {"people": build_people, "support_qa": build_support_qa, "sales": build_sales}


@pytest.mark.parametrize("script", sorted(FIXTURES.glob("*.fmscript")), ids=lambda p: p.stem)
def test_golden(script, tmp_path):
    text = script.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith("# db: "), "a golden script names its fixture database on its first line"
    db = BUILDERS[first[6:].strip()](tmp_path / "fixture.sqlite")
    out: list[str] = []
    fm = Interpreter(file=db, on_dialog=lambda t, m: out.append(m.replace("\r", "\n")), base_dir=tmp_path)
    fm.run_text(text, path=script.name)
    expected = script.with_suffix(".out").read_text(encoding="utf-8")
    assert "\n".join(out) + "\n" == expected
    jsonl = script.with_suffix(".jsonl")
    if jsonl.exists():
        assert (tmp_path / "train.jsonl").read_text(encoding="utf-8") == jsonl.read_text(encoding="utf-8")
