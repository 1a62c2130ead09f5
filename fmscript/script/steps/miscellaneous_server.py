"""Miscellaneous steps that scripts run on a server rely on: Get Folder Path (headless), Send Mail over SMTP,
Set Session Identifier (Execute FileMaker Data API is in ``miscellaneous_data_api``).
"""
from __future__ import annotations

import os
from pathlib import Path

from ...data import paths
from ...errors import (E_CANNOT_CREATE_FILE, E_COMMAND_UNAVAILABLE, E_FILE_MISSING, E_INVALID_PARAMETER,
                       E_MAIL_NOT_SENT, E_NO_MAIL_CLIENT, E_NO_RECORDS_MATCH, E_SMTP_AUTH_FAILED,
                       E_SMTP_AUTH_UNSUPPORTED, E_SMTP_REFUSED, E_SMTP_SSL, StepError)
from .. import ast as S
from . import step
from .data_access import calc_options, committed
from .files_data import os_error


@step("Get Folder Path", labels=("Allow Folder Creation", "Dialog Title", "Default Location"),
      note="Nobody picks a folder on a command line: the result is the Default location when the step gives one "
           "(made when Allow Folder Creation is on), else Get ( DocumentsPath ).")
def get_folder_path(st: S.Step, c):
    """Puts a folder path, in FileMaker's form (leading and trailing ``/``), in the variable."""
    allow = c.on_off(st.get("Allow Folder Creation"), False) or "Allow Folder Creation" in st.words()
    opts = calc_options(st)
    if not opts:
        raise c.incomplete("Get Folder Path has no target variable")
    target = c.target(opts[0], "a variable")
    loc_opt = st.get("Default Location") or (opts[2] if len(opts) > 2 else None)
    location = c.text(loc_opt) if loc_opt is not None else None

    def run(f):
        text = location(f).strip() if location else ""
        if text:
            folder = paths.candidates(text, f.session.base_dir, reading=False)[0]
            if not folder.is_dir():
                if not allow:
                    raise StepError(f"the folder {folder} does not exist (turn on Allow Folder Creation)",
                                    code=E_FILE_MISSING)
                try:
                    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                except OSError as e:
                    raise os_error(e, folder, E_CANNOT_CREATE_FILE) from None
        else:
            folder = Path(os.environ.get("FMSCRIPT_DOCUMENTS") or Path.home() / "Documents")
        target(f, paths.fm_file_path(folder, folder=True))
    return run


# ------------------------------------------------------------------------------------------------ Send Mail

def smtp_settings() -> dict:
    """Where Send Mail [ Send via SMTP Server ] sends: FileMaker keeps these in the step's SMTP Options dialog,
    which its text form does not show, so fmscript reads them from the environment (the password never from
    script text)."""
    host = os.environ.get("FMSCRIPT_SMTP_HOST", "")
    port = os.environ.get("FMSCRIPT_SMTP_PORT", "")
    if ":" in host and not port:
        host, port = host.rsplit(":", 1)
    security = os.environ.get("FMSCRIPT_SMTP_SECURITY", "none").strip().lower()
    if security not in ("none", "starttls", "ssl"):
        raise StepError(f"FMSCRIPT_SMTP_SECURITY is “{security}”: use none, starttls or ssl", code=E_INVALID_PARAMETER)
    return {"host": host, "port": int(port) if port else (465 if security == "ssl" else 25),
            "security": security, "user": os.environ.get("FMSCRIPT_SMTP_USER", ""),
            "password": os.environ.get("FMSCRIPT_SMTP_PASSWORD", ""),
            "from": os.environ.get("FMSCRIPT_SMTP_FROM", ""), "reply_to": os.environ.get("FMSCRIPT_SMTP_REPLY_TO", "")}


def addresses(text: str) -> list[str]:
    """FileMaker separates several addresses with semicolons or returns."""
    return [a.strip() for a in text.replace("¶", ";").replace("\r", ";").replace("\n", ";").replace(",", ";")
            .split(";") if a.strip()]


def send_smtp(settings: dict, msg, recipients: list[str], timeout: float = 30) -> None:
    """Send one message; SMTP failures become FileMaker's 150x errors (never a traceback, never the password)."""
    import smtplib
    import ssl

    where = f"{settings['host']}:{settings['port']}"
    try:
        if settings["security"] == "ssl":
            server = smtplib.SMTP_SSL(settings["host"], settings["port"], timeout=timeout,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings["host"], settings["port"], timeout=timeout)
        with server:
            if settings["security"] == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings["user"]:
                try:
                    server.login(settings["user"], settings["password"])
                except smtplib.SMTPNotSupportedError:
                    raise StepError(f"the SMTP server at {where} offers no authentication",
                                    code=E_SMTP_AUTH_UNSUPPORTED) from None
                except smtplib.SMTPAuthenticationError as e:
                    raise StepError(f"the SMTP server at {where} refused the account “{settings['user']}”: "
                                    f"{_smtp_text(e)}", code=E_SMTP_AUTH_FAILED) from None
            server.send_message(msg, from_addr=settings["from"] or None, to_addrs=recipients)
    except StepError:
        raise
    except ssl.SSLError as e:
        raise StepError(f"TLS with the SMTP server at {where} failed: {e.reason or e}", code=E_SMTP_SSL) from None
    except (ConnectionRefusedError, smtplib.SMTPConnectError, TimeoutError, OSError) as e:
        if isinstance(e, smtplib.SMTPException) and not isinstance(e, smtplib.SMTPConnectError):
            raise StepError(f"the mail was not sent: {_smtp_text(e)}", code=E_MAIL_NOT_SENT) from None
        raise StepError(f"cannot connect to the SMTP server at {where}: {getattr(e, 'strerror', None) or e}",
                        code=E_SMTP_REFUSED) from None
    except smtplib.SMTPException as e:
        raise StepError(f"the mail was not sent: {_smtp_text(e)}", code=E_MAIL_NOT_SENT) from None


