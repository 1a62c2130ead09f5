"""The generated reference in docs/ is up to date, and `fmscript docs` is the one command that writes it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fmscript import catalog
from fmscript.docgen import generated_docs, render_steps_md, stale_docs, syntax_labels

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs_are_up_to_date():
    stale = [str(p.relative_to(ROOT)) for p in stale_docs(ROOT / "docs")]
    assert stale == [], f"run `fmscript docs` to regenerate {stale}"


def test_docs_check_command(tmp_path):
    r = subprocess.run([sys.executable, "-m", "fmscript", "docs", "--check", "--out", str(ROOT / "docs")],
                       capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "up to date" in r.stderr


def test_one_command_covers_steps_and_functions():
    names = {p.name for p in generated_docs()}
    assert {"steps.md", "functions.md"} <= names


def test_every_step_with_both_names_and_its_status():
    md = render_steps_md()
    for s in catalog.steps().items:
        assert f"\n### {s.name}\n" in md
        if s.zh:
            assert f"zh-Hans: **{s.zh_name}**" in md
    section = md.split("\n### Set Variable\n", 1)[1].split("\n### ", 1)[0]
    assert "**Implemented.**" in section and "| Value | 值 | value |" in section
    section = md.split("\n### Print Setup\n", 1)[1].split("\n### ", 1)[0]
    assert "**Not implemented**" in section
    section = md.split("\n### Fine-Tune Model\n", 1)[1].split("\n### ", 1)[0]
    assert "Differs from FileMaker:" in section and "replaced atomically" in section


def test_labels_are_read_from_the_syntax_template():
    assert syntax_labels("Show Custom Dialog [ Title: text ; Message: text ; Buttons ; Input fields ]")[:2] == \
        ["Title", "Message"]
    assert "Verify SSL Certificates" in syntax_labels(
        "Configure AI Account [ Account Name: name ; Model Provider: OpenAI ; Endpoint: url ; "
        "Verify SSL Certificates ; API key: key ]")
