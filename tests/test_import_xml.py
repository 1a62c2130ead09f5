"""fmscript import-xml: a Save-as-XML export (hand-built to FileMaker's grammar, see the fixture README) → a SQLite
file and a folder of scripts that check passes, one of which reads records, posts them to a loopback REST API with
Insert from URL and writes the answer to a data file; bad input gives error 718 and leaves nothing behind."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fmscript import Interpreter
from fmscript.data.database import Database
from fmscript.errors import E_XML_PARSE, FMScriptError, UsageError
from fmscript.fmxml import snippet
from fmscript.fmxml.importer import import_xml

FIXTURE = Path(__file__).parent / "fixtures" / "filemaker_xml" / "handbuilt-saxml.xml"

STARTUP = """# Runs when the file opens
Set Error Capture [ On ]
Go to Layout [ “Customers” ]
If [ Get ( FoundCount ) = 0 ]
    Show Custom Dialog [ "Welcome" ; "No customers yet" ]
Else
    Perform Script [ Specified: From list ; “Log: Message” ; Parameter: "Started with " & Get ( FoundCount ) & " customers" ]
End If
# fmscript could not convert <Step id="35" name="Import Records"> (ImportOptions)
"""


@pytest.fixture
def imported(tmp_path):
    warnings: list[str] = []
    summary = import_xml(FIXTURE, tmp_path / "app.sqlite", tmp_path / "scripts", warnings.append)
    return tmp_path, summary, warnings


def test_schema_occurrences_layouts_and_kept_definitions(imported):
    tmp, summary, _ = imported
    db = Database(tmp / "app.sqlite")
    try:
        customers, invoices = db.tables()["customers"], db.tables()["invoices"]
        assert [f.name for f in customers.fields] == ["PrimaryKey", "Name", "Email", "g_Token"]
        assert customers.field("g_Token").is_global and not customers.field("Name").is_global
        assert invoices.field("Amount").type == "number" and invoices.field("InvoiceDate").type == "date"
        assert invoices.field("Notes").repetitions == 3
        assert db.table_of("Invoices_Customers").name == "Customers"
        assert db.layouts()["invoice detail"] == ("Invoice Detail", "Invoices")
        rows = dict(((t, f), (kind, calc, auto, val, summ)) for t, f, kind, calc, auto, val, summ in db.conn.execute(
            "SELECT table_name, field_name, kind, calculation, auto_enter, validation, summary "
            "FROM fmscript_import_fields"))
        assert rows[("Invoices", "AmountWithTax")][:2] == ("Calculated", "Amount * 1.2")
        assert "Get ( UUID )" in rows[("Customers", "PrimaryKey")][2]
        assert 'notEmpty="True"' in rows[("Customers", "Name")][3]
        assert 'operation="Total"' in rows[("Invoices", "TotalAmount")][4]
        assert db.conn.execute("SELECT data_type FROM fmscript_import_fields WHERE field_name = 'Scan'"
                               ).fetchone() == ("Binary",)
        rel = db.conn.execute("SELECT left_occurrence, right_occurrence, predicates FROM "
                              "fmscript_import_relationships").fetchall()
        assert [(a, b, json.loads(p)) for a, b, p in rel] == [
            ("Invoices", "Invoices_Customers", [{"type": "Equal", "left": "CustomerID", "right": "PrimaryKey"}])]
        assert json.loads(db.conn.execute("SELECT detail FROM fmscript_import_value_lists").fetchone()[0]) == {
            "source": "Custom", "values": ["Open", "Paid", "Void"]}
        assert db.conn.execute("SELECT name, parameters, calculation FROM fmscript_import_custom_functions"
                               ).fetchall() == [("Double", '["x"]', "x * 2")]
        assert db.conn.execute("SELECT name, privilege_set FROM fmscript_import_accounts ORDER BY name"
                               ).fetchall() == [("Admin", "[Full Access]"), ("clerk", "Sales")]
        assert json.loads(db.conn.execute("SELECT portals FROM fmscript_import_layouts WHERE layout = "
                                          "'Invoice Detail'").fetchone()[0]) == ["Invoices_Customers"]
    finally:
        db.close()
    assert summary.counts["scripts"] == 3 and summary.counts["steps from DDR_INFO"] == 5
    assert summary.counts["steps not converted"] == 1


def test_the_schema_becomes_the_data_layers_graph_field_options_value_lists_and_portals(imported):
    tmp, summary, warnings = imported
    fm = Interpreter(file=tmp / "app.sqlite", on_dialog=lambda t, m: None)
    try:
        fm.run_text('Go to Layout [ “Customers” ]\nExit Script [ Text Result: 1 ]')  # opens the file
        db = fm.database
        [rel] = db.relationships()
        assert (rel.left, rel.right, [(c.left, c.op, c.right) for c in rel.criteria]) == (
            "Invoices", "Invoices_Customers", [("CustomerID", "=", "PrimaryKey")])
        assert [(p.layout, p.name, p.occurrence, p.filter, p.sort, p.allow_delete) for p in db.portals()] == [
            ("Invoice Detail", "CustomerPortal", "Invoices_Customers", 'Invoices_Customers::Email ≠ ""',
             "Invoices_Customers::Name descending", False)]
        # FileMaker's lookups, through the graph, with "if no exact match" and "don't copy contents if empty"
        assert db.field_options("Invoices", "CustomerName").auto == {"lookup": {
            "start": "Invoices", "occurrence": "Invoices_Customers", "copy": "Name", "no_match": "none",
            "skip_empty": True}}
        assert db.field_options("Invoices", "CustomerEmail").auto["lookup"]["no_match"] == "lower"
        assert db.value_list_items("Status") == ["Open", "Paid", "Void"]
        assert db.field_options("Invoices", "AmountWithTax").calc == "Amount * 1.2"
        assert db.field_options("Invoices", "TotalAmount").summary == {"function": "total", "of": "Amount"}
        assert db.field_options("Customers", "PrimaryKey").auto == {"calc": "Get ( UUID )", "replace": False}
        assert db.field_options("Customers", "Name").validate == {"not_empty": True, "when": "always"}
        # and they work: auto-enter, a stored calculation, a summary, a related field over the imported graph
        result = fm.run_text("""Go to Layout [ “Customers” ]
