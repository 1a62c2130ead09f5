"""Calculation fields "Evaluate this calculation from the context of" (issue 15): a calculation of a table with
several occurrences is evaluated from the one chosen, whose place in the graph decides what ``Occ::Field`` means,
whatever layout the script is on.  Claris's own example (Colors and Shapes) and an invoice with two customers."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fmscript.cli import main
from fmscript.data import open_database
from fmscript.errors import E_INVALID_PARAMETER, E_TABLE_MISSING, FMScriptError
from fmscript.fmxml.importer import import_xml

from .dbfixtures import ScriptRun

FIXTURES = Path(__file__).parent.parent / "fixtures" / "filemaker_xml"


class Run(ScriptRun):
    def __init__(self, path):
        super().__init__(path)
        self.db.attach(self.fm.session)


def show(expr: str) -> str:
    return f'Show Custom Dialog [ "x" ; {expr} ]\n'


# -- Claris's example ("Choosing the evaluation context for a calculation field") ---------------------------------
@pytest.fixture
def colors(tmp_path):
    """Colors under two occurrences, related to Shapes by style number (Color Table 1) and by weight (Color
    Table 2); one color (style 100, weight 2) and Claris's three shapes."""
    r = Run(tmp_path / "colors.sqlite")
    db = r.db
    db.create_table("Colors", [("Color", "text", False), ("StyleNumber", "number", False),
                               ("Weight", "number", False)])
    db.create_table("Shapes", [("Shape", "text", False), ("StyleNumber", "number", False),
                               ("Weight", "number", False), ("Price", "number", False)])
    db.add_occurrence("Color Table 1", "Colors")
    db.add_occurrence("Color Table 2", "Colors")
    db.add_occurrence("Shape Table", "Shapes")
    db.relate(["Color Table 1::StyleNumber = Shape Table::StyleNumber"])
    db.relate(["Color Table 2::Weight = Shape Table::Weight"])
    db.add_layout("Color Table 2", "Color Table 2")
    db.add_layout("Shape Table", "Shape Table")
    db.conn.execute("INSERT INTO Colors VALUES ('red', 100, 2)")
    db.conn.executemany("INSERT INTO Shapes VALUES (?, ?, ?, ?)",
                        [("circle", 100, 5, 2), ("square", 100, 2, 6), ("rectangle", 200, 2, 9)])
    db.conn.commit()
    for name, ctx in (("Result1", "Color Table 1"), ("Result2", "Color Table 2")):
        db.define_field("Colors", name, {"kind": "calculation", "calc": "Sum ( Shape Table::Price )",
                                         "stored": False, "context": ctx}, ftype="number")
    return r


def test_claris_example_the_same_formula_gives_each_contexts_answer_on_any_layout(colors):
    expr = 'Colors::Result1 & " " & Colors::Result2'
    # Claris: 800 from Color Table 1 (circle and square share style 100), 1500 from Color Table 2 (square and
    # rectangle weigh 2); the layout's occurrence changes nothing.
    assert colors('Go to Layout [ "Colors" ]\n' + show(expr)) == ["8 15"]
    assert colors('Go to Layout [ "Color Table 2" ]\n' + show('Color Table 2::Result1 & " " & '
                                                                'Color Table 2::Result2')) == ["8 15"]
    # From a shape's layout, the color related by style number is evaluated from its own contexts all the same.
    assert colors('Go to Layout [ "Shape Table" ]\n' + show('Color Table 1::Result1 & " " & '
                                                               'Color Table 1::Result2')) == ["8 15"]


def test_a_find_on_an_unstored_calculation_uses_its_context(colors):
    colors.db.conn.execute("INSERT INTO Colors (Color, StyleNumber, Weight) VALUES ('blue', 200, 5)")  # style: 9; weight: the circle, 2
    colors.db.conn.commit()
    out = colors('Go to Layout [ "Colors" ]\nEnter Find Mode [ Pause: Off ]\nSet Field [ Colors::Result1 ; 9 ]\n'
                 'Perform Find\n' + show('Get ( FoundCount ) & " " & Colors::Color')
                 + 'Enter Find Mode [ Pause: Off ]\nSet Field [ Colors::Result2 ; 2 ]\nPerform Find\n'
                 + show('Get ( FoundCount ) & " " & Colors::Color'))
    assert out == ["1 blue", "1 blue"]


