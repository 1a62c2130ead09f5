"""Data file steps as Claris's pages describe them (Create / Open / Read / Write / position / Close Data File,
Get File Exists / Size, Delete File, Rename File, Get Folder Path) and their error numbers."""
from __future__ import annotations

import os
import stat

import pytest

from fmscript import Interpreter
from fmscript.calc.values import Container
from fmscript.errors import (E_CANNOT_CREATE_FILE, E_DATA_MISSING, E_FILE_IN_USE, E_FILE_MISSING, E_INVALID_PARAMETER, E_MEMORY,
                             E_NAME_EXISTS, FMScriptError)


@pytest.fixture
def fm(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(tmp_path / "docs"))
    shown = []
    fm = Interpreter(on_dialog=lambda t, m: shown.append(m))
    fm.shown = shown
    yield fm
    fm.close()


def test_create_open_write_read_close_round_trip_in_utf8(fm, tmp_path):
    result = fm.run_text("""
Set Variable [ $file ; Value: Get ( TemporaryPath ) & "out/log.txt" ]
Create Data File [ "$file" ; Create folders: On ]
Open Data File [ "$file" ; Target: $id ]
Write to Data File [ File ID: $id ; Data source: "héllo" ; Write as: UTF-8 ; Append line feed ]
Write to Data File [ File ID: $id ; Data source: "wörld" ; Write as: UTF-8 ]
Get Data File Position [ File ID: $id ; Target: $end ]
Set Data File Position [ File ID: $id ; New position: 0 ]
Read from Data File [ File ID: $id ; Amount: 6 ; Target: $first ; Read as: UTF-8 ]
Read from Data File [ File ID: $id ; Target: $rest ; Read as: UTF-8 ]
Set Variable [ $info ; Value: Get ( OpenDataFileInfo ) ]
Close Data File [ File ID: $id ]
Get File Size [ "$file" ; Target: $size ]
Exit Script [ $id & "|" & $end & "|" & $first & "|" & Substitute ( $rest ; ¶ ; "/" ) & "|" & $size & "|"
             & PatternCount ( $info ; "log.txt" ) & "|" & Get ( OpenDataFileInfo ) ]
""")
    # "héllo" is 6 UTF-8 bytes; the line feed is read back as FileMaker's ¶
    assert result == "1|13|héllo|/wörld|13|1|"


def test_utf16_is_little_endian_without_a_mark_and_amount_counts_code_units(fm, tmp_path):
    p = tmp_path / "u16.txt"
    fm.run_text(f"""
Create Data File [ "{p}" ]
Open Data File [ "{p}" ; Target: $id ]
Write to Data File [ File ID: $id ; Data source: "abc" ]
Close Data File [ File ID: $id ]
""")
    assert p.read_bytes() == "abc".encode("utf-16-le")
    assert fm.run_text(f"""
Open Data File [ "{p}" ; Target: $id ]
Read from Data File [ File ID: $id ; Amount: 2 ; Target: $x ; Read as: UTF-16 ]
Close Data File [ File ID: $id ]
Exit Script [ $x ]""") == "ab"


def test_write_overwrites_at_the_position_as_the_dates_example_says(fm, tmp_path):
    (tmp_path / "dates.txt").write_text("2024-11-30")
    fm.run_text("""
Open Data File [ "dates.txt" ; Target: $id ]
Set Data File Position [ File ID: $id ; New position: 5 ]
Write to Data File [ File ID: $id ; Data source: "12" ; Write as: UTF-8 ]
Close Data File [ File ID: $id ]""")
    assert (tmp_path / "dates.txt").read_text() == "2024-12-30"


def test_bytes_read_into_a_variable_is_container_data_named_after_the_file(fm, tmp_path):
    (tmp_path / "img.bin").write_bytes(bytes(range(256)))
    fm.run_text("""
Open Data File [ "img.bin" ; Target: $id ]
Read from Data File [ File ID: $id ; Target: $$blob ; Read as: Bytes ]
Close Data File [ File ID: $id ]
Create Data File [ "copy.bin" ]
Open Data File [ "copy.bin" ; Target: $id ]
Write to Data File [ File ID: $id ; Data source: $$blob ; Write as: UTF-8 ; Append line feed ]
Close Data File [ File ID: $id ]""")
    blob = fm.session.globals["$$blob"] if "$$blob" in fm.session.globals else next(
        v for k, v in fm.session.globals.items() if "blob" in k)
    assert isinstance(blob, Container) and blob.name == "img.bin" and blob.data == bytes(range(256))
    # container data is written as it is: no encoding, no line feed
    assert (tmp_path / "copy.bin").read_bytes() == bytes(range(256))


