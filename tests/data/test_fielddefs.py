"""Field options as FileMaker defines them (issue 15, item 4): auto-enter, calculation and summary fields,
value lists, kept in the file and made with ``fmscript db`` or from Python."""
from __future__ import annotations

import re
import sqlite3

import pytest

from fmscript.cli import main
from fmscript.data import open_database
from fmscript.errors import FMScriptError

from .dbfixtures import ScriptRun


class Run(ScriptRun):
    def rows(self, table: str, cols: str = "*"):
        return sqlite3.connect(self.path).execute(f'SELECT {cols} FROM "{table}" ORDER BY rowid').fetchall()


@pytest.fixture
def inv(tmp_path):
    r = Run(tmp_path / "inv.sqlite")
    r.db.create_table("Invoices", [("ID", "text", False), ("CustomerID", "text", False), ("Customer", "text", False),
                                   ("Qty", "number", False), ("Price", "number", False), ("Region", "text", False)])
    r.db.create_table("Customers", [("ID", "text", False), ("Name", "text", False)])
    r.db.conn.executemany('INSERT INTO "Customers" VALUES (?, ?)', [("C1", "Acme"), ("C2", "Globex")])
    return r


def test_serial_numbers_count_up_from_the_text_and_set_next_serial_value_moves_them(inv):
    inv.db.define_field("Invoices", "ID", {"auto": {"serial": {"next": "INV0098", "increment": 1}}})
    inv("""
New Record/Request
New Record/Request
Set Next Serial Value [ Invoices::ID ; "INV0500" ]
New Record/Request
Revert Record/Request
New Record/Request
Commit Records/Requests
""")
    # The reverted record used INV0500; FileMaker does not give a serial number back.
    assert [r[0] for r in inv.rows("Invoices", "ID")] == ["INV0098", "INV0099", "INV0501"]
    again = Run(inv.path)  # kept in the file
    again("New Record/Request")
    assert again.rows("Invoices", "ID")[-1] == ("INV0502",)


def test_a_duplicate_gets_a_new_serial_and_keeps_its_copied_values(inv):
    inv.db.define_field("Invoices", "ID", {"auto": {"serial": {"next": "1"}}})
    inv.db.define_field("Invoices", "Region", {"auto": {"data": "north"}})
    inv("""
New Record/Request
Set Field [ Invoices::Region ; "south" ]
Duplicate Record/Request
Commit Records/Requests
""")
    assert inv.rows("Invoices", "ID, Region") == [("1", "south"), ("2", "south")]


def test_serial_on_commit_is_given_when_the_record_is_committed(inv):
    inv.db.define_field("Invoices", "ID", {"auto": {"serial": {"next": "7", "generate": "commit"}}})
    out = inv("""
New Record/Request
Show Custom Dialog [ "[" & Invoices::ID & "]" ]
Commit Records/Requests
Show Custom Dialog [ Invoices::ID ]
""")
    assert out == ["[]", "7"]


def test_creation_and_modification_stamps_and_account(inv):
    for name, opt in (("Made", {"creation": "timestamp"}), ("Changed", {"modification": "timestamp"}),
                      ("By", {"creation": "account"}), ("Day", {"creation": "date"})):
        inv.db.define_field("Invoices", name, {"auto": opt}, ftype="date" if name == "Day" else
                            "timestamp" if name in ("Made", "Changed") else "text")
    inv("""
New Record/Request
Set Field [ Invoices::Qty ; 1 ]
Commit Records/Requests
""")
    made, changed, by, day = inv.rows("Invoices", "Made, Changed, By, Day")[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", made) and changed and by == "Admin"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", day)
    inv.db.conn.execute("UPDATE Invoices SET Changed = '2000-01-01 00:00:00'")
    inv("Set Field [ Invoices::Qty ; 2 ]")
    assert inv.rows("Invoices", "Changed")[0][0] != "2000-01-01 00:00:00"
    assert inv.rows("Invoices", "Made")[0][0] == made


