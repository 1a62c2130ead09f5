"""Golden files: tests/fixtures/NAME.fmscript runs and prints exactly NAME.out (and NAME.err, if present)."""
import pathlib

import pytest

from fmscript.cli import main

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
CASES = sorted(p.stem for p in FIXTURES.glob("*.fmscript"))


@pytest.mark.parametrize("name", CASES)
def test_fixture(name, capsys, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    err_file = FIXTURES / f"{name}.err"
    rc = main(["run", f"{name}.fmscript"])
    out, err = capsys.readouterr()
    assert out == (FIXTURES / f"{name}.out").read_text(encoding="utf-8")
    if err_file.exists():
        assert rc == 1
        assert err == err_file.read_text(encoding="utf-8")
    else:
        assert rc == 0, err
        assert err == ""
