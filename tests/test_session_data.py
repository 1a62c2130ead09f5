"""The session's file before anything touches data: runtime.NoData is a DeferredDataLayer, so the interpreter,
the REPL and the steps use the protocol's members and never probe the object (issue 12, item 3)."""
from __future__ import annotations

import pytest

from fmscript import Interpreter
from fmscript.errors import DataError
from fmscript.data.database import Database
from fmscript.data.protocol import MEMBERS, DeferredDataLayer
from fmscript.script.runtime import NoData, Session


def quiet() -> Interpreter:
    return Interpreter(on_dialog=lambda t, m: None)


def test_the_placeholder_offers_the_protocol_itself():
    data = Session().data
    assert isinstance(data, NoData) and isinstance(data, DeferredDataLayer)
    assert all(hasattr(NoData, name) for name in MEMBERS)  # class members, not the __getattr__ fallback
    data.end_run(False)
    data.close()
    assert data.path() is None and data.opened() is None  # none of these opened a database


def test_a_script_without_data_opens_no_database_and_ends_without_one():
    fm = quiet()
    assert fm.run_text('Exit Script [ Get ( FileName ) & "|" & Get ( FilePath ) & "|" & Get ( FileSize ) ]') \
        == "Untitled||0"
    assert fm.database is None and fm.session.data.opened() is None
    fm.close()
    assert fm.database is None


def test_touching_data_opens_one_database_for_the_session():
    fm = quiet()
    placeholder = fm.session.data
    assert fm.run_text("Exit Script [ Get ( FoundCount ) ]") == "0"
    db = fm.database
    assert isinstance(db, Database) and db.opened() is db
    assert fm.session.data is db and placeholder.opened() is db  # a caller still holding it sees the same file
    assert placeholder.contexts is db.contexts  # names outside the protocol are the database's own
    fm.close()
    assert fm.database is None and isinstance(fm.session.data, NoData)


def test_the_end_of_each_run_commits_or_reverts_through_the_protocol():
    fm = quiet()
    fm.open_database(None)
    fm.database.create_table("T", [("Name", "text", False)])
    fm.run_text('Go to Layout [ "T" ]\nNew Record/Request\nSet Field [ T::Name ; "kept" ]')
    with pytest.raises(DataError, match="105"):
        fm.run_text('New Record/Request\nSet Field [ T::Name ; "gone" ]\nGo to Layout [ "Missing" ]')
    assert fm.database.select('SELECT "Name" FROM "T"') == [("kept",)]
