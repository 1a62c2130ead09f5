"""Send Mail through a real SMTP server on loopback (aiosmtpd): recipients, headers, attachments, auth, and
FileMaker's 150x errors when the server refuses."""
from __future__ import annotations

import email
import email.policy
import socket

import pytest

from fmscript import Interpreter
from fmscript.errors import (E_FILE_MISSING, E_INVALID_PARAMETER, E_NO_MAIL_CLIENT, E_SMTP_AUTH_FAILED, E_SMTP_REFUSED,
                             FMScriptError)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _auth(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"ada" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def smtp(monkeypatch):
    inbox = Inbox()
    port = _free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_auth, auth_require_tls=False)
    ctl.start()
    monkeypatch.setenv("FMSCRIPT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FMSCRIPT_SMTP_PORT", str(port))
    monkeypatch.setenv("FMSCRIPT_SMTP_FROM", "fm@example.com")
    for k in ("FMSCRIPT_SMTP_USER", "FMSCRIPT_SMTP_PASSWORD", "FMSCRIPT_SMTP_SECURITY", "FMSCRIPT_SMTP_REPLY_TO"):
        monkeypatch.delenv(k, raising=False)
    yield inbox
    ctl.stop()


@pytest.fixture
def fm(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fm = Interpreter(on_dialog=lambda t, m: None)
    yield fm
    fm.close()


def test_one_message_with_cc_bcc_and_an_attachment(fm, smtp, tmp_path):
    (tmp_path / "report.csv").write_text("a,b\n1,2\n")
    fm.run_text("""Send Mail [ Send via SMTP Server ; With dialog: Off ; To: "ann@example.com; bob@example.com" ;
  Cc: "cy@example.com" ; Bcc: "dee@example.com" ; Subject: "Report " & 7 ;
  Message: "Line one¶Line two" ; Attach file: "report.csv" ]""")
    [(sender, rcpts, raw)] = smtp.messages
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert sender == "fm@example.com"
    assert rcpts == ["ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com"]
    assert msg["To"] == "ann@example.com, bob@example.com" and msg["Cc"] == "cy@example.com"
    assert msg["Bcc"] is None  # Bcc recipients get the mail but are not named in it
    assert msg["Subject"] == "Report 7"
    body, att = [p for p in msg.walk() if not p.is_multipart()]
    assert body.get_content().splitlines() == ["Line one", "Line two"]
    assert att.get_filename() == "report.csv" and att.get_content() == "a,b\n1,2\n"


def test_login_with_the_account_from_the_environment(fm, smtp, monkeypatch):
    monkeypatch.setenv("FMSCRIPT_SMTP_USER", "ada")
    monkeypatch.setenv("FMSCRIPT_SMTP_PASSWORD", "s3cret")
    fm.run_text('Send Mail [ Send via SMTP Server ; To: "x@example.com" ; Subject: "s" ; Message: "m" ]')
    assert len(smtp.messages) == 1
    monkeypatch.setenv("FMSCRIPT_SMTP_PASSWORD", "wrong")
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Send Mail [ Send via SMTP Server ; To: "x@example.com" ; Subject: "s" ; Message: "m" ]')
    assert e.value.code == E_SMTP_AUTH_FAILED and "wrong" not in e.value.message and "ada" in e.value.message
    assert len(smtp.messages) == 1


def test_refusals_are_filemaker_errors_and_send_nothing(fm, smtp, monkeypatch):
    def error(script):
        return int(fm.run_text("Set Error Capture [ On ]\n" + script + "\nExit Script [ Get ( LastError ) ]"))
    assert error('Send Mail [ Send via E-mail Client ; To: "x@example.com" ]') == E_NO_MAIL_CLIENT
    assert error('Send Mail [ Send via SMTP Server ; Subject: "nobody" ]') == E_INVALID_PARAMETER
    monkeypatch.setenv("FMSCRIPT_SMTP_PORT", str(_free_port()))  # nothing listens there
    assert error('Send Mail [ Send via SMTP Server ; To: "x@example.com" ]') == E_SMTP_REFUSED
    assert smtp.messages == []


def test_zh_hans(fm, smtp):
    fm.run_text('发送邮件 [ 通过 SMTP 服务器发送 ; 收件人: "x@example.com" ; 主题: "你好" ; 消息: "正文" ]')
    msg = email.message_from_bytes(smtp.messages[0][2], policy=email.policy.default)
    assert msg["Subject"] == "你好" and msg.get_content().strip() == "正文"


def test_set_session_identifier(fm):
    assert fm.run_text('Exit Script [ Get ( SessionIdentifier ) ]') == ""
    assert fm.run_text('Set Session Identifier [ Value: "Sharon " & "Lloyd" ]\nExit Script [ Get ( SessionIdentifier ) ]') \
        == "Sharon Lloyd"


# -- one email for each record, addresses collected across the found set, attachments per record ----------

@pytest.fixture
def people(fm, tmp_path):
    fm.session.data.create_table("People", [("Name", "text", False), ("Email", "text", False), ("File", "text", False)])
    for name, mail in [("Ann", "ann@example.com"), ("Bob", "bob@example.com"), ("Cy", "cy@example.com")]:
        (tmp_path / f"{name}.txt").write_text(f"for {name}\n")
        fm.run_text(f'Go to Layout [ "People" ]\nNew Record/Request\nSet Field [ People::Name ; "{name}" ]\n'
                    f'Set Field [ People::Email ; "{mail}" ]\nSet Field [ People::File ; "{name}.txt" ]')
    return fm


def parsed(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_one_message_for_each_record_from_its_fields(people, smtp):
    people.run_text('''Go to Layout [ "People" ]
Show All Records
Go to Record/Request/Page [ Last ]
Omit Record
Send Mail [ Send via SMTP Server ; With dialog: Off ; Multiple emails (one for each record in found set) ;
  To: People::Email ; Cc: "boss@example.com" ; Subject: "Hello " & People::Name ;
  Message: "Dear " & People::Name ; Attach file: People::File ]''')
    got = [(rcpts, parsed(raw)) for _, rcpts, raw in smtp.messages]
    assert [r for r, _ in got] == [["ann@example.com", "boss@example.com"], ["bob@example.com", "boss@example.com"]]
    assert [m["Subject"] for _, m in got] == ["Hello Ann", "Hello Bob"]
    for (_, m), name in zip(got, ("Ann", "Bob")):
        body, att = [p for p in m.walk() if not p.is_multipart()]
        assert body.get_content().strip() == f"Dear {name}"
        assert att.get_filename() == f"{name}.txt" and att.get_content() == f"for {name}\n"


def test_addresses_collected_across_the_found_set_make_one_message(people, smtp):
    people.run_text('''Go to Layout [ "People" ]
Show All Records
Send Mail [ Send via SMTP Server ; To: "list@example.com" ; Bcc: People::Email ; Collect addresses across found set ;
  Subject: "News" ; Message: "m" ]''')
    [(_, rcpts, raw)] = smtp.messages
    assert rcpts == ["list@example.com", "ann@example.com", "bob@example.com", "cy@example.com"]
    assert parsed(raw)["To"] == "list@example.com" and parsed(raw)["Bcc"] is None


def test_the_first_failing_message_stops_the_rest(people, smtp, tmp_path):
    (tmp_path / "Bob.txt").unlink()  # the second record's attachment is missing
    out = people.run_text('''Set Error Capture [ On ]
Go to Layout [ "People" ]
Show All Records
Send Mail [ Send via SMTP Server ; Multiple emails ; To: People::Email ; Subject: People::Name ; Attach file: People::File ]
Exit Script [ Get ( LastError ) ]''')
    assert int(out) == E_FILE_MISSING
    assert [parsed(raw)["Subject"] for _, _, raw in smtp.messages] == ["Ann"]  # Cy's message is not sent


def test_multiple_emails_in_zh_hans(people, smtp):
    people.run_text('转到布局 [ "People" ]\n显示所有记录\n'
                    '发送邮件 [ 通过 SMTP 服务器发送 ; 多封电子邮件 ; 收件人: People::Email ; 主题: People::Name ]')
    assert [rcpts for _, rcpts, _ in smtp.messages] == [["ann@example.com"], ["bob@example.com"], ["cy@example.com"]]


def test_collect_needs_an_address_option_before_it(fm):
    with pytest.raises(FMScriptError) as e:
        fm.load_text('Script "S"\nSend Mail [ Send via SMTP Server ; Collect addresses across found set ; '
                     'To: "x@example.com" ]\nEnd Script')
    assert "2:" in e.value.render() and "Collect addresses" in e.value.message