def test_auto_enter_calculation_replaces_or_keeps_an_existing_value(inv):
    inv.db.define_field("Invoices", "Label", {"auto": {"calc": "Upper ( Region )"}})
    inv.db.define_field("Invoices", "Kept", {"auto": {"calc": "If ( IsEmpty ( Region ) ; \"\" ; Region & \"!\" )",
                                                      "replace": False}})
    inv("""
New Record/Request
Set Field [ Invoices::Region ; "north" ]
Set Field [ Invoices::Region ; "south" ]
Commit Records/Requests
""")
    # "Kept" was empty when Region was first set, so it got a value; the second change keeps it.
    assert inv.rows("Invoices", "Label, Kept") == [("SOUTH", "north!")]


def test_lookup_copies_from_the_first_matching_record_and_keeps_the_value_without_a_match(inv):
    inv.db.define_field("Invoices", "Customer", {"auto": {"lookup": {"match": "CustomerID", "occurrence": "Customers",
                                                                     "other_match": "ID", "copy": "Name"}}})
    inv("""
New Record/Request
Set Field [ Invoices::CustomerID ; "C2" ]
Set Field [ Invoices::CustomerID ; "nobody" ]
New Record/Request
Set Field [ Invoices::CustomerID ; "C1" ]
Set Field [ Invoices::Customer ; Invoices::Customer & " Inc" ]
Commit Records/Requests
""")
    assert inv.rows("Invoices", "CustomerID, Customer") == [("nobody", "Globex"), ("C1", "Acme Inc")]


def test_calculation_fields_stored_and_unstored_and_they_cannot_be_set(inv):
    inv.db.define_field("Invoices", "Total", {"kind": "calculation", "calc": "Qty * Price"}, ftype="number")
    inv.db.define_field("Invoices", "Live", {"kind": "calculation", "calc": "Total & \"/\" & Get ( FoundCount )",
                                             "stored": False})
    out = inv("""
New Record/Request
Set Field [ Invoices::Qty ; 3 ]
Set Field [ Invoices::Price ; 2.5 ]
Show Custom Dialog [ Invoices::Total & " " & Invoices::Live ]
Set Error Capture [ On ]
Set Field [ Invoices::Total ; 1 ]
Show Custom Dialog [ Get ( LastError ) ]
""")
    assert out == ["7.5 7.5/1", "201"]
    assert inv.rows("Invoices", "Total, Live") == [("7.5", None)]  # unstored: never written


def test_a_stored_calculation_defined_later_is_computed_for_existing_records(inv):
    inv("""
New Record/Request
Set Field [ Invoices::Qty ; 4 ]
Set Field [ Invoices::Price ; 5 ]
""")
    inv.db.define_field("Invoices", "Total", {"kind": "calculation", "calc": "Qty * Price"}, ftype="number")
    assert inv.rows("Invoices", "Total") == [("20",)]


def test_summary_fields_and_getsummary_by_break_field(inv):
    inv.db.define_field("Invoices", "Sum", {"kind": "summary", "summary": {"function": "total", "of": "Qty"}},
                        ftype="number")
    inv.db.define_field("Invoices", "N", {"kind": "summary", "summary": {"function": "count", "of": "Qty"}},
                        ftype="number")
    inv.db.define_field("Invoices", "Avg", {"kind": "summary", "summary": {"function": "average", "of": "Qty"}},
                        ftype="number")
    inv.db.define_field("Invoices", "Big", {"kind": "summary", "summary": {"function": "maximum", "of": "Qty"}},
                        ftype="number")
    rows = [("north", 1), ("south", 2), ("north", 3), ("south", 10)]
    inv.db.conn.executemany('INSERT INTO "Invoices" (Region, Qty) VALUES (?, ?)', rows)
    out = inv("""
Show All Records
Sort Records [ Restore ; With dialog: Off ; "Invoices::Region" ]
Show Custom Dialog [ Invoices::Sum & " " & Invoices::N & " " & Invoices::Avg & " " & Invoices::Big ]
Show Custom Dialog [ GetSummary ( Invoices::Sum ; Invoices::Region ) & " " & GetSummary ( Invoices::Sum ; Invoices::Sum ) ]
Go to Record/Request/Page [ Last ]
Show Custom Dialog [ GetSummary ( Invoices::Sum ; Invoices::Region ) ]
Enter Find Mode [ Pause: Off ]
Set Field [ Invoices::Region ; "south" ]
Perform Find [ ]
Show Custom Dialog [ Invoices::Sum ]
""")
    assert out == ["16 4 4 10", "4 16", "12", "12"]