# -- an invoice billed to one customer and shipped to another ----------------------------------------------------
@pytest.fixture
def invoices(tmp_path):
    """Invoices under two occurrences: Invoices related to Customers by CustomerID, "Invoices 2" related to
    "Customers 2" by ShipToID; "Same Customer" is a self-join of Invoices by CustomerID."""
    path = tmp_path / "inv.sqlite"
    db = open_database(path)
    db.create_table("Customers", [("ID", "number", False), ("Name", "text", False), ("City", "text", False)])
    db.create_table("Invoices", [("ID", "number", False), ("CustomerID", "number", False),
                                 ("ShipToID", "number", False), ("Amount", "number", False)])
    db.add_occurrence("Invoices 2", "Invoices")
    db.add_occurrence("Customers 2", "Customers")
    db.add_occurrence("Same Customer", "Invoices")
    db.relate(["Invoices::CustomerID = Customers::ID"])
    db.relate(["Invoices 2::ShipToID = Customers 2::ID"])
    db.relate(["Invoices::CustomerID = Same Customer::CustomerID"])
    db.add_layout("Invoices 2", "Invoices 2")
    db.conn.executemany("INSERT INTO Customers VALUES (?, ?, ?)",
                        [(1, "Acme", "Boston"), (2, "Globex", "Paris"), (3, "Initech", "Austin")])
    db.conn.executemany("INSERT INTO Invoices VALUES (?, ?, ?, ?)", [(10, 1, 2, 5), (11, 1, 3, 7), (12, 2, 2, 1)])
    db.conn.commit()
    db.close()
    return path


def run_cli(capsys, *args):
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def column(path, sql):
    return [r[0] for r in sqlite3.connect(path).execute(sql)]


def test_cli_context_stored_calculation_is_recomputed_when_its_key_changes(invoices, capsys):
    f = str(invoices)
    for args in (("calc-field", "Invoices", "ShipName", "Customers 2::Name", "--context", "Invoices 2"),
                 ("calc-field", "Invoices", "BillName", "Customers 2::Name & Customers::Name")):
        rc, _, err = run_cli(capsys, "db", args[0], "-f", f, *args[1:])
        assert rc == 0, err
    # Worked out by the command for every record: Customers 2 is reached from Invoices 2 (by ShipToID); from the
    # default context (Invoices) it is unrelated, and Customers is the bill-to customer.
    assert column(f, "SELECT ShipName FROM Invoices ORDER BY rowid") == ["Globex", "Initech", "Globex"]
    assert column(f, "SELECT BillName FROM Invoices ORDER BY rowid") == ["Acme", "Acme", "Globex"]
    rc, out, _ = run_cli(capsys, "db", "field-options", "-f", f, "Invoices", "ShipName")
    assert rc == 0 and json.loads(out)["context"] == "Invoices 2"
    # Redefining the formula keeps the context it had.
    rc, _, err = run_cli(capsys, "db", "calc-field", "-f", f, "Invoices", "ShipName", "Customers 2::City")
    assert rc == 0, err
    assert column(f, "SELECT ShipName FROM Invoices ORDER BY rowid") == ["Paris", "Austin", "Paris"]
    r = Run(invoices)
    r('Go to Layout [ "Invoices" ]\nSet Field [ Invoices::ShipToID ; 1 ]\nCommit Records/Requests [ With dialog: Off ]')
    assert column(f, "SELECT ShipName FROM Invoices ORDER BY rowid") == ["Boston", "Austin", "Paris"]


