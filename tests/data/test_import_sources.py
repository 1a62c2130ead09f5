"""Import Records from every source FileMaker offers (folders, .xlsx, .dbf, .mer, XML through XSLT, character
sets) and its three methods, on a real SQLite file, with real files and a loopback HTTP server."""
from __future__ import annotations

import datetime

import http.server
import struct
import threading

import pytest

from fmscript import Interpreter
from fmscript.data.database import Database

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24 + b"fmscript"


@pytest.fixture
def fm(tmp_path):
    db = Database(tmp_path / "f.sqlite")
    db.create_table("Notes", [("Text Content", "text", False), ("File Name", "text", False),
                              ("File Path", "text", False), ("Title", "text", False)])
    db.create_table("Photos", [("Image", "container", False), ("File Name", "text", False),
                               ("Image Thumbnail", "container", False)])
    db.create_table("People", [("Name", "text", False), ("Age", "number", False), ("City", "text", False)])
    db.close()
    fm = Interpreter(file=tmp_path / "f.sqlite", on_dialog=lambda t, m: None, base_dir=tmp_path)
    yield fm
    fm.close()


def rows(fm, sql):
    return fm.session.data.conn.execute(sql).fetchall()


def run_error(fm, text):
    """Get ( LastError ) and the detail of one step run with error capture on."""
    return fm.run_text(f'Set Error Capture [ On ]\n{text}\n'
                       'Exit Script [ Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]').split("|", 1)


# ------------------------------------------------------------------------------------------------ folders

def test_a_folder_of_text_files_with_and_without_its_enclosed_folders(fm, tmp_path):
    (tmp_path / "notes" / "old").mkdir(parents=True)
    (tmp_path / "notes" / "a.txt").write_text("first note", encoding="utf-8")
    (tmp_path / "notes" / "old" / "b.txt").write_text("older note", encoding="utf-8")
    (tmp_path / "notes" / ".hidden.txt").write_text("never", encoding="utf-8")
    (tmp_path / "notes" / "pic.png").write_bytes(PNG)
    fm.run_text('Import Records [ Folder Name: notes;  File Type: Text files; Method: Add; Target: "Notes" ; '
                'No dialog ]')
    assert rows(fm, 'SELECT "File Name", "Text Content" FROM Notes') == [("a.txt", "first note")]
    out = fm.run_text('Import Records [ Folder Name: notes;  Include all enclosed folders; File Type: Text files; '
                      'Target: "Notes" ; No dialog ]\nExit Script [ Get ( FoundCount ) ]')
    assert out == "2"  # the imported records are the found set
    assert rows(fm, 'SELECT "File Name", "Text Content", "File Path" FROM Notes WHERE rowid > 1') == [
        ("a.txt", "first note", f"file:{tmp_path / 'notes' / 'a.txt'}"),
        ("b.txt", "older note", f"file:{tmp_path / 'notes' / 'old' / 'b.txt'}")]