def _smtp_text(e) -> str:
    msg = getattr(e, "smtp_error", None)
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "replace")
    if getattr(e, "recipients", None):
        return "; ".join(f"{k}: {v[1].decode('utf-8', 'replace') if isinstance(v[1], bytes) else v[1]}"
                         for k, v in e.recipients.items())
    return str(e)


MULTIPLE = "Multiple emails (one for each record in found set)"
COLLECT = "Collect addresses across found set"


SMTP_LABELS = ("Name", "Email Address", "Reply-To Address", "SMTP Server", "Port", "Authentication Type",
               "User Name", "Password", "Use TLS", "Use SSL")
OAUTH_LABELS = ("OAuth 2.0 Provider", "Service Account Email", "Admin User Email", "Private Key")


@step("Send Mail", labels=("To", "Cc", "Bcc", "Subject", "Message", "Attach file", "With dialog") + SMTP_LABELS
      + OAUTH_LABELS, calc_labels=("To", "Cc", "Bcc", "Subject", "Message", "Attach file", "Name", "Email Address",
                                   "Reply-To Address", "SMTP Server", "Port", "User Name", "Password")
      + OAUTH_LABELS[1:],
      note="Send via SMTP Server uses the SMTP options the step gives (Name, Email Address, Reply-To Address, SMTP "
           "Server, Port, Use SSL or Use TLS, Authentication Type, User Name, Password, as FileMaker prints them); "
           "those it leaves out come from FMSCRIPT_SMTP_HOST / _PORT / _SECURITY (none, starttls, ssl) / _USER / "
           "_PASSWORD / _FROM / _REPLY_TO. Use TLS is STARTTLS. Send via E-mail Client gives error 119 (there is no "
           "mail client on a command line) and Send via OAuth 2.0 error 3 (nobody can sign in to the provider). "
           "The dialog's choices are written as words: Multiple emails (one for each record in found set), and "
           "Collect addresses across found set after the To, Cc or Bcc it applies to.")