def test_unstored_and_auto_enter_calculations_follow_their_context_not_the_layouts(invoices):
    r = Run(invoices)
    db = r.db
    db.define_field("Invoices", "ShipTo", {"kind": "calculation", "calc": "Customers 2::Name", "stored": False,
                                           "context": "invoices 2"})  # spelt as the graph spells it
    db.define_field("Invoices", "Bill", {"kind": "calculation", "calc": "Customers::Name", "stored": False})
    db.define_field("Invoices", "ShipNote", {"auto": {"calc": 'ShipToID & " " & Customers 2::City',
                                                      "context": "Invoices 2"}})
    assert db.field_options("Invoices", "ShipTo").context == "Invoices 2"
    out = r('Go to Layout [ "Invoices 2" ]\n' + show('Invoices 2::ShipTo & " " & Invoices 2::Bill')
            + 'Go to Layout [ "Customers" ]\n' + show('Invoices::ShipTo & " " & Invoices::Bill')
            + 'Go to Layout [ "Invoices" ]\nNew Record/Request\nSet Field [ Invoices::CustomerID ; 2 ]\n'
            'Set Field [ Invoices::ShipToID ; 3 ]\nCommit Records/Requests [ With dialog: Off ]\n'
            + show('Invoices::ShipNote & " / " & Invoices::ShipTo & " / " & Invoices::Bill'))
    # On the Invoices 2 layout the bill-to name still comes from Invoices' relationship; on Customers (Acme's first
    # invoice, 10) both come from the invoice's own record.  The new invoice's auto-enter follows Invoices 2.
    assert out == ["Globex Acme", "Globex Acme", "3 Austin / Initech / Globex"]


def test_another_occurrence_of_the_table_related_to_the_context_is_a_related_record(invoices):
    r = Run(invoices)
    r.db.define_field("Invoices", "Others", {"kind": "calculation", "stored": False,
                                             "calc": 'Sum ( Same Customer::Amount ) & " " & Same Customer::ID'})
    r.db.define_field("Invoices", "Mine", {"kind": "calculation", "stored": False, "context": "Invoices 2",
                                           "calc": 'Invoices::Amount & " " & Invoices 2::Amount'})
    out = r('Go to Layout [ "Invoices" ]\nGo to Record/Request/Page [ 2 ]\n' + show('Invoices::Others & " | " & '
                                                                                  'Invoices::Mine'))
    # Invoice 11: its customer's invoices 10 and 11 (first: 10); from Invoices 2, Invoices is not related, so it
    # names the record itself.
    assert out == ["12 10 | 7 7"]


@pytest.mark.parametrize("context, code, words", [
    ("Customers 2", E_TABLE_MISSING, "an occurrence of Customers"),
    ("Nowhere", E_TABLE_MISSING, "not a table occurrence (the occurrences of Invoices: Invoices, Invoices 2, "
                                 "Same Customer)"),
])
def test_a_context_that_is_not_an_occurrence_of_the_table_is_refused_and_nothing_is_written(invoices, context, code,
                                                                                           words):
    r = Run(invoices)
    before = sqlite3.connect(invoices).execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    with pytest.raises(FMScriptError) as e:
        r.db.define_field("Invoices", "New", {"kind": "calculation", "calc": "1", "context": context})
    assert e.value.code == code and words in e.value.message
    with pytest.raises(FMScriptError) as e:
        r.db.define_field("Invoices", "ID", {"auto": {"calc": "1", "context": context}})
    assert e.value.code == code
    r.db.close()
    assert sqlite3.connect(invoices).execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before


def test_a_context_without_a_calculation_is_refused(invoices, capsys):
    r = Run(invoices)
    with pytest.raises(FMScriptError) as e:
        r.db.define_field("Invoices", "Amount", {"context": "Invoices 2"})
    assert e.value.code == E_INVALID_PARAMETER and "not a calculation field" in e.value.message
    r.db.close()
    rc, _, err = run_cli(capsys, "db", "auto-enter", "-f", str(invoices), "Invoices", "ID", "--serial", "1",
                         "--context", "Invoices 2")
    assert rc != 0 and "--context goes with --calc" in err and "Traceback" not in err
    rc, _, err = run_cli(capsys, "db", "calc-field", "-f", str(invoices), "Invoices", "X", "1", "--context",
                         "Customers")
    assert rc != 0 and "error [106]" in err and "Traceback" not in err
    assert "X" not in [c[1] for c in sqlite3.connect(invoices).execute("PRAGMA table_info(Invoices)")]