def test_a_folder_with_filemakers_field_mapping_by_source_field_number(fm, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("body", encoding="utf-8")
    fm.run_text('Import Records [ Folder Name: notes;  File Type: Text files; Method: Add; Field Mapping: '
                'Source field 1 import to Notes::Title ; \nSource field 2 import to Notes::Text Content ; '
                '\nSource field 3 not import to ; Target: "Notes" ; No dialog ]')
    assert rows(fm, 'SELECT Title, "Text Content", "File Name" FROM Notes') == [("body", "a.txt", None)]


def test_a_folder_of_pictures_stores_the_images_or_only_references(fm, tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "cat.png").write_bytes(PNG)
    (tmp_path / "pics" / "readme.txt").write_text("not a picture", encoding="utf-8")
    fm.run_text('Import Records [ Folder Name: pics;  File Type: Picture and movie files; Target: "Photos" ; '
                'No dialog ]')
    assert rows(fm, 'SELECT Image, "File Name", "Image Thumbnail" FROM Photos') == [(PNG, "cat.png", PNG)]
    fm.run_text('Import Records [ Folder Name: pics;  File Type: Picture and movie files; Import only a reference; '
                'Target: "Photos" ; No dialog ]')
    assert rows(fm, 'SELECT Image FROM Photos WHERE rowid = 2') == [(f"file:{tmp_path / 'pics' / 'cat.png'}".encode(),)]


def test_a_missing_folder_is_error_100(fm):
    code, detail = run_error(fm, 'Import Records [ Folder Name: nowhere;  File Type: Text files; Target: "Notes" ; '
                                 'No dialog ]')
    assert code == "100" and "no folder to import was found" in detail


# ------------------------------------------------------------------------------------------------ files

def write_xlsx(path, sheets: dict[str, list[list]]):
    """A workbook written by openpyxl, one worksheet per entry; a date is a date cell in Excel's m/d/yy format."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, data in sheets.items():
        ws = wb.create_sheet(name)
        for row in data:
            ws.append(list(row))
    wb.save(path)


def test_an_excel_worksheet_by_name_with_its_names_row(fm, tmp_path):
    write_xlsx(tmp_path / "book.xlsx", {"First": [["Name"], ["Nobody"]],
                                        "Staff": [["Name", "Age", "City"], ["Ada", 36, "London"], ["Bo", 41.5, datetime.date(2024, 1, 1)]]})
    fm.run_text('Import Records [ "file:book.xlsx"; Worksheet: "Staff"; Fields Name Row: 0 ; Target: "People" ; '
                'No dialog ]')
    assert rows(fm, "SELECT Name, Age, City FROM People") == [("Ada", "36", "London"), ("Bo", "41.5", "1/1/2024")]
    code, detail = run_error(fm, 'Import Records [ "file:book.xlsx"; Worksheet: "Payroll" ; Target: "People" ]')
    assert code == "100" and "no worksheet named “Payroll” (its worksheets: First, Staff)" in detail
    (tmp_path / "notes.xlsx").write_text("Name,Age\nAda,36\n", encoding="utf-8")  # a CSV under an Excel name
    code, detail = run_error(fm, 'Import Records [ "file:notes.xlsx" ; Target: "People" ]')
    assert code == "718" and "notes.xlsx is not an Excel workbook" in detail


def test_rows_without_names_go_into_the_fields_in_their_order(fm, tmp_path):
    (tmp_path / "plain.tab").write_text("Cy\t7\tOslo\nDi\t8\tRome\n", encoding="utf-8")
    fm.run_text('Import Records [ Source: “file:plain.tab”; Fields Name Row: -1; Predefined: No ; Target: "People" ; '
                'No dialog ]')
    assert rows(fm, "SELECT Name, Age, City FROM People") == [("Cy", "7", "Oslo"), ("Di", "8", "Rome")]


def test_character_sets_filemaker_lists(fm, tmp_path):
    (tmp_path / "mac.csv").write_bytes("Name,City\nZoë,Köln\n".encode("mac_roman"))
    fm.run_text('Import Records [ Source: “file:mac.csv”; Method: Add; Character Set: “Mac Roman” ; Target: "People" ; '
                'No dialog ]')
    (tmp_path / "u16.tab").write_bytes("Name\tCity\n李\t北京\n".encode("utf-16-le"))  # FileMaker's Unicode: no BOM
    fm.run_text('Import Records [ Source: “file:u16.tab”; Character Set: “Unicode” ; Target: "People" ; No dialog ]')
    (tmp_path / "sjis.csv").write_bytes("Name,City\n田中,東京\n".encode("shift_jis"))
    fm.run_text('Import Records [ Source: “file:sjis.csv”; Character Set: “Shift JIS” ; Target: "People" ; No dialog ]')
    assert rows(fm, "SELECT Name, City FROM People") == [("Zoë", "Köln"), ("李", "北京"), ("田中", "東京")]
    code, detail = run_error(fm, 'Import Records [ Source: “file:mac.csv”; Character Set: “UTF-8” ; Target: "People" ]')
    assert code == "718" and "not text in this character set" in detail
    assert rows(fm, "SELECT count(*) FROM People") == [(3,)]  # nothing partly imported


def test_a_merge_file_and_a_dbase_file(fm, tmp_path):
    (tmp_path / "list.mer").write_text('"Name","City"\n"Ed","Lima"\n', encoding="utf-8")
    fm.run_text('Import Records [ Source: “file:list.mer” ; Target: "People" ; No dialog ]')
    fields = [(b"NAME", b"C", 10), (b"AGE", b"N", 3)]
    header = struct.pack("<BBBBIHH20x", 3, 124, 1, 1, 2, 32 + 32 * len(fields) + 1, 1 + 13)
    desc = b"".join(struct.pack("<11sc4xB15x", n, t, size) for n, t, size in fields)
    recs = b" " + b"Flo".ljust(10) + b" 52" + b"*" + b"Gone".ljust(10) + b"  1"
    (tmp_path / "old.dbf").write_bytes(header + desc + b"\r" + recs + b"\x1a")
    fm.run_text('Import Records [ Source: “file:old.dbf” ; Target: "People" ; No dialog ]')
    assert rows(fm, "SELECT Name, Age, City FROM People") == [("Ed", None, "Lima"), ("Flo", "52", None)]


def test_files_fmscript_cannot_read_are_refused_with_a_sentence(fm, tmp_path):
    (tmp_path / "file.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    code, detail = run_error(fm, 'Import Records [ "file:file.xls"; Worksheet: ""; Fields Name Row: 0 ]')
    assert code == "1708" and "save it as .xlsx" in detail
    code, _ = run_error(fm, 'Import Records [ Source: “file:nothing.fmp12” ]')
    assert code == "100"


# ------------------------------------------------------------------------------------------------ methods

def people_with(fm):
    fm.run_text('Go to Layout [ “People” ]\n' + "\n".join(f'New Record/Request\nSet Field [ People::Name ; "{n}" ]\nSet Field [ People::Age ; {a} ]'
                          for n, a in (("Bo", 1), ("Ada", 2))) + "\nCommit Records/Requests")


def test_update_matching_records_and_add_the_remaining(fm, tmp_path):
    people_with(fm)
    (tmp_path / "upd.csv").write_text("Name,Age,City\nada,36,London\nCy,7,Oslo\n", encoding="utf-8")
    mapping = ('Field Mapping: Source field 1 match with People::Name ; \nSource field 2 import to People::Age ; '
               '\nSource field 3 import to People::City')
    fm.run_text('Go to Layout [ “People” ]\nShow All Records\n'
                f'Import Records [ Source: “file:upd.csv”; Method: Update; {mapping} ; Data contains column names ; '
                'No dialog ]')
    assert rows(fm, "SELECT Name, Age, City FROM People ORDER BY rowid") == [("Bo", "1", None), ("Ada", "36", "London")]
    out = fm.run_text('Go to Layout [ “People” ]\nShow All Records\n'
                      f'Import Records [ Source: “file:upd.csv”; Method: Update; Add remaining; {mapping} ; '
                      'Data contains column names ; No dialog ]\nExit Script [ Get ( FoundCount ) ]')
    assert out == "2"  # the updated record and the added one
    assert rows(fm, "SELECT Name, Age, City FROM People ORDER BY rowid") == [
        ("Bo", "1", None), ("Ada", "36", "London"), ("Cy", "7", "Oslo")]


def test_replace_the_found_set_in_order(fm, tmp_path):
    people_with(fm)
    (tmp_path / "rep.csv").write_text("Name,Age\nXi,10\nYu,20\nZa,30\n", encoding="utf-8")
    fm.run_text('Go to Layout [ “People” ]\nShow All Records\nSort Records [ Specified Sort Order: People::Name '
                'ascending ; Restore; No dialog ]\n'
                'Import Records [ Source: “file:rep.csv”; Method: Replace; No dialog ]')
    assert rows(fm, "SELECT Name, Age FROM People ORDER BY rowid") == [("Yu", "20"), ("Xi", "10")]  # Ada first
    fm.run_text('Go to Layout [ “People” ]\nShow All Records\n'
                'Import Records [ Source: “file:rep.csv”; Method: Replace; Add remaining; No dialog ]')
    assert rows(fm, "SELECT Name, Age FROM People ORDER BY rowid") == [("Xi", "10"), ("Yu", "20"), ("Za", "30")]


def test_update_without_a_match_field_is_refused(fm, tmp_path):
    (tmp_path / "u.csv").write_text("Name\nA\n", encoding="utf-8")
    code, detail = run_error(fm, 'Go to Layout [ “People” ]\n'
                                 'Import Records [ Source: “file:u.csv”; Method: Update; No dialog ]')
    assert code == "102" and "needs a match field" in detail


# ------------------------------------------------------------------------------------------------ XML

SOURCE_XML = '<staff><person name="Ada" age="36"/><person name="Bo &amp; Co" age="41"/></staff>'
XSL = """<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns="http://www.filemaker.com/fmpxmlresult">
 <xsl:template match="/staff"><FMPXMLRESULT><METADATA><FIELD NAME="Name"/><FIELD NAME="Age"/></METADATA>
  <RESULTSET><xsl:for-each select="person"><ROW><COL><DATA><xsl:value-of select="@name"/></DATA></COL>
   <COL><DATA><xsl:value-of select="@age"/></DATA></COL></ROW></xsl:for-each></RESULTSET></FMPXMLRESULT>
 </xsl:template>
</xsl:stylesheet>"""


def test_xml_from_a_file_through_an_xslt_stylesheet(fm, tmp_path):
    (tmp_path / "staff.xml").write_text(SOURCE_XML, encoding="utf-8")
    (tmp_path / "fmp.xsl").write_text(XSL, encoding="utf-8")
    fm.run_text('Import Records [ XML (from file): staff.xml; XSL (from file): fmp.xsl; Method: Add ; Target: "People" ; '
                'No dialog ]')
    assert rows(fm, "SELECT Name, Age FROM People") == [("Ada", "36"), ("Bo & Co", "41")]
    fm.run_text('Set Variable [ $x ; Value: "staff.xml" ]\n'
                'Import Records [ XML (from calculation): $x; XSL (from calculation): "fmp.xsl" ; Target: "People" ; '
                'No dialog ]')
    assert rows(fm, "SELECT count(*) FROM People") == [(4,)]


def test_xml_errors_are_filemakers(fm, tmp_path):
    (tmp_path / "broken.xml").write_text("<staff><person></staff>", encoding="utf-8")
    (tmp_path / "staff.xml").write_text(SOURCE_XML, encoding="utf-8")
    (tmp_path / "bad.xsl").write_text('<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
                                      '<xsl:template match="/"><xsl:value-of select="((("/></xsl:template>'
                                      '</xsl:stylesheet>', encoding="utf-8")
    assert run_error(fm, 'Import Records [ XML (from file): broken.xml ; Target: "People" ]')[0] == "718"
    assert run_error(fm, 'Import Records [ XML (from file): staff.xml ; Target: "People" ]')[0] == "718"  # no FMPXMLRESULT
    assert run_error(fm, 'Import Records [ XML (from file): staff.xml; XSL (from file): bad.xsl ; Target: "People" ]'
                     )[0] == "719"
    assert run_error(fm, 'Import Records [ XML (from file): none.xml ; Target: "People" ]')[0] == "100"
    assert run_error(fm, 'Import Records [ XML (from http): ftp://host/a.xml ; Target: "People" ]')[0] == "1626"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {"/staff.xml": SOURCE_XML, "/fmp.xsl": XSL}.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write((body or "").encode("utf-8"))

    def log_message(self, *a):
        pass


def test_xml_and_its_stylesheet_from_http(fm):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        fm.run_text(f'Import Records [ XML (from http): {base}/staff.xml; XSL (from http): {base}/fmp.xsl; '
                    'Method: Add ; Target: "People" ; No dialog ]')
        assert rows(fm, "SELECT Name FROM People") == [("Ada",), ("Bo & Co",)]
        assert run_error(fm, f'Import Records [ XML (from http): {base}/gone.xml ; Target: "People" ]')[0] == "100"
    finally:
        server.shutdown()
        server.server_close()
    assert run_error(fm, f'Import Records [ XML (from http): {base}/staff.xml ; Target: "People" ]')[0] == "1631"


def test_a_replace_that_fails_validation_changes_nothing(fm, tmp_path):
    people_with(fm)
    fm.session.data.define_field("People", "Age", {"validate": {"range": ["1", "99"]}})
    (tmp_path / "bad.csv").write_text("Name,Age\nXi,10\nYu,500\n", encoding="utf-8")
    code, detail = run_error(fm, 'Go to Layout [ “People” ]\nShow All Records\n'
                                 'Import Records [ Source: “file:bad.csv”; Method: Replace; No dialog ]')
    assert code == "503" and "record 2 of bad.csv cannot be imported, nothing was imported" in detail
    assert rows(fm, "SELECT Name, Age FROM People ORDER BY rowid") == [("Bo", "1"), ("Ada", "2")]
    assert fm.run_text('Go to Layout [ “People” ]\nShow All Records\nGo to Record/Request/Page [ First ]\n'
                       'Exit Script [ People::Name ]') == "Bo"  # the cached record is read again


def test_an_https_source_is_checked_only_with_verify_ssl_certificates(fm):
    import ssl
    from pathlib import Path
    certs = Path(__file__).parent.parent / "server" / "data"
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs / "selfsigned.crt", certs / "selfsigned.key")
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"https://127.0.0.1:{server.server_port}"
    try:
        code, detail = run_error(fm, f'Import Records [ XML (from http): {base}/staff.xml; XSL (from http): '
                                     f'{base}/fmp.xsl ; Target: "People" ; No dialog ; Verify SSL Certificates ]')
        assert code == "1628" and "CERTIFICATE" in detail.upper()
        fm.run_text(f'Import Records [ XML (from http): {base}/staff.xml; XSL (from http): {base}/fmp.xsl ; '
                    'Target: "People" ; No dialog ]')  # FileMaker's default: the self-signed server is read
        assert rows(fm, "SELECT Name FROM People") == [("Ada",), ("Bo & Co",)]
    finally:
        server.shutdown()
        server.server_close()
