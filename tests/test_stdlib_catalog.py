"""Checks of the bilingual catalogue data in stdlib/ (steps, labels, constants, Get names)."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = ROOT / "stdlib"
CONFORMANCE = Path(__file__).resolve().parent / "conformance" / "script-steps.tsv"

FORBIDDEN = re.compile(r"[:;\[\]：；［］]")


def read_tsv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    assert not text.startswith("\ufeff"), f"{path.name}: no BOM allowed"
    lines = text.split("\n")
    assert lines[-1] == "", f"{path.name}: must end with a newline"
    lines = lines[:-1]
    header = lines[0].split("\t")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        assert "\r" not in line, f"{path.name}:{n}: CR found"
        cells = line.split("\t")
        assert len(cells) == len(header), f"{path.name}:{n}: {len(cells)} cells, expected {len(header)}"
        rows.append(dict(zip(header, cells)))
    return header, rows


def split(cell: str) -> list[str]:
    return [v for v in cell.split("|")] if cell else []


def norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def names_of(row: dict[str, str], key: str) -> list[str]:
    return [row[key], *split(row["zh"]), *split(row["aliases"])]


@pytest.fixture(scope="module")
def steps():
    header, rows = read_tsv(STDLIB / "steps.tsv")
    assert header == ["name", "zh", "aliases", "category", "syntax", "since"]
    return rows


@pytest.fixture(scope="module")
def labels():
    header, rows = read_tsv(STDLIB / "labels.tsv")
    assert header == ["label", "zh", "aliases", "kind"]
    return rows


@pytest.fixture(scope="module")
def constants():
    header, rows = read_tsv(STDLIB / "constants.tsv")
    assert header == ["constant", "zh", "aliases"]
    return rows


@pytest.fixture(scope="module")
def get_names():
    header, rows = read_tsv(STDLIB / "get.tsv")
    assert header == ["name", "zh", "aliases"]
    return rows


def test_catalogue_steps_match_conformance(steps):
    _, expected = read_tsv(CONFORMANCE)
    assert len(expected) == 216
    got = steps[: len(expected)]
    for exp, row in zip(expected, got):
        for col in ("name", "category", "syntax", "since"):
            assert row[col] == exp[col], f"{exp['name']}: column {col} differs"


#: FileMaker's obsolete steps that exports of older files still hold (the Script Workspace prints them with
#: ``#[OBSOLETE]``): not in today's catalogue, so after it, each with the version it came from.
OBSOLETE = ["Set Allowed Orientations", "Insert QuickTime", "Insert Object"]


def test_extra_steps_are_fmscript_or_filemakers_obsolete_ones(steps):
    extra = steps[216:]
    assert [r["name"] for r in extra] == ["Wait for Fine-Tune Job"] + OBSOLETE
    assert extra[0]["category"] == "fmscript" and extra[0]["since"] == "fmscript"
    assert "等待微调作业" in split(extra[0]["zh"])
    for r in extra[1:]:
        assert r["category"] == "Obsolete" and re.fullmatch(r"\d+\.0( or earlier)?", r["since"]), r


@pytest.mark.parametrize(
    "file,key",
    [("steps", "name"), ("labels", "label"), ("constants", "constant"), ("get_names", "name")],
)
def test_names_well_formed_and_unique(request, file, key):
    rows = request.getfixturevalue(file)
    owner: dict[str, str] = {}
    for row in rows:
        assert row["zh"], f"{row[key]}: no zh name"
        for name in names_of(row, key):
            assert name, f"{row[key]}: empty name in a list"
            assert name == name.strip(), f"{name!r}: leading/trailing space"
            assert "  " not in name and "\t" not in name, f"{name!r}: whitespace not single spaces"
            if file != "steps" or name != row["name"]:
                # The catalogue's own step names are kept as written; every other name is checked.
                assert not FORBIDDEN.search(name), f"{name!r}: contains a separator character"
            k = norm(name)
            if k in owner:
                assert owner[k] == row[key], f"{name!r} maps to both {owner[k]!r} and {row[key]!r}"
            owner[k] = row[key]


def test_step_names_have_no_separators(steps):
    for row in steps:
        assert not FORBIDDEN.search(row["name"]), row["name"]


def test_label_kinds(labels):
    for row in labels:
        assert row["kind"] in {"flag", "value"}, row


def _lookup(rows, key):
    table = {}
    for row in rows:
        for name in names_of(row, key):
            table[norm(name)] = row[key]
    return table


REQUIRED_STEP_ZH = {
    "Set Variable": ["设置变量"],
    "Configure AI Account": ["配置 AI 账户"],
    "Fine-Tune Model": ["微调模型"],
    "Set Field": ["设置字段"],
    "Go to Layout": ["转到布局"],
    "Perform Find": ["执行查找"],
    "Generate Response from Model": ["从模型生成回复", "从生成模型响应", "从模型生成响应"],
    "Save Records as JSONL": ["将记录保存为 JSONL"],
    "If": ["如果"],
    "Else If": ["否则，如果", "否则如果"],
    "Else": ["否则"],
    "End If": ["结束如果"],
    "Loop": ["循环"],
    "Exit Loop If": ["如果满足则退出循环"],
    "End Loop": ["结束循环"],
    "Exit Script": ["退出脚本"],
    "Halt Script": ["中止脚本"],
    "Perform Script": ["执行脚本"],
    "Show Custom Dialog": ["显示自定义对话框"],
    "# (Comment)": ["# (注释)"],
    "Wait for Fine-Tune Job": ["等待微调作业"],
}

REQUIRED_STEP_ALIASES = {
    "Open Settings": ["Open Preferences"],
    "Perform Script On Server": ["Perform Script on Server"],
    "Speak (macOS)": ["Speak"],
    "Perform AppleScript (macOS)": ["Perform AppleScript"],
    "Send DDE Execute (Windows)": ["Send DDE Execute"],
    "# (Comment)": ["Comment"],
    "Insert from Index": ["Insert From Index"],
}


def test_required_step_names(steps):
    table = _lookup(steps, "name")
    for step, names in {**REQUIRED_STEP_ZH, **REQUIRED_STEP_ALIASES}.items():
        for name in names:
            assert table.get(norm(name)) == step, f"{name!r} should name {step!r}"


def test_every_syntax_head_resolves(steps):
    """The name a syntax template starts with resolves to its own step (e.g. `Comment`, `Open Preferences`)."""
    table = _lookup(steps, "name")
    for row in steps:
        head = row["syntax"].split("[")[0].strip()
        assert table.get(norm(head)) == row["name"], f"{head!r} does not resolve to {row['name']!r}"


REQUIRED_LABELS = {
    "Account Name": ["账户名称", "账户名"],
    "Response Target": ["响应目标", "回复目标"],
    "API key": ["API 密钥"],
    "Endpoint": ["端点"],
    "Base Model": ["基础模型"],
    "Training Data": ["训练数据"],
    "Completion Field": ["完成字段"],
    "Fine-Tune Parameters": ["微调参数"],
    "Model Provider": ["模型提供商"],
    "Value": ["值"],
    "User Prompt": ["用户提示"],
    "Response": ["响应", "回复"],
    "Model": ["模型"],
    "Verify SSL Certificates": ["验证 SSL 证书"],
    "Agentic mode": ["代理模式", "Agentic Mode"],
    "Script Result": ["Text Result", "文本结果"],
    "Format for fine-tuning": ["用于微调的格式"],
    "Job ID": [],
    "Timeout": [],
    "Repetition": [],
    "Parameter": [],
    "Specified": [],
    "Wait for completion": [],
    "Duration (seconds)": [],
    "Instructions": [],
    "Messages": [],
    "Title": [],
    "Message": [],
    "Buttons": [],
    "Input fields": [],
    "Target": [],
    "Table": [],
    "System Prompt": [],
    "Assistant Prompt": [],
    "Create folders": [],
    "With dialog": [],
    "Exit after last": [],
    "By Calculation": [],
    "Parameters": [],
    "Save Message History To": [],
    "Tool Calls": [],
}

REQUIRED_FLAGS = [
    "Verify SSL Certificates", "Agentic mode", "Select", "Pause", "Force commit",
    "Automatically encode URL", "Create folders", "Current file only",
]


def test_required_labels(labels):
    table = _lookup(labels, "label")
    for label, names in REQUIRED_LABELS.items():
        for name in [label, *names]:
            assert table.get(norm(name)) == label, f"{name!r} should name label {label!r}"
    kinds = {r["label"]: r["kind"] for r in labels}
    for flag in REQUIRED_FLAGS:
        assert kinds.get(flag) == "flag", flag


def test_labels_cover_catalogue_syntax(steps, labels):
    """Every `Label:` of the catalogue's syntax templates is a known label (one exception, see README)."""
    table = _lookup(labels, "label")
    missing = set()
    for row in steps:
        m = re.search(r"\[(.*)\]", row["syntax"])
        if not m:
            continue
        for part in re.split(r"[;|]", m.group(1)):
            for alt in part.split(" / "):
                alt = alt.strip()
                if ":" not in alt or alt.startswith('"') or "::" in alt:
                    continue
                label = alt.split(":", 1)[0].strip()
                if label.startswith("AppID"):
                    continue  # "AppID:APIKey for Webhooks" holds a colon itself
                if norm(label) not in table:
                    missing.add(label)
    assert not missing, sorted(missing)