def test_a_summary_of_an_unstored_calculation(inv):
    inv.db.define_field("Invoices", "Line", {"kind": "calculation", "calc": "Qty * 2", "stored": False})
    inv.db.define_field("Invoices", "Lines", {"kind": "summary", "summary": {"function": "total", "of": "Line"}},
                        ftype="number")
    inv.db.conn.executemany('INSERT INTO "Invoices" (Qty) VALUES (?)', [("1",), ("4",)])
    assert inv("Show All Records\nShow Custom Dialog [ Invoices::Lines ]") == ["10"]


def test_value_lists_of_custom_values_and_of_a_field(inv):
    inv.db.define_value_list("Regions", ["north", "south", "east"])
    inv.db.define_value_list("Names", None, "Customers", "Name")
    inv.db.conn.execute("INSERT INTO Customers VALUES ('C3', 'acme')")
    out = inv("""
Show Custom Dialog [ Substitute ( ValueListItems ( Get ( FileName ) ; "Regions" ) ; ¶ ; "," ) ]
Show Custom Dialog [ Substitute ( ValueListItems ( "" ; "Names" ) ; ¶ ; "," ) ]
Show Custom Dialog [ Substitute ( ValueListNames ( "" ) ; ¶ ; "," ) ]
Show Custom Dialog [ ValueListItems ( "" ; "Nope" ) ]
""")
    assert out == ["north,south,east", "Acme,Globex", "Regions,Names", "?"]


def test_bad_definitions_are_refused_naming_what_is_wrong(inv):
    db = inv.db
    cases = [
        ({"kind": "summary", "summary": {"function": "total", "of": "Nope"}}, 102, "Nope"),
        ({"kind": "summary", "summary": {"function": "median", "of": "Qty"}}, 1708, "median"),
        ({"auto": {"lookup": {"match": "CustomerID", "occurrence": "Nowhere", "other_match": "ID", "copy": "Name"}}},
         106, "Nowhere"),
        ({"auto": {"lookup": {"match": "CustomerID", "occurrence": "Customers", "other_match": "ID", "copy": "X"}}},
         102, "Customers::X"),
        ({"validate": {"value_list": "Missing"}}, 108, "Missing"),
        ({"kind": "calculation", "calc": ""}, 1708, "needs a calculation"),
    ]
    for opts, code, word in cases:
        with pytest.raises(FMScriptError) as e:
            db.define_field("Invoices", "Region", opts)
        assert e.value.code == code and word in e.value.message
    assert db.field_options("Invoices", "Region") is None  # nothing was stored


def test_definitions_live_in_versioned_metadata_tables(inv):
    inv.db.define_field("Invoices", "ID", {"auto": {"serial": {"next": "1"}}})
    con = sqlite3.connect(inv.path)
    assert con.execute("SELECT value FROM fmscript_meta WHERE key = 'fielddefs_version'").fetchone() == ("1",)
    assert con.execute("SELECT table_name, field_name FROM fmscript_field_options").fetchall() == [("Invoices", "ID")]