def test_a_context_whose_occurrence_is_gone_falls_back_to_the_tables_own(invoices):
    r = Run(invoices)
    r.db.define_field("Invoices", "Who", {"kind": "calculation", "calc": 'Customers::Name & Customers 2::Name',
                                          "stored": False, "context": "Invoices 2"})
    assert r('Go to Layout [ "Invoices" ]\n' + show("Invoices::Who")) == ["Globex"]
    r.db.close()
    c = sqlite3.connect(invoices)  # fmscript has no command that deletes an occurrence; another tool did
    c.execute("DELETE FROM fmscript_criteria WHERE relationship IN (SELECT id FROM fmscript_relationships WHERE "
              "'Invoices 2' IN (left_occurrence, right_occurrence))")
    c.execute("DELETE FROM fmscript_relationships WHERE 'Invoices 2' IN (left_occurrence, right_occurrence)")
    c.execute("DELETE FROM fmscript_occurrences WHERE occurrence = 'Invoices 2'")
    c.commit()
    r = Run(invoices)
    assert r('Go to Layout [ "Invoices" ]\n' + show("Invoices::Who")) == ["Acme"]
    assert r.db.field_options("Invoices", "Who").context == "Invoices 2"  # kept: adding it again restores it


# -- import-xml ---------------------------------------------------------------------------------------------------
COLORS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<FMSaveAsXML version="2.2.3.0" Source="22.0.1" File="Colors.fmp12" locale="English"><Structure membercount="1">
<AddAction membercount="4">
 <BaseTableCatalog membercount="2"><BaseTable id="129" name="Colors"/><BaseTable id="130" name="Shapes"/></BaseTableCatalog>
 <TableOccurrenceCatalog membercount="3">
  <TableOccurrence id="1" name="Color Table 1" type="Local"><BaseTableSourceReference><BaseTableReference id="129" name="Colors"/></BaseTableSourceReference></TableOccurrence>
  <TableOccurrence id="2" name="Color Table 2" type="Local"><BaseTableSourceReference><BaseTableReference id="129" name="Colors"/></BaseTableSourceReference></TableOccurrence>
  <TableOccurrence id="3" name="Shape Table" type="Local"><BaseTableSourceReference><BaseTableReference id="130" name="Shapes"/></BaseTableSourceReference></TableOccurrence>
 </TableOccurrenceCatalog>
 <FieldsForTables membercount="2">
  <FieldCatalog><BaseTableReference id="129" name="Colors"/><ObjectList membercount="5">
   <Field id="1" name="StyleNumber" fieldtype="Normal" datatype="Number"><Storage global="False" maxRepetitions="1"/></Field>
   <Field id="2" name="Weight" fieldtype="Normal" datatype="Number"><Storage global="False" maxRepetitions="1"/></Field>
   <Field id="3" name="Result1" fieldtype="Calculated" datatype="Number"><Storage storeCalculationResults="False" global="False" maxRepetitions="1"/>
    <Calculation><TableOccurrenceReference id="1" name="Color Table 1"/><Text>Sum ( Shape Table::Price )</Text></Calculation></Field>
   <Field id="4" name="Result2" fieldtype="Calculated" datatype="Number"><Storage storeCalculationResults="False" global="False" maxRepetitions="1"/>
    <Calculation><TableOccurrenceReference id="2" name="Color Table 2"/><Text>Sum ( Shape Table::Price )</Text></Calculation></Field>
   <Field id="5" name="Count2" fieldtype="Normal" datatype="Number"><Storage global="False" maxRepetitions="1"/>
    <AutoEnter type="Calculated" overwriteExisting="True" alwaysEvaluate="False"><Calculated><Calculation>
     <TableOccurrenceReference id="2" name="Color Table 2"/><Text>Weight + Count ( Shape Table::Price )</Text></Calculation></Calculated></AutoEnter></Field>
  </ObjectList></FieldCatalog>
  <FieldCatalog><BaseTableReference id="130" name="Shapes"/><ObjectList membercount="3">
   <Field id="1" name="StyleNumber" fieldtype="Normal" datatype="Number"><Storage global="False" maxRepetitions="1"/></Field>
   <Field id="2" name="Weight" fieldtype="Normal" datatype="Number"><Storage global="False" maxRepetitions="1"/></Field>
   <Field id="3" name="Price" fieldtype="Normal" datatype="Number"><Storage global="False" maxRepetitions="1"/></Field>
  </ObjectList></FieldCatalog>
 </FieldsForTables>
 <RelationshipCatalog membercount="2">
  <Relationship id="1"><LeftTable><TableOccurrenceReference id="1" name="Color Table 1"/></LeftTable><RightTable><TableOccurrenceReference id="3" name="Shape Table"/></RightTable>
   <JoinPredicateList membercount="1"><JoinPredicate type="Equal">
    <LeftField><FieldReference id="1" name="StyleNumber"><TableOccurrenceReference id="1" name="Color Table 1"/></FieldReference></LeftField>
    <RightField><FieldReference id="1" name="StyleNumber"><TableOccurrenceReference id="3" name="Shape Table"/></FieldReference></RightField>
   </JoinPredicate></JoinPredicateList></Relationship>
  <Relationship id="2"><LeftTable><TableOccurrenceReference id="2" name="Color Table 2"/></LeftTable><RightTable><TableOccurrenceReference id="3" name="Shape Table"/></RightTable>
   <JoinPredicateList membercount="1"><JoinPredicate type="Equal">
    <LeftField><FieldReference id="2" name="Weight"><TableOccurrenceReference id="2" name="Color Table 2"/></FieldReference></LeftField>
    <RightField><FieldReference id="2" name="Weight"><TableOccurrenceReference id="3" name="Shape Table"/></FieldReference></RightField>
   </JoinPredicate></JoinPredicateList></Relationship>
 </RelationshipCatalog>