REQUIRED_CONSTANTS = {
    "On": ["开"], "Off": ["关"], "Table": ["表"], "File": ["文件"], "OpenAI": [], "Anthropic": [],
    "Custom": ["自定义"], "Local": ["本地"], "Restore": ["恢复"], "No dialog": ["无对话框"],
    "First": ["第一个"], "Last": ["最后一个"], "Previous": ["上一个"], "Next": ["下一个"],
    "Ascending": [], "Descending": [], "Current Table": [], "Current contents": [], "Serial numbers": [],
    "Calculated result": [], "Records being browsed": [], "Current record": [], "Blank record": [],
    "Current Window": [], "Specify data source": [], "Specify import order": [], "Output file": [],
    "Fields in order": [], "Replace": [], "Constrain": [], "Extend": [], "Queue": [], "Clear": [],
    "UTF-8": [], "UTF-16": [], "Bytes": [], "Original layout": [], "Layout number": [],
}


def test_required_constants(constants):
    table = _lookup(constants, "constant")
    for const, names in REQUIRED_CONSTANTS.items():
        for name in [const, *names]:
            assert table.get(norm(name)) == const, f"{name!r} should name constant {const!r}"


REQUIRED_GET = {
    "DocumentsPath": ["文档路径"], "TemporaryPath": ["临时路径"], "DesktopPath": ["桌面路径"],
    "FilePath": ["文件路径"], "FileName": ["文件名"], "ScriptParameter": ["脚本参数"],
    "ScriptResult": ["脚本结果"], "ScriptName": ["脚本名称"], "LastError": ["上次错误"],
    "LastErrorDetail": ["上次错误详细信息"], "LastErrorLocation": [], "CurrentDate": ["当前日期"],
    "CurrentTime": ["当前时间"], "CurrentTimestamp": ["当前时间戳"], "CurrentTimeUTCMilliseconds": [],
    "SystemPlatform": ["系统平台"], "ApplicationVersion": ["应用程序版本"], "ApplicationLanguage": [],
    "SystemLanguage": [], "SystemVersion": [], "AccountName": ["账户名称"], "UserName": ["用户名"],
    "FoundCount": ["找到记录数"], "RecordNumber": ["记录编号"], "TotalRecordCount": ["记录总数"],
    "LayoutName": ["布局名称"], "LayoutTableName": ["布局表名称"], "RecordID": ["记录 ID"],
    "WindowMode": ["窗口模式"], "LastMessageChoice": [], "HostName": [], "UUID": [], "UUIDNumber": [],
    "PreferencesPath": [], "SystemNICAddress": [], "ScriptAnimationState": [], "ErrorCaptureState": [],
    "AllowAbortState": [], "CalculationRepetitionNumber": [], "ActiveFieldName": [],
    "ActiveFieldTableName": [], "CurrentHostTimestamp": [], "ModifiedFields": [], "RecordOpenState": [],
    "RecordModificationCount": [], "SortState": [], "FileMakerPath": [], "ApplicationArchitecture": [],
    "Device": [], "NetworkProtocol": [], "PersistentID": [], "TextRulerVisible": [],
    "UseSystemFormatsState": [], "WindowName": [],
}


def test_get_names(get_names):
    assert len(get_names) >= 80
    table = _lookup(get_names, "name")
    for name, zh in REQUIRED_GET.items():
        for n in [name, *zh]:
            assert table.get(norm(n)) == name, f"{n!r} should name Get ( {name} )"
    for row in get_names:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", row["name"]), row["name"]


def test_conformance_copy_has_attribution():
    readme = (Path(__file__).resolve().parent / "conformance" / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "claris-filemaker-pro-skill" in readme
