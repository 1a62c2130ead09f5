from __future__ import annotations

import pytest

from fmscript.repl.session import ReplSession


class Captured:
    """A REPL session whose output is collected as (kind, text) pairs."""

    def __init__(self, **kw):
        self.lines: list[tuple[str, str]] = []
        self.repl = ReplSession(out=lambda text, kind: self.lines.append((kind, text)), **kw)

    def __call__(self, text: str) -> list[tuple[str, str]]:
        start = len(self.lines)
        self.repl.execute(text)
        return self.lines[start:]

    def text(self, text: str) -> str:
        return "\n".join(t for _, t in self(text))


@pytest.fixture
def repl():
    return Captured()


@pytest.fixture
def people_db(tmp_path):
    """A file with a Products table (3 records) and a Global table holding a key."""
    from fmscript.data import open_database
    from fmscript.interpreter import Interpreter

    path = tmp_path / "app.sqlite"
    db = open_database(path)
    db.create_table("Products", [("Name", "text", False), ("Price", "number", False),
                                 ("Notes", "text", False)])
    db.create_table("Global", [("OpenAI_API_Key", "text", True)])
    db.close()
    fm = Interpreter(file=path, on_dialog=lambda t, m: None)
    fm.run_text('Go to Layout [ “Products” ]\n'
                'New Record/Request\nSet Field [ Products::Name ; "Tea" ]\nSet Field [ Products::Price ; 3.5 ]\n'
                'New Record/Request\nSet Field [ Products::Name ; "Coffee" ]\nSet Field [ Products::Price ; 4 ]\n'
                'New Record/Request\nSet Field [ Products::Name ; "Cocoa" ]\nSet Field [ Products::Price ; 5 ]\n'
                'Commit Records/Requests [ With dialog: Off ]\n'
                'Set Field [ Global::OpenAI_API_Key ; "sk-test-abcdefghijklmnop1234" ]\n'
                'Commit Records/Requests [ With dialog: Off ]\n')
    fm.session.data.close()
    return path