def _captured(fm, body: str) -> str:
    return fm.run_text("Set Error Capture [ On ]\n" + body)


def test_reading_past_the_end_is_error_10_and_a_second_open_is_error_300(fm, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert _captured(fm, """
Open Data File [ "a.txt" ; Target: $id ]
Read from Data File [ File ID: $id ; Target: $x ; Read as: UTF-8 ]
Read from Data File [ File ID: $id ; Target: $y ; Read as: UTF-8 ]
Set Variable [ $eof ; Value: Get ( LastError ) ]
Open Data File [ "a.txt" ; Target: $again ]
Set Variable [ $twice ; Value: Get ( LastError ) ]
Delete File [ "a.txt" ]
Set Variable [ $del ; Value: Get ( LastError ) ]
Close Data File [ File ID: $id ]
Close Data File [ File ID: $id ]
Exit Script [ $x & "|" & $eof & "|" & $twice & "|" & $del & "|" & Get ( LastError ) ]""") == \
        f"x|{E_DATA_MISSING}|{E_FILE_IN_USE}|{E_FILE_IN_USE}|{E_FILE_MISSING}"
    assert (tmp_path / "a.txt").exists()  # refused while open: nothing deleted


def test_at_most_25_files_are_open_at_once(fm, tmp_path):
    for i in range(26):
        (tmp_path / f"f{i}.txt").write_text(str(i))
    assert _captured(fm, """
Set Variable [ $i ; Value: 0 ]
Loop
  Open Data File [ "f" & $i & ".txt" ; Target: $id ]
  Set Variable [ $error ; Value: Get ( LastError ) ]
  Exit Loop If [ $error ≠ 0 or $i = 25 ]
  Set Variable [ $i ; Value: $i + 1 ]
End Loop
Exit Script [ $i & "|" & $error & "|" & ValueCount ( Get ( OpenDataFileInfo ) ) ]""") == \
        f"25|{E_MEMORY}|25"


def test_a_negative_position_and_an_unknown_file_id_are_errors(fm):
    assert _captured(fm, """
Create Data File [ "p.txt" ]
Open Data File [ "p.txt" ; Target: $id ]
Set Data File Position [ File ID: $id ; New position: -1 ]
Set Variable [ $neg ; Value: Get ( LastError ) ]
Read from Data File [ File ID: 99 ; Target: $x ]
Exit Script [ $neg & "|" & Get ( LastError ) ]""") == f"{E_INVALID_PARAMETER}|{E_FILE_MISSING}"


def test_without_error_capture_a_missing_file_stops_with_a_positioned_message(fm):
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Set Variable [ $x ; Value: 1 ]\nOpen Data File [ "nope.txt" ; Target: $id ]')
    assert e.value.code == E_FILE_MISSING and "nope.txt" in e.value.message


def test_exists_size_rename_delete(fm, tmp_path):
    (tmp_path / "change.log").write_text("12345")
    (tmp_path / "taken.log").write_text("")
    assert _captured(fm, """
Get File Exists [ "change.log" ; Target: $e1 ]
Get File Exists [ "missing.log" ; Target: $e2 ]
Get File Size [ "change.log" ; Target: $size ]
Rename File [ Source file: "change.log" ; New name: "taken.log" ]
Set Variable [ $taken ; Value: Get ( LastError ) ]
Rename File [ Source file: "change.log" ; New name: "../escape.log" ]
Set Variable [ $bad ; Value: Get ( LastError ) ]
Rename File [ Source file: "change.log" ; New name: "change1.log" ]
Get File Exists [ "change1.log" ; Target: $e3 ]
Delete File [ "change1.log" ]
Get File Exists [ "change1.log" ; Target: $e4 ]
Delete File [ "change1.log" ]
Exit Script [ List ( $e1 ; $e2 ; $size ; $taken ; $bad ; $e3 ; $e4 ; Get ( LastError ) ) ]""").split("\r") == \
        ["1", "0", "5", str(E_NAME_EXISTS), str(E_INVALID_PARAMETER), "1", "0", str(E_FILE_MISSING)]
    assert (tmp_path / "taken.log").read_text() == "" and not (tmp_path.parent / "escape.log").exists()


def test_created_files_are_readable_by_their_owner_only(fm, tmp_path):
    fm.run_text('Create Data File [ "secret.txt" ]')
    assert stat.S_IMODE(os.stat(tmp_path / "secret.txt").st_mode) == 0o600


def test_get_folder_path_headless(fm, tmp_path):
    assert fm.run_text('Get Folder Path [ $p ]\nExit Script [ $p ]') == str(tmp_path / "docs").rstrip("/") + "/"
    want = tmp_path / "new" / "folder"
    assert fm.run_text(f'Get Folder Path [ Allow Folder Creation ; $p ; "Pick" ; "{want}" ]\nExit Script [ $p ]') \
        == str(want) + "/"
    assert want.is_dir()
    assert _captured(fm, f'Get Folder Path [ $p ; "Pick" ; "{tmp_path}/absent" ]\nExit Script [ Get ( LastError ) ]') \
        == str(E_FILE_MISSING)


def test_zh_hans_names(fm, tmp_path):
    assert fm.run_text("""
创建数据文件 [ "z.txt" ]
打开数据文件 [ "z.txt" ; 目标: $id ]
写入数据文件 [ 文件 ID: $id ; 数据源: "你好" ; 写入为: UTF-8 ]
设置数据文件位置 [ 文件 ID: $id ; 新位置: 0 ]
读取数据文件 [ 文件 ID: $id ; 量 (字节): ; 目标: $x ; 读取为: UTF-8 ]
关闭数据文件 [ 文件 ID: $id ]
获取文件大小 [ "z.txt" ; 目标: $n ]
退出脚本 [ $x & $n ]""") == "你好6"


# -- bad input: a file that is not open, a place the user may not write ------------------------------------

def test_every_step_on_a_closed_file_is_error_100_naming_the_id(fm):
    steps = ["Write to Data File [ File ID: $id ; Data source: \"x\" ]", "Read from Data File [ File ID: $id ; Target: $x ]",
             "Get Data File Position [ File ID: $id ; Target: $p ]", "Set Data File Position [ File ID: $id ; New position: 0 ]",
             "Close Data File [ File ID: $id ]"]
    for s in steps:
        assert _captured(fm, f"""Create Data File [ "c.txt" ]
Open Data File [ "c.txt" ; Target: $id ]
Close Data File [ File ID: $id ]
{s}
Exit Script [ Get ( LastError ) ]""") == str(E_FILE_MISSING), s
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Create Data File [ "d.txt" ]\nOpen Data File [ "d.txt" ; Target: $id ]\nClose Data File [ File ID: $id ]\n'
                    'Write to Data File [ File ID: $id ; Data source: "x" ]')
    assert e.value.code == E_FILE_MISSING and "file ID" in e.value.message and ":4:" in e.value.render()


def test_a_place_nobody_may_write_is_error_800_and_nothing_is_written(fm, tmp_path):
    # /proc takes no new files, even from root (a read-only folder would not stop root); elsewhere the folder is missing
    assert _captured(fm, 'Create Data File [ "/proc/fmscript-nope.txt" ]\nExit Script [ Get ( LastError ) ]') \
        == str(E_CANNOT_CREATE_FILE)
    assert not os.path.exists("/proc/fmscript-nope.txt")
    (tmp_path / "plain").write_text("a file, not a folder")
    for create in ("", " ; Create folders: On"):
        assert _captured(fm, f'Create Data File [ "plain/x.txt"{create} ]\nExit Script [ Get ( LastError ) ]') \
            == str(E_CANNOT_CREATE_FILE)
    assert (tmp_path / "plain").read_text() == "a file, not a folder"
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Create Data File [ "/proc/fmscript-nope.txt" ]')
    assert e.value.code == E_CANNOT_CREATE_FILE and "/proc/fmscript-nope.txt" in e.value.message
    assert "Traceback" not in e.value.render()