def test_a_plain_file_without_the_tables_works_unchanged(tmp_path):
    path = tmp_path / "plain.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE P (Name TEXT)")
    con.execute("INSERT INTO P VALUES ('x')")
    con.commit()
    r = Run(path)
    assert r('Show Custom Dialog [ P::Name ]') == ["x"]
    names = {n for (n,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "fmscript_field_options" not in names


def run_cli(capsys, *args):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_db_commands_define_fields_a_script_uses(tmp_path, capsys):
    db = str(tmp_path / "app.sqlite")
    d = open_database(db)
    d.create_table("Inv", [("Qty", "number", False), ("Price", "number", False), ("Status", "text", False)])
    d.conn.execute("INSERT INTO Inv VALUES ('2', '3', 'Open')")
    d.close()
    for args in (("calc-field", "Inv", "Total", "Qty * Price", "--type", "number"),
                 ("summary-field", "Inv", "Sum", "--function", "total", "--of", "Total"),
                 ("value-list", "Statuses", "--values", "Open", "Paid"),
                 ("validate", "Inv", "Status", "--value-list", "Statuses", "--not-empty"),
                 ("auto-enter", "Inv", "No", "--serial", "100")):
        rc, _, err = run_cli(capsys, "db", args[0], "-f", db, *args[1:])
        assert rc == 0, err
    rc, out, _ = run_cli(capsys, "db", "schema", "-f", db)
    assert '"calc": "Qty * Price"' in out and "value list Statuses: Open; Paid" in out
    assert sqlite3.connect(db).execute("SELECT Total FROM Inv").fetchall() == [("6",)]  # computed by the CLI
    rc, out, _ = run_cli(capsys, "db", "field-options", "-f", db, "Inv", "Sum")
    assert rc == 0 and '"function": "total"' in out
    rc, _, err = run_cli(capsys, "db", "validate", "-f", db, "Inv", "Status", "--value-list", "Nope")
    assert rc != 0 and "error [108]" in err and "Nope" in err and "Traceback" not in err
    script = tmp_path / "s.fmscript"
    script.write_text('New Record/Request\nSet Field [ Inv::Qty ; 1 ]\nSet Field [ Inv::Price ; 4 ]\n'
                      'Set Field [ Inv::Status ; "Paid" ]\nShow Custom Dialog [ Inv::No & " " & Inv::Sum ]\n',
                      encoding="utf-8")
    rc, out, err = run_cli(capsys, "run", str(script), "-f", db)
    assert (rc, out) == (0, "100 10\n"), err


def test_import_performs_auto_enter_and_always_validation(inv, tmp_path):
    inv.db.define_field("Invoices", "ID", {"auto": {"serial": {"next": "1"}}})
    inv.db.define_field("Invoices", "Total", {"kind": "calculation", "calc": "Qty * Price"}, ftype="number")
    inv.db.define_field("Invoices", "Qty", {"validate": {"range": ["1", "9"]}})
    (tmp_path / "good.csv").write_text("Qty,Price,Total\n2,5,999\n3,1,\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("Qty,Price\n4,1\n40,1\n", encoding="utf-8")
    inv.fm.session.base_dir = tmp_path
    inv('Import Records [ With dialog: Off ; "good.csv" ; Target: "Invoices" ]')
    assert inv.rows("Invoices", "ID, Qty, Total") == [("1", "2", "10"), ("2", "3", "3")]
    with pytest.raises(FMScriptError) as e:
        inv('Import Records [ With dialog: Off ; "bad.csv" ; Target: "Invoices" ]')
    assert e.value.code == 503 and "record 2 of bad.csv" in e.value.message
    assert len(inv.rows("Invoices")) == 2  # one bad record imports nothing


def test_a_field_calculation_reads_globals_and_repetitions_of_its_record(inv):
    inv.db.add_field("Invoices", "Rate", "number", is_global=True)
    inv.db.add_field("Invoices", "Tags", "text", repetitions=2)
    inv.db.define_field("Invoices", "Due", {"kind": "calculation", "calc": "Qty * Rate & \" \" & Tags[2]",
                                            "stored": False})
    out = inv("""
Set Field [ Invoices::Rate ; 3 ]
New Record/Request
Set Field [ Invoices::Qty ; 2 ]
Set Field [ Invoices::Tags[2] ; "b" ]
Show Custom Dialog [ Invoices::Due ]
""")
    assert out == ["6 b"]


def test_relookup_field_contents_copies_again_for_the_found_set(inv):
    inv.db.define_field("Invoices", "Customer", {"auto": {"lookup": {"match": "CustomerID", "occurrence": "Customers",
                                                                     "other_match": "ID", "copy": "Name"}}})
    inv("""
New Record/Request
Set Field [ Invoices::CustomerID ; "C1" ]
New Record/Request
Set Field [ Invoices::CustomerID ; "C2" ]
Commit Records/Requests
""")
    inv.db.conn.execute("UPDATE Customers SET Name = Name || ' Ltd'")
    inv("Show All Records\nRelookup Field Contents [ With dialog: Off ; Invoices::CustomerID ]")
    assert inv.rows("Invoices", "Customer") == [("Acme Ltd",), ("Globex Ltd",)]
