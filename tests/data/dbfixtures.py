"""Fixture databases for the data tests, built from code so that they never drift from the schema."""
from __future__ import annotations

from pathlib import Path

from fmscript.data import open_database
from fmscript.interpreter import Interpreter

SUPPORT_QA = [
    # Question, Answer, Status, Category, Priority
    ("How do I reset my password?", "Open Settings > Account and choose Reset Password.", "open", "Account", "2"),
    ("Where can I download invoices?", "Invoices are under Billing > History.", "closed", "Billing", "1"),
    ("Can I export my data?", "Yes: File > Export writes CSV or JSONL.", "open", "Data", "3"),
    ("如何更改语言？", "在“设置 > 语言”中选择。", "open", "Account", "1"),
]


def build_support_qa(path: Path) -> Path:
    """Support_QA (the spec's example 1) plus a one-record Global table, and the stored find of
    ``Perform Find [ Restore ]`` on the Support_QA layout: Status is exactly “open”."""
    db = open_database(path)
    db.create_table("Support_QA", [("Question", "text", False), ("Answer", "text", False),
                                   ("Status", "text", False), ("Category", "text", False),
                                   ("Priority", "number", False), ("Reviewer", "text", True)])
    db.create_table("Global", [("OpenAI_API_Key", "text", True), ("Fine_Tuned_Model", "text", True)])
    db.conn.executemany('INSERT INTO "Support_QA" (Question, Answer, Status, Category, Priority) '
                        "VALUES (?, ?, ?, ?, ?)", SUPPORT_QA)
    db.conn.execute('INSERT INTO "Global" DEFAULT VALUES')
    db.conn.execute("INSERT INTO fmscript_globals VALUES ('Global', 'OpenAI_API_Key', 1, 'sk-test-key')")
    db.conn.execute("INSERT INTO fmscript_globals VALUES ('Support_QA', 'Reviewer', 1, 'Ana')")
    db.store("finds", "Support_QA", "Support_QA::Status: ==open")
    db.close()
    return path


PEOPLE = [
    # Name, City, Age, Born, Notes, Email
    ("Ann Smith", "San Francisco", "34", "1990-01-15", "likes tea", "ann@example.com"),
    ("Bob Smithson", "New York", "45", "1979-06-30", "", "bob@example.com"),
    ("Carl Jones", "San Jose", "28", "1996-12-01", "tea and coffee", "carl@example.org"),
    ("Dana White", "new york", "45", "1979-03-03", "Coffee", ""),
    ("Eve Black", "Boston", "", "2001-07-04", "likes coffee", "eve@example.com"),
    ("Frank Smith", "Boston", "61", "", "tea", "frank@example.com"),
    ("Gus Grey", "SF", "7", "2017-02-28", "child", "gus@example.net"),
]


def build_people(path: Path) -> Path:
    """People with text, number and date fields for the find operators, and a Notes repetition field."""
    db = open_database(path)
    db.create_table("People", [("Name", "text", False), ("City", "text", False), ("Age", "number", False),
                               ("Born", "date", False), ("Notes", "text", False), ("Email", "text", False)])
    db.conn.executemany('INSERT INTO "People" VALUES (?, ?, ?, ?, ?, ?)',
                        [tuple(v if v != "" else None for v in row) for row in PEOPLE])
    db.add_field("People", "Tags", "text", repetitions=3)
    db.add_layout("People List", "People")
    db.store("sorts", "People", "People::Age descending; People::Name")
    db.close()
    return path


class ScriptRun:
    """An interpreter on the file at ``path``; calling it runs script text and returns what Show Custom Dialog
    showed."""

    def __init__(self, path):
        self.path = path
        self.out: list[str] = []
        self.fm = Interpreter(file=path, on_dialog=lambda t, m: self.out.append(m))

    @property
    def db(self):
        return self.fm.session.data

    def __call__(self, text: str) -> list[str]:
        self.out.clear()
        self.fm.run_text(text)
        return list(self.out)