</AddAction></Structure></FMSaveAsXML>
"""


def test_import_xml_keeps_each_calculations_context(tmp_path):
    (tmp_path / "colors.xml").write_text(COLORS_XML, encoding="utf-8")
    warnings: list[str] = []
    import_xml(tmp_path / "colors.xml", tmp_path / "colors.sqlite", tmp_path / "scripts", warnings.append)
    assert warnings == []
    r = Run(tmp_path / "colors.sqlite")
    assert r.db.field_options("Colors", "Result2").context == "Color Table 2"
    assert r.db.field_options("Colors", "Count2").auto["context"] == "Color Table 2"
    r.db.conn.executemany("INSERT INTO Shapes VALUES (?, ?, ?)", [(100, 5, 2), (100, 2, 6), (200, 2, 9)])
    r.db.conn.commit()
    out = r('Go to Layout [ "Colors" ]\nNew Record/Request\nSet Field [ Colors::StyleNumber ; 100 ]\n'
            'Set Field [ Colors::Weight ; 2 ]\nCommit Records/Requests [ With dialog: Off ]\n'
            + show('Colors::Result1 & " " & Colors::Result2 & " " & Colors::Count2'))
    assert out == ["8 15 4"]  # Claris's answers; 2 + the two shapes weighing 2


def test_a_filemaker_export_names_the_context_of_each_calculation(tmp_path):
    import_xml(FIXTURES / "ooe-saxml-2.2.3.0-trimmed.xml", tmp_path / "ooe.sqlite", tmp_path / "scripts",
               lambda w: None)
    r = Run(tmp_path / "ooe.sqlite")
    # Written by FileMaker 22: each calculation's <TableOccurrenceReference> (here each table's own occurrence).
    assert r.db.field_options("TestTable", "ContactNameList_u").context == "TestTable"
    assert r.db.field_options("Contacts", "ID").auto["context"] == "Contacts"
    assert r.db.field_options("TestTable", "TextField_lotsTurnedOn").validate["context"] == "TestTable"