New Record/Request
Set Field [ Customers::Name ; "Ada" ]
Set Variable [ $id ; Value: Customers::PrimaryKey ]
Go to Layout [ “Invoice Detail” ]
New Record/Request
Set Field [ Invoices::CustomerID ; $id ]
Set Field [ Invoices::Amount ; 10 ]
New Record/Request
Set Field [ Invoices::CustomerID ; $id ]
Set Field [ Invoices::Amount ; 5 ]
Commit Records/Requests [ With dialog: Off ]
Exit Script [ Text Result: Length ( $id ) & "|" & Invoices::AmountWithTax & "|" & Invoices::TotalAmount & "|" & Invoices_Customers::Name ]
""")
        assert result == "36|6|15|Ada"
        assert fm.run_text("Go to Layout [ “Invoice Detail” ]\nExit Script [ Text Result: Invoices::CustomerName ]"
                           ) == "Ada"  # looked up when the match field was set
        # validation: a customer without a name is refused (FileMaker's error 509)
        fm.run_text("""Set Error Capture [ On ]
Go to Layout [ “Customers” ]
New Record/Request
Commit Records/Requests [ With dialog: Off ]
Set Variable [ $$ERR ; Value: Get ( LastError ) ]
Revert Record/Request [ With dialog: Off ]
""")
        assert fm.get_global("ERR") == 509
    finally:
        fm.close()
    assert summary.counts["relationships in the graph"] == 1 and summary.counts["field options"] == 6
    assert summary.counts["portals"] == 1 and summary.counts["value lists defined"] == 1


def test_what_the_data_layer_cannot_hold_is_reported_and_listed(tmp_path):
    text = FIXTURE.read_text(encoding="utf-8").replace('operation="Total"', 'operation="StandardDeviation"')
    text = text.replace('<JoinPredicate type="Equal">', '<JoinPredicate type="Telepathy">')
    src = tmp_path / "odd.xml"
    src.write_text(text, encoding="utf-8")
    warnings: list[str] = []
    import_xml(src, tmp_path / "o.sqlite", tmp_path / "o", warnings.append)
    with sqlite3.connect(tmp_path / "o.sqlite") as conn:
        rows = conn.execute("SELECT kind, name FROM fmscript_import_unmapped ORDER BY kind").fetchall()
        kept = conn.execute("SELECT count(*) FROM fmscript_import_relationships").fetchone()[0]
    conn.close()
    assert ("field", "Invoices::TotalAmount") in rows and ("relationship", "Invoices — Invoices_Customers") in rows
    assert ("portal", "Invoice Detail: CustomerPortal") in rows  # its relationship is missing now
    assert kept == 1  # FileMaker's definition is still there
    assert any("StandardDeviation" in w for w in warnings) and any("Telepathy" in w for w in warnings)


def test_scripts_are_files_in_their_folders_in_filemakers_text(imported):
    tmp, _, warnings = imported
    scripts = tmp / "scripts"
    files = sorted(str(p.relative_to(scripts)) for p in scripts.rglob("*.fmscript"))
    assert files == ["Startup.fmscript", "Sync/Export Customers.fmscript", "Sync/Helpers/Log_ Message.fmscript"]
    assert (scripts / "Startup.fmscript").read_text() == STARTUP
    # a name a file cannot hold is kept inside it
    assert (scripts / "Sync/Helpers/Log_ Message.fmscript").read_text() == (
        'Script "Log: Message"\n  Set Field [ Customers::g_Token ; Get ( ScriptParameter ) ]\n'
        '  Set Variable [ $$LOG ; Value: List ( $$LOG ; Get ( ScriptParameter ) ) ]\n'
        '  Exit Script [ Text Result: $$LOG ]\nEnd Script\n')
    # the steps without a row came from FileMaker's own text in DDR_INFO
    export = (scripts / "Sync/Export Customers.fmscript").read_text()
    assert "Close Data File [ File ID: $fileID ]" in export
    assert 'Insert from URL [ Select ; With dialog: Off ; Target: $response ; $url & "/customers" ;' in export
    assert "    Go to Record/Request/Page [ Next ; Exit after last: On ]" in export
    # what could not be converted is reported, and so is the catalogue fmscript does not know
    assert any("Import Records" in w and "ImportOptions" in w for w in warnings)
    text = FIXTURE.read_text(encoding="utf-8")
    line = text[:text.index("<FancyFutureCatalog")].count("\n") + 1
    assert any(f"handbuilt-saxml.xml:{line}: <FancyFutureCatalog> is not known" in w for w in warnings)
    # owner-only, as everything fmscript writes
    assert (tmp / "app.sqlite").stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in [scripts, *scripts.rglob("*")])


def test_saved_as_xml_steps_convert_by_the_snippet_rows(imported):
    """A step read from Save as XML gives the text the snippet row gives: text → snippet → text is unchanged."""
    tmp, _, _ = imported
    for path in (tmp / "scripts").rglob("*.fmscript"):
        text = path.read_text()
        xml, problems = snippet.from_text(text)
        back, more = snippet.to_text(xml)
        assert [ln.strip() for ln in back.splitlines() if ln.strip()] == [
            ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(("Script ", "End Script"))]
        if "could not convert" not in text:
            assert problems == [] and more == []


def test_every_imported_script_passes_check(imported):
    tmp, _, _ = imported
    fm = Interpreter(file=tmp / "app.sqlite", on_dialog=lambda t, m: None)
    try:
        for path in (tmp / "scripts").rglob("*.fmscript"):
            _, found = fm.check_text(path.read_text(), str(path), path.stem, run_time=False)
            assert [e.render() for e in found if e.kind != "warning"] == [], path
    finally:
        fm.close()


ADD_CUSTOMERS = """Go to Layout [ “Customers” ]
New Record/Request
Set Field [ Customers::Name ; "Ada" ]
Set Field [ Customers::Email ; "ada@example.org" ]
New Record/Request
Set Field [ Customers::Name ; "Grace" ]
Set Field [ Customers::Email ; "grace@example.org" ]
Commit Records/Requests [ With dialog: Off ]
"""


class Api(BaseHTTPRequestHandler):
    received: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Api.received.append((self.path, self.headers["Content-Type"], body))
        out = json.dumps({"received": len(body)}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def api():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Api.received = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_imported_script_reads_records_posts_them_and_writes_a_data_file(imported, api, monkeypatch):
    tmp, _, _ = imported
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(tmp / "docs"))
    fm = Interpreter(file=tmp / "app.sqlite", on_dialog=lambda t, m: None)
    try:
        fm.run_text(ADD_CUSTOMERS)
        result = fm.run_file(tmp / "scripts" / "Sync" / "Export Customers.fmscript", param=api)
    finally:
        fm.close()
    assert result == "2 customers sent; twice that is 4"  # the file's custom function Double, in the script
    assert Api.received == [("/customers", "application/json",
                             [{"name": "Ada", "email": "ada@example.org"},
                              {"name": "Grace", "email": "grace@example.org"}])]
    written = (tmp / "docs" / "export" / "customers-result.json").read_text()
    assert json.loads(written) == {"received": 2} and written.endswith("\n")


def test_a_utf16_export_imports_the_same(tmp_path, imported):
    first, _, _ = imported
    text = FIXTURE.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    src = tmp_path / "utf16.xml"
    src.write_bytes(text.encode("utf-16"))  # with a BOM, as FileMaker writes it
    import_xml(src, tmp_path / "u.sqlite", tmp_path / "u")
    for p in (first / "scripts").rglob("*.fmscript"):
        assert (tmp_path / "u" / p.relative_to(first / "scripts")).read_text() == p.read_text()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "bad.xml")


def test_malformed_xml_is_error_718_with_line_and_column_and_nothing_is_written(tmp_path):
    text = FIXTURE.read_text(encoding="utf-8")
    cut = text.index("<Script>", text.index("<StepsForScripts"))  # well into the file: tables already written
    bad = tmp_path / "bad.xml"
    bad.write_text(text[:cut] + "<Script><ScriptReference id='1'></Script>" + text[cut:], encoding="utf-8")
    line = text[:cut].count("\n") + 1
    with pytest.raises(FMScriptError) as e:
        import_xml(bad, tmp_path / "app.sqlite", tmp_path / "scripts")
    assert e.value.code == E_XML_PARSE
    assert f"bad.xml:{line}:" in e.value.message and "mismatch" in e.value.message
    assert _leftovers(tmp_path) == []  # no database, no scripts folder, no temporary file


def test_a_failed_import_keeps_the_previous_database(tmp_path):
    (tmp_path / "app.sqlite").write_bytes(b"previous")
    bad = tmp_path / "bad.xml"
    bad.write_text(FIXTURE.read_text(encoding="utf-8")[:5000], encoding="utf-8")  # cut short
    with pytest.raises(FMScriptError) as e:
        import_xml(bad, tmp_path / "app.sqlite")
    assert e.value.code == E_XML_PARSE
    assert (tmp_path / "app.sqlite").read_bytes() == b"previous" and _leftovers(tmp_path) == ["app.sqlite"]


def test_not_an_export_and_a_full_scripts_folder_are_refused_before_work_starts(tmp_path):
    snippet = Path(__file__).parent / "fixtures" / "filemaker_xml" / "keep-matching-records-script.xml"
    with pytest.raises(FMScriptError) as e:
        import_xml(snippet, tmp_path / "a.sqlite")
    assert e.value.code == E_XML_PARSE and "<fmxmlsnippet>" in e.value.message
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "mine.fmscript").write_text("Beep\n")
    with pytest.raises(UsageError):
        import_xml(FIXTURE, tmp_path / "a.sqlite", tmp_path / "scripts")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scripts"]


def test_elements_of_a_newer_filemaker_warn_and_the_import_goes_on(tmp_path):
    text = FIXTURE.read_text(encoding="utf-8")
    text = text.replace("<Structure membercount=\"1\">", "<Telemetry/><Structure membercount=\"1\">", 1)
    text = text.replace('<Step hash="E4" index="3" id="23" name="Show All Records" enable="True"></Step>',
                        '<Step hash="E4" index="3" id="23" name="Show All Records" enable="True"><ParameterValues>'
                        '<Parameter type="Hologram"><Hologram value="3D"/></Parameter></ParameterValues></Step>')
    src = tmp_path / "newer.xml"
    src.write_text(text, encoding="utf-8")
    warnings: list[str] = []
    summary = import_xml(src, tmp_path / "n.sqlite", tmp_path / "n", warnings.append)
    assert any("<Telemetry> is not known" in w for w in warnings)
    assert any("Show All Records" in w and "Hologram" in w for w in warnings)
    assert summary.counts["tables"] == 2 and summary.counts["scripts"] == 3


def test_cli_imports_and_prints_a_summary_and_malformed_input_is_718(tmp_path):
    cmd = [sys.executable, "-P", "-m", "fmscript", "import-xml", str(FIXTURE), "-o", str(tmp_path / "c.sqlite"),
           "--scripts", str(tmp_path / "c")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "scripts: 3" in done.stderr and "warning:" in done.stderr
    bad = tmp_path / "bad.xml"
    bad.write_text("<FMSaveAsXML><Structure></FMSaveAsXML>", encoding="utf-8")
    done = subprocess.run(cmd[:5] + [str(bad), "-o", str(tmp_path / "d.sqlite")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "error [718]" in done.stderr and "bad.xml:1:" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "d.sqlite").exists()


def test_without_a_scripts_folder_the_scripts_are_listed_in_the_database(tmp_path):
    import_xml(FIXTURE, tmp_path / "only.sqlite")
    with sqlite3.connect(tmp_path / "only.sqlite") as conn:
        rows = conn.execute("SELECT path, name, steps, not_converted FROM fmscript_import_scripts ORDER BY path"
                            ).fetchall()
    conn.close()
    assert rows == [("Startup.fmscript", "Startup", 9, 1), ("Sync/Export Customers.fmscript", "Export Customers", 16, 0),
                    ("Sync/Helpers/Log_ Message.fmscript", "Log: Message", 3, 0)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only.sqlite"]


def test_filemakers_step_texts_in_several_groups_or_none_become_one_step():
    """As a FileMaker 22 export writes them in DDR_INFO (seen in a real export, not committed: no licence)."""
    import xml.etree.ElementTree as ET

    from fmscript.fmxml.saxml import with_step_text
    from fmscript.fmxml.steps import step_to_text

    step = ET.Element("Step", enable="True", id="18", name="Check Selection")
    assert step_to_text(with_step_text(step, "Check Selection [  ]\r[ Select ]"))[0] == "Check Selection [ Select ]"
    bare = ET.Element("Step", enable="True", id="80", name="Refresh Window")
    assert step_to_text(with_step_text(bare, "Refresh Window"))[0] == "Refresh Window"
    url = ET.Element("Step", enable="False", id="160", name="Insert from URL")
    text = 'Insert from URL [ Target: $r ; "http://h/[x]" ; cURL options: "-H \\"a]\\"" ]'
    assert step_to_text(with_step_text(url, text))[0] == "// " + text


# -- a real export nobody here wrote: Ooe ("One of Everything"), FileMaker 22, MIT (see the fixture README) ----------
OOE = Path(__file__).parent / "fixtures" / "filemaker_xml" / "ooe-saxml-2.2.3.0-trimmed.xml"

#: What fmscript check still refuses in Ooe's scripts: nothing.  The steps Ooe's author left without their options
#: (Ooe holds one of every step, many unset) are warnings, as FileMaker saves them, and fail when run; FileMaker's
#: placeholders (<unknown>, <Table Missing>, <Current Layout>…), a missing plug-in's steps and the options
#: FileMaker's text prints (Send Mail's SMTP and OAuth options, Show Custom Dialog's buttons, Callback script:, a
#: bracketed table list) all parse.
OOE_GAPS: set = set()


@pytest.fixture(scope="module")
def ooe(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ooe")
    warnings: list[str] = []
    summary = import_xml(OOE, tmp / "ooe.sqlite", tmp / "scripts", warnings.append)
    return tmp, summary, warnings


def test_a_real_export_imports_its_schema_into_the_data_layer(ooe):
    tmp, summary, warnings = ooe
    assert summary.counts["tables"] == 3 and summary.counts["scripts"] == 22
    assert summary.counts["steps from DDR_INFO"] == 125 and summary.counts.get("steps not converted", 0) == 0
    files = sorted(str(p.relative_to(tmp / "scripts")) for p in (tmp / "scripts").rglob("*.fmscript"))
    assert "MyScriptFolder/MyScriptSubfolder/Decode base64 image.fmscript" in files  # FileMaker's flat folders
    assert "About/LICENSE.fmscript" in files and len(files) == 22
    db = Database(tmp / "ooe.sqlite")
    try:
        rels = {(r.left, r.right): r for r in db.relationships()}
        r = rels[("Contacts_TestTable", "Contacts")]
        assert [(c.left, c.op, c.right) for c in r.criteria] == [("ID", "=", "ID_TestTable")]
        assert r.create == {"contacts_testtable": True, "contacts": False}
        assert r.delete == {"contacts_testtable": True, "contacts": False}
        assert r.sort["contacts_testtable"] == "Contacts_TestTable::TextField1 ascending"
        assert db.value_list_items("YN")[:2] == ["Yes", "No"]
        assert db.field_options("TestTable", "SummaryField1").summary == {"function": "list", "of": "TextField1"}
        assert db.field_options("TestTable", "ContactNameList_u").stored is False
        assert db.field_options("Contacts", "CreatedBy").auto == {"creation": "account"}
        assert db.field_options("TestTable", "TextField_lotsTurnedOn").validate["range"] == ["1", "99"]
        assert [(p.layout, p.occurrence) for p in db.portals()] == [("My Layout for TestTable", "TestTable_Contacts")]
        unmapped = db.conn.execute("SELECT kind, name FROM fmscript_import_unmapped").fetchall()
    finally:
        db.close()
    assert ("field", "TestTable::TextField_lotsTurnedOn") in unmapped  # its maximum size, its message calculation
    assert all("is not mapped" in w or "not read" in w for w in warnings)


def test_every_script_of_a_real_export_passes_check_but_for_the_known_gaps(ooe):
    tmp, _, _ = ooe
    fm = Interpreter(file=tmp / "ooe.sqlite", on_dialog=lambda t, m: None)
    gaps, unknown_steps, incomplete = set(), [], []
    try:
        for path in sorted((tmp / "scripts").rglob("*.fmscript")):
            text = path.read_text()
            # What runs would find too (warnings, and Perform Script of the "noop" the trimmed export lacks):
            _, at_run = fm.check_text(text, str(path), path.stem)
            incomplete += [(path.stem, e.span.line, e.code) for e in at_run
                           if e.kind == "warning" and "FileMaker saves the step so" in e.message]
            sf, found = fm.check_text(text, str(path), path.stem, run_time=False)
            for e in found:
                if e.kind == "warning":
                    continue
                line = text.splitlines()[e.span.line - 1].strip()
                step = line.split(" [")[0] if not line.startswith("<") else line
                gaps.add((path.stem, e.span.line, step))
                if e.code == 4 and not step.startswith("<Unknown external"):
                    unknown_steps.append((path.stem, e.span.line, step))
    finally:
        fm.close()
    assert unknown_steps == []  # every step FileMaker wrote is one the catalogue knows (plug-in steps aside)
    assert gaps == OOE_GAPS
    # The steps Ooe's author left without their options load, and are warnings with the error they fail with.
    assert ("Fields", 26, 102) in incomplete and ("Files", 9, 100) in incomplete, incomplete
    assert len(incomplete) > 30


def test_filemakers_placeholders_and_a_missing_plug_in_are_warnings_and_fail_when_run(ooe):
    """<unknown>, <Table Missing>: the missing object's error when the step runs; <Current Layout>: the current
    one; the step of a plug-in FileMaker did not have: a warning, and error 3 when run."""
    tmp, _, _ = ooe
    scripts = tmp / "scripts"
    fm = Interpreter(file=tmp / "ooe.sqlite", on_dialog=lambda t, m: None)
    try:
        for name, line, code, what in [("IP", 9, 3, "plug-in “IpIn”"), ("MBS Plug-In", 9, 3, "plug-in “MBSP”"),
                                       ("Navigation", 23, None, "<unknown> is how FileMaker prints"),
                                       ("Records", 26, None, None)]:
            [path] = scripts.rglob(f"{name}.fmscript")
            _, found = fm.check_text(path.read_text(), str(path), name)
            on_line = [e for e in found if e.span.line == line]
            assert all(e.kind == "warning" for e in on_line), (name, [e.message for e in on_line])
            if what is not None:
                assert any((code is None or e.code == code) and what in e.message for e in on_line), name
        out = fm.run_text("""Set Error Capture [ On ]
