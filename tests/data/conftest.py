from __future__ import annotations

import pytest

from fmscript.interpreter import Interpreter

from .dbfixtures import build_people, build_support_qa


@pytest.fixture
def qa_db(tmp_path):
    return build_support_qa(tmp_path / "support.sqlite")


@pytest.fixture
def people_db(tmp_path):
    return build_people(tmp_path / "people.sqlite")


class Runner:
    """Runs script text against a database file and collects what Show Custom Dialog shows."""

    def __init__(self, db_path, base_dir=None):
        self.out: list[str] = []
        self.fm = Interpreter(file=db_path, on_dialog=lambda t, m: self.out.append(m), base_dir=base_dir)

    def __call__(self, text: str) -> list[str]:
        self.out.clear()
        self.fm.run_text(text)
        return list(self.out)

    @property
    def db(self):
        return self.fm.session.data


@pytest.fixture
def people(people_db, tmp_path):
    return Runner(people_db, base_dir=tmp_path)


@pytest.fixture
def qa(qa_db, tmp_path):
    return Runner(qa_db, base_dir=tmp_path)