def send_mail(st: S.Step, c):
    """Sends email through an SMTP server: one message, or one for each record in the found set.

    The password is a calculation like any other option, and is never shown: not in a message, not in a
    trace, not in the parse cache (a literal one is one of the script's secrets)."""
    words = st.words()
    via_client = "Send via E-mail Client" in words
    via_oauth = "Send via OAuth 2.0" in words or any(st.get(k) is not None for k in OAUTH_LABELS)
    multiple = MULTIPLE in words
    to, cc, bcc = (c.text(st.get(k)) if st.get(k) is not None else None for k in ("To", "Cc", "Bcc"))
    collect = set()  # the address options a "Collect addresses across found set" follows
    last = None
    for o in st.options:
        if o.label in ("To", "Cc", "Bcc"):
            last = o.label
        elif o.label is None and isinstance(o.value, S.Word) and o.value.name == COLLECT:
            if last is None:
                raise c.error(f"{COLLECT} follows the To, Cc or Bcc whose addresses it collects")
            collect.add(last)
    given = {k: c.text(st.get(k)) for k in ("Name", "Email Address", "Reply-To Address", "SMTP Server", "Port",
                                             "User Name", "Password") if st.get(k) is not None}
    security = "ssl" if "Use SSL" in words or st.get("Use SSL") is not None else \
        "starttls" if "Use TLS" in words or st.get("Use TLS") is not None else None
    auth = st.get("Authentication Type")
    no_auth = auth is not None and isinstance(auth.value, S.Word) and auth.value.name == "None"

    def step_settings(f) -> dict:
        """The environment's settings, overridden by the SMTP options the step gives."""
        from email.utils import formataddr

        settings = smtp_settings()
        values = {k: fn(f).strip() if k != "Password" else fn(f) for k, fn in given.items()}
        if "SMTP Server" in values:
            settings["host"] = values["SMTP Server"]
            settings["security"] = security or "none"
        elif security is not None:
            settings["security"] = security
        if "Port" in values:
            try:
                settings["port"] = int(values["Port"])
            except ValueError:
                raise StepError(f"the SMTP port “{values['Port']}” is not a number", code=E_INVALID_PARAMETER) \
                    from None
        elif "SMTP Server" in values:
            settings["port"] = 465 if settings["security"] == "ssl" else 25
        if no_auth:
            settings["user"], settings["password"] = "", ""
        else:
            settings["user"] = values.get("User Name", settings["user"])
            settings["password"] = values.get("Password", settings["password"])
        if values.get("Email Address"):
            settings["from"] = values["Email Address"]
        settings["from_header"] = formataddr((values["Name"], settings["from"])) if values.get("Name") \
            else settings["from"]
        if values.get("Reply-To Address"):
            settings["reply_to"] = values["Reply-To Address"]
        return settings

    subject = c.text(st.get("Subject")) if st.get("Subject") is not None else (lambda f: "")
    message = c.text(st.get("Message")) if st.get("Message") is not None else (lambda f: "")
    attach = [c.text(st.get("Attach file"))] if st.get("Attach file") is not None else []
    address_fns = (("To", to), ("Cc", cc), ("Bcc", bcc))

    def compose(f, settings: dict, lists: dict):
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid
        import mimetypes

        recipients = lists["To"] + lists["Cc"] + lists["Bcc"]
        if not recipients:
            raise StepError("Send Mail has no recipient: give To, Cc or Bcc", code=E_INVALID_PARAMETER)
        msg = EmailMessage()
        msg["From"] = settings.get("from_header") or settings["from"]
        for k in ("To", "Cc"):
            if lists[k]:
                msg[k] = ", ".join(lists[k])
        if settings["reply_to"]:
            msg["Reply-To"] = settings["reply_to"]
        msg["Subject"] = subject(f).replace("\r", " ").replace("\n", " ")
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=settings["host"] or None)
        msg.set_content(message(f).replace("\r\n", "\n").replace("\r", "\n"))
        for path_text in attach:
            for line in paths.entries(path_text(f), paths.frame_variables(f)):
                p = paths.resolve_input(line, f.session.base_dir, paths.frame_variables(f), "file to attach")
                ctype, _ = mimetypes.guess_type(p.name)
                main, sub = (ctype or "application/octet-stream").split("/", 1)
                try:
                    data = p.read_bytes()
                except OSError as e:
                    raise os_error(e, p, E_FILE_MISSING) from None
                msg.add_attachment(data, maintype=main, subtype=sub, filename=p.name)
        return msg, recipients

    def run(f):
        if via_client:
            raise StepError("Send via E-mail Client needs a mail program, which a command line does not have: "
                            "use Send via SMTP Server", code=E_NO_MAIL_CLIENT)
        if via_oauth:
            raise StepError("Send via OAuth 2.0 needs someone to sign in to the mail provider, which a command line "
                            "cannot do: use Send via SMTP Server", code=E_COMMAND_UNAVAILABLE)
        settings = step_settings(f)
        if not settings["host"]:
            raise StepError("Send via SMTP Server needs a server: give SMTP Server in the step, or set "
                            "FMSCRIPT_SMTP_HOST (and _PORT, _FROM…)", code=E_INVALID_PARAMETER)
        if not settings["from"]:
            raise StepError("Send via SMTP Server needs a sender: give Email Address in the step, or set "
                            "FMSCRIPT_SMTP_FROM", code=E_INVALID_PARAMETER)
        if not multiple and not collect:
            lists = {k: addresses(fn(f)) if fn else [] for k, fn in address_fns}
            send_smtp(settings, *compose(f, settings, lists))
            return None
        db, ctx = committed(f)
        saved = ctx.index
        try:
            if not multiple:  # one message; the collected options take every record's addresses
                lists = {k: addresses(fn(f)) if fn and k not in collect else [] for k, fn in address_fns}
                for i in range(len(ctx.found)):
                    ctx.index = i
                    for k in collect:
                        lists[k] += [a for a in addresses(dict(address_fns)[k](f)) if a not in lists[k]]
                ctx.index = saved
                send_smtp(settings, *compose(f, settings, lists))
                return None
            if not ctx.found:
                raise StepError("there are no records in the found set to send a message for",
                                code=E_NO_RECORDS_MATCH)
            for i in range(len(ctx.found)):  # FileMaker stops at the first message that fails
                ctx.index = i
                lists = {k: addresses(fn(f)) if fn else [] for k, fn in address_fns}
                send_smtp(settings, *compose(f, settings, lists))
        finally:
            ctx.index = min(saved, max(len(ctx.found) - 1, 0))
        return None
    return run


@step("Set Session Identifier", labels=("Value",),
      note="Get ( SessionIdentifier ) returns the value in any file (FileMaker: in hosted files only).")
def set_session_identifier(st: S.Step, c):
    """Sets the identifier of the session (by default, Get ( UserName ))."""
    opt = st.get("Value") or next(iter(calc_options(st)), None)
    if opt is None:
        raise c.incomplete("Set Session Identifier has no value")
    value = c.text(opt)

    def run(f):
        f.session.extensions["session_identifier"] = value(f)
    return run