<Unknown external script step from missing plug-in ( MBSP 2 )>
Set Variable [ $plugin ; Value: Get ( LastError ) ]
Go to Layout [ “My Layout for TestTable” ]
Truncate Table [ Table: <Table Missing> ]
Set Variable [ $table ; Value: Get ( LastError ) ]
Go to Layout [ <Layout Missing> ]
Set Variable [ $layout ; Value: Get ( LastError ) ]
Set Field [ <Table Missing>; 1 ]
Set Variable [ $field ; Value: Get ( LastError ) ]
Perform Script [ <unknown> ]
Set Variable [ $script ; Value: Get ( LastError ) ]
New Record/Request
Truncate Table [ Table: <Current Table> ]
Exit Script [ Text Result: $plugin & " " & $table & " " & $layout & " " & $field & " " & $script & " " &
  Get ( LastError ) & " " & Get ( FoundCount ) ]""")
        assert out == "3 106 105 102 104 0 0"
    finally:
        fm.close()


def test_a_real_exports_portal_keeps_its_filter_and_sort(ooe):
    tmp, _, _ = ooe
    db = Database(tmp / "ooe.sqlite")
    try:
        [p] = db.portals()
        assert (p.filter, p.sort, p.allow_delete) == ("True", "TestTable_Contacts::Name ascending", False)
    finally:
        db.close()


def test_an_import_stopped_while_mapping_leaves_the_previous_file_and_nothing_else(tmp_path):
    (tmp_path / "app.sqlite").write_bytes(b"previous")
    text = FIXTURE.read_text(encoding="utf-8").replace('operation="Total"', 'operation="StandardDeviation"')
    src = tmp_path / "bad.xml"
    src.write_text(text, encoding="utf-8")

    def stop(message: str) -> None:
        if "is not mapped" in message:  # the schema is parsed and the data layer is being given it
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_xml(src, tmp_path / "app.sqlite", tmp_path / "scripts", stop)
    assert (tmp_path / "app.sqlite").read_bytes() == b"previous" and _leftovers(tmp_path) == ["app.sqlite"]


def test_export_and_import_records_as_filemakers_text_prints_them(tmp_path, monkeypatch):
    """The options FileMaker's step text prints (File Name, Character Set, Field Mapping one entry a line, Yes/No
    switches, an unquoted http:// source) parse; what FileMaker would not take either is refused by check with a
    sentence."""
    monkeypatch.chdir(tmp_path)
    db = Database(tmp_path / "p.sqlite")
    db.create_table("People", [("Name", "text", False), ("Age", "number", False)])
    db.close()
    fm = Interpreter(file=tmp_path / "p.sqlite", on_dialog=lambda t, m: None)
    try:
        fm.run_text("""Import Records [ Source: “file:in.csv”; Method: Add; Character Set: “Unicode (UTF-8)”; Field Mapping: Source field 1 import to ;
Source field 2 import to ; ; No dialog; Data contains column names ]
Export Records [ File Name: “file:out.csv”; Automatically open; Create email; Create folders:No; Character Set: “Windows (ANSI)”; Field Order:  ; No dialog ]
""".replace("in.csv", str(_csv(tmp_path))))
        assert (tmp_path / "out.csv").read_bytes().decode("cp1252").splitlines()[1] == "Zoë,3"
        with pytest.raises(UnicodeDecodeError):
            (tmp_path / "out.csv").read_bytes().decode("utf-8")  # written in the character set asked for
        refused = {
            'Import Records [ Source: “file:in.csv”; Method: Merge; No dialog ]': "Add, Replace or Update",
            'Import Records [ Folder Name: folder;  File Type: Spreadsheets; Method: Add ]': "File Type is",
            'Import Records [ Source: “file:in.csv”; Character Set: “EBCDIC” ]': "no character set “EBCDIC”",
            'Import Records [ Source: “file:in.csv”; Field Mapping: Source 1 to T::Name ]': "not a line of",
            'Export Records [ File Name: “file:o.csv”; Character Set: “EBCDIC” ]': "character set “EBCDIC”",
        }
        for text, words in refused.items():
            _, found = fm.check_text(text + "\n", "r.fmscript", "r", run_time=False)
            assert [e.code for e in found] == [1204] and words in found[0].message, (text, found)
    finally:
        fm.close()


def _csv(tmp_path: Path) -> Path:
    p = tmp_path / "people.csv"
    p.write_text("Name,Age\nZoë,3\n", encoding="utf-8")
    return p


# -- every step text form FileMaker prints for the data steps, in our own script (see the fixture README) -----------
STEP_FORMS = Path(__file__).parent / "fixtures" / "filemaker_xml" / "handwritten-step-forms.xml"


def test_every_step_form_filemaker_prints_passes_check(tmp_path):
    """Our own script in FileMaker 22's export shape, with every text form of Insert from URL, Replace Field
    Contents, Sort Records, the obsolete steps, Import Records (files, spreadsheets, folders, XML with XSLT, character
    sets) and Perform Script of a deleted script that FileMaker prints: each parses and checks; what is left is a
    step written without its target or field (“… needs …”), on these lines only."""
    summary = import_xml(STEP_FORMS, tmp_path / "c.sqlite", tmp_path / "scripts", lambda m: None)
    assert summary.counts["scripts"] == 1 and summary.counts.get("steps not converted", 0) == 0
    [path] = (tmp_path / "scripts").rglob("*.fmscript")
    text = path.read_text()
    assert "Set Allowed Orientations [ Portrait:On; Portrait Upside Down:Off" in text  # kept from DDR_INFO
    assert 'override language: “French”' in text and "Do not automatically encode URL" in text
    assert text.count("Import Records [") == 32 and "Perform Script [ <unknown> from file: “” (file not open) ]" in text
    # an unquoted http:// URL is no comment: the step keeps its options
    assert "Import Records [ XML (from http): https://example.com/feed.xml ; No dialog ]" in text
    fm = Interpreter(file=tmp_path / "c.sqlite", on_dialog=lambda t, m: None)
    try:
        _, found = fm.check_text(text, str(path), path.stem, run_time=True)
    finally:
        fm.close()
    assert [e.message for e in found if e.kind != "warning"] == []
    # the steps FileMaker printed without their required options load, and warn that they fail when run
    lines = text.splitlines()
    needs = sorted({lines[e.span.line - 1] for e in found if e.kind == "warning" and "running it fails" in str(e)})
    assert needs == sorted({"Insert from URL [ $reply ; Select ]", "Insert from URL [ No dialog ]",
                            'Insert from URL [ cURL options: "--head" ; Select ]', "Insert from URL [ <Table Missing> ]",
                            "Insert from URL [ $endpoint ; No dialog ]", "Replace Field Contents [ <Table Missing> ]",
                            "Replace Field Contents [ Replace with calculation: 2 * 21 ]"})
