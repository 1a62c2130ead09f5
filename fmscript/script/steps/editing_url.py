"""Insert from URL (FileMaker's Editing category) with the cURL options FileMaker supports, over httpx2 (the HTTP
client the ``openai`` package already brings).

The options text is split as a shell would (``--header \\"Content-type: application/json\\"``); an argument
naming a variable (``-D $headers``, ``--data @$body``, ``--cookie-jar $$jar``) is the variable, as Claris's
"Supported cURL options" page says, never a file.  An option FileMaker lists that fmscript does not carry out
is refused by name (error 5) rather than ignored, so a script never silently sends another request.
"""
from __future__ import annotations

import re
import shlex
import time
import urllib.parse
from http.cookiejar import Cookie

from ...calc.values import Container, to_text
from ...errors import (E_AUTH_FAILED, E_COMMAND_INVALID, E_CONNECTION_FAILED, E_CONNECTION_TIMED_OUT,
                       E_FIELD_MISSING, E_PROTOCOL_UNSUPPORTED, E_SSL_ERROR, StepError)
from ...errors import E_JSON_INVALID as E_URL_INVALID  # 1630 is FileMaker's "URL format is incorrect"
from .. import ast as S
from ..compile import make_var_setter
from . import step
from .data_access import DIALOG, calc_options

# Options that take an argument, by their long name; the short forms map to these.
SHORT = {"-X": "--request", "-H": "--header", "-d": "--data", "-D": "--dump-header", "-u": "--user",
         "-m": "--max-time", "-L": "--location", "-k": "--insecure", "-b": "--cookie", "-c": "--cookie-jar",
         "-F": "--form", "-A": "--user-agent", "-e": "--referer", "-I": "--head", "-G": "--get", "-f": "--fail",
         "-i": "--include", "-r": "--range", "-4": "--ipv4", "-6": "--ipv6", "-s": "--silent", "-S": "--show-error",
         "-v": "--verbose", "-j": "--junk-session-cookies"}
WITH_ARG = {"--request", "--header", "--data", "--data-ascii", "--data-binary", "--data-raw", "--data-urlencode",
            "--dump-header", "--user", "--max-time", "--connect-timeout", "--cookie", "--cookie-jar", "--form",
            "--form-string", "--user-agent", "--referer", "--range", "--max-redirs", "--trace", "--trace-ascii",
            "--FM-text-encoding", "--oauth2-bearer", "--proxy", "--max-filesize", "--expect100-timeout",
            "--keepalive-time", "--limit-rate", "--ciphers", "--interface", "--cert", "--cert-type", "--key",
            "--key-type", "--pass", "--continue-at"}
FLAGS = {"--location", "--insecure", "--head", "--get", "--fail", "--include", "--compressed", "--basic",
         "--digest", "--anyauth", "--ipv4", "--ipv6", "--silent", "--show-error", "--verbose", "--crlf",
         "--FM-return-container-variable", "--junk-session-cookies", "--trace-time", "--no-keepalive",
         "--tcp-nodelay", "--tlsv1", "--tlsv1.0", "--tlsv1.1", "--tlsv1.2", "--tlsv1.3", "--ssl", "--ssl-reqd",
         "--globoff", "--path-as-is", "--disable-epsv", "--disable-eprt", "--ignore-content-length"}
# Listed by FileMaker, accepted, and without effect here (connection tuning and FTP/TLS knobs httpx2 sets itself).
NO_EFFECT = {"--silent", "--show-error", "--verbose", "--crlf", "--no-keepalive", "--tcp-nodelay", "--tlsv1",
             "--tlsv1.0", "--tlsv1.1", "--tlsv1.2", "--tlsv1.3", "--ssl", "--ssl-reqd", "--globoff", "--path-as-is",
             "--disable-epsv", "--disable-eprt", "--ipv4", "--ipv6", "--trace-time", "--keepalive-time",
             "--expect100-timeout", "--basic", "--anyauth", "--junk-session-cookies", "--ignore-content-length"}
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}
MAX_BODY = 1 << 30  # what one response may hold, in bytes


class Request:
    """A request as the options describe it."""

    def __init__(self):
        self.method: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.data: list[bytes] = []
        self.urlencode: list[str] = []
        self.form: list[tuple[str, object]] = []
        self.user: str | None = None
        self.digest = False
        self.timeout: float | None = None
        self.connect_timeout: float | None = None
        self.follow = False
        self.max_redirs = 50
        self.insecure = False
        self.head = False
        self.get = False
        self.fail = False
        self.include = False
        self.compressed = False
        self.cookies: list[str] = []
        self.cookie_file: str | None = None
        self.cookie_jar: str | None = None
        self.dump_header: str | None = None
        self.trace: str | None = None
        self.range: str | None = None
        self.container = False
        self.bearer: str | None = None


def _var_name(arg: str, option: str) -> str:
    name = arg.strip()
    if not name.startswith("$") or len(name.lstrip("$")) == 0:
        raise StepError(f"{option} takes a variable ($name or $$name) in FileMaker, not “{arg}”",
                        code=E_COMMAND_INVALID)
    return name


def parse_options(text: str, variable) -> Request:
    """The cURL options text as a :class:`Request`; ``variable(name)`` reads a ``$``/``$$`` variable's value."""
    try:
        words = shlex.split(text.replace("¶", "\n"), posix=True)
    except ValueError as e:
        raise StepError(f"the cURL options cannot be read: {e}", code=E_COMMAND_INVALID) from None
    r = Request()
    i = 0

    def data_arg(arg: str, binary: bool) -> bytes:
        if arg.startswith("@"):
            v = variable(_var_name(arg[1:], "@"))
            raw = v.data if isinstance(v, Container) else to_text(v).encode("utf-8")
        else:
            raw = arg.encode("utf-8")
        if not binary:  # --data strips carriage returns and line feeds, as curl does for a file
            raw = raw.replace(b"\r", b"").replace(b"\n", b"")
        return raw

    while i < len(words):
        w = words[i]
        value = None
        if w.startswith("--") and "=" in w and w.split("=", 1)[0] in WITH_ARG:
            w, value = w.split("=", 1)
        name = SHORT.get(w, w) if not w.startswith("--") else w
        if w.startswith("-") and not w.startswith("--") and len(w) > 2 and w[:2] in SHORT:
            name, value = SHORT[w[:2]], w[2:]  # -XPOST, -HAccept:x
        if name in WITH_ARG:
            if value is None:
                i += 1
                if i >= len(words):
                    raise StepError(f"the cURL option {w} needs a value", code=E_COMMAND_INVALID)
                value = words[i]
        elif name in FLAGS:
            pass
        elif not w.startswith("-"):
            raise StepError(f"“{w}” in the cURL options is not an option (the URL goes in the step's URL)",
                            code=E_COMMAND_INVALID)
        else:
            raise StepError(f"the cURL option {w} is not one FileMaker supports", code=E_COMMAND_INVALID)
        i += 1
        if name in NO_EFFECT:
            continue
        if name == "--request":
            r.method = value.upper()
        elif name == "--header":
            if ":" not in value:
                raise StepError(f"the header “{value}” needs a name and a value: -H \"Name: value\"",
                                code=E_COMMAND_INVALID)
            k, v = value.split(":", 1)
            r.headers.append((k.strip(), v.strip()))
        elif name in ("--data", "--data-ascii"):
            r.data.append(data_arg(value, False))
        elif name == "--data-binary":
            r.data.append(data_arg(value, True))
        elif name == "--data-raw":
            r.data.append(value.encode("utf-8"))
        elif name == "--data-urlencode":
            r.urlencode.append(value)
        elif name in ("--form", "--form-string"):
            if "=" not in value:
                raise StepError(f"the form part “{value}” needs name=content", code=E_COMMAND_INVALID)
            k, v = value.split("=", 1)
            if name == "--form" and v.startswith("@"):
                part = variable(_var_name(v[1:].split(";", 1)[0], "-F name=@"))
                if isinstance(part, Container):
                    r.form.append((k, (part.name, part.data)))
                else:
                    r.form.append((k, ("file.txt", to_text(part).encode("utf-8"))))
            else:
                r.form.append((k, v))
        elif name == "--user":
            r.user = value
        elif name == "--digest":
            r.digest = True
        elif name == "--oauth2-bearer":
            r.bearer = value
        elif name in ("--max-time", "--connect-timeout"):
            try:
                seconds = float(value)
            except ValueError:
                raise StepError(f"{w} takes a number of seconds, not “{value}”", code=E_COMMAND_INVALID) from None
            if name == "--max-time":
                r.timeout = seconds
            else:
                r.connect_timeout = seconds
        elif name == "--max-redirs":
            r.max_redirs = int(value)
        elif name == "--location":
            r.follow = True
        elif name == "--insecure":
            r.insecure = True
        elif name == "--head":
            r.head = True
        elif name == "--get":
            r.get = True
        elif name == "--fail":
            r.fail = True
        elif name == "--include":
            r.include = True
        elif name == "--compressed":
            r.compressed = True
        elif name == "--cookie":
            if value.strip().startswith("$"):
                r.cookie_file = _var_name(value, w)
            else:
                r.cookies.append(value)
        elif name == "--cookie-jar":
            r.cookie_jar = _var_name(value, w)
        elif name == "--dump-header":
            r.dump_header = _var_name(value, w)
        elif name in ("--trace", "--trace-ascii"):
            r.trace = _var_name(value, w)
        elif name == "--user-agent":
            r.headers.append(("User-Agent", value))
        elif name == "--referer":
            r.headers.append(("Referer", value))
        elif name == "--range":
            r.range = value
        elif name == "--FM-return-container-variable":
            r.container = True
        else:
            raise StepError(f"the cURL option {w} is not carried out by fmscript", code=E_COMMAND_INVALID)
    return r


# ------------------------------------------------------------------------------------------------ cookies

def _netscape(jar) -> str:
    """The cookie jar in the Netscape format curl writes with --cookie-jar."""
    lines = ["# Netscape HTTP Cookie File"]
    for c in jar:
        lines.append("\t".join([c.domain, "TRUE" if c.domain.startswith(".") else "FALSE", c.path or "/",
                                "TRUE" if c.secure else "FALSE", str(int(c.expires or 0)), c.name, c.value or ""]))
    return "\n".join(lines) + "\n"


def _read_netscape(text: str, jar) -> None:
    for line in text.replace("\r", "\n").splitlines():
        if not line.strip() or (line.startswith("#") and not line.startswith("#HttpOnly_")):
            continue
        parts = line.split("\t")
        if len(parts) != 7:
            continue
        domain, _flag, path, secure, expires, name, value = parts
        domain = domain.removeprefix("#HttpOnly_")
        jar.set_cookie(Cookie(0, name, value, None, False, domain, True, domain.startswith("."), path, True,
                              secure == "TRUE", int(expires) if expires.isdigit() and int(expires) else None,
                              False, None, None, {}))


# ------------------------------------------------------------------------------------------------ the step

def _raw(headers) -> list[tuple[str, str]]:
    """Headers as the server wrote them (curl's -D keeps their case)."""
    raw = getattr(headers, "raw", None)
    if raw:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
    return list(headers.multi_items())


_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _encode_url(url: str) -> str:
    """Automatically encode URL: percent-encode what a URL cannot hold (a space is %20), keeping its structure
    and the %-escapes it already has (a lone % is %25)."""
    return urllib.parse.quote(_ESCAPE.sub("%25", url), safe=":/?#[]@!$&'()*+,;=%~")


def perform(url: str, r: Request, *, verify: bool, variable, set_variable) -> tuple[object, int]:
    """Send the request; (what goes in the target, HTTP status).  Errors are FileMaker's 16xx numbers."""
    import httpx2

    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise StepError(f"“{url}” is not a URL: give one like https://example.com/path", code=E_URL_INVALID)
    if parts.scheme.lower() not in ("http", "https"):
        raise StepError(f"fmscript's Insert from URL speaks http and https, not {parts.scheme}",
                        code=E_PROTOCOL_UNSUPPORTED)
    headers = list(r.headers)
    body: bytes | None = None
    files = None
    form_fields = None
    method = r.method
    if r.urlencode:
        enc = []
        for item in r.urlencode:
            if item.startswith("="):
                enc.append(urllib.parse.quote_plus(item[1:]))
            elif "=" in item:
                k, v = item.split("=", 1)
                enc.append(f"{k}={urllib.parse.quote_plus(v)}")
            elif "@" in item:
                k, v = item.split("@", 1)
                enc.append(f"{k}={urllib.parse.quote_plus(to_text(variable(_var_name(v, '--data-urlencode'))))}")
            else:
                enc.append(urllib.parse.quote_plus(item))
        r.data.append("&".join(enc).encode("ascii"))
    if r.data:
        joined = b"&".join(r.data)
        if r.get:
            sep = "&" if parts.query else "?"
            url = url + sep + joined.decode("utf-8", "replace")
        else:
            body = joined
            method = method or "POST"
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    if r.form:
        method = method or "POST"
        files = [(k, v) for k, v in r.form if isinstance(v, tuple)]
        form_fields = {k: v for k, v in r.form if not isinstance(v, tuple)}
    if r.head:
        method = "HEAD"
    method = method or "GET"
    if r.range:
        headers.append(("Range", f"bytes={r.range}"))
    if r.bearer:
        headers.append(("Authorization", f"Bearer {r.bearer}"))
    if r.compressed and not any(k.lower() == "accept-encoding" for k, _ in headers):
        headers.append(("Accept-Encoding", "gzip, deflate"))
    auth = None
    if r.user is not None:
        user, _, password = r.user.partition(":")
        auth = httpx2.DigestAuth(user, password) if r.digest else httpx2.BasicAuth(user, password)
    cookies = httpx2.Cookies()
    if r.cookie_file:
        _read_netscape(to_text(variable(r.cookie_file)), cookies.jar)
    for spec in r.cookies:
        headers.append(("Cookie", spec))
    timeout = httpx2.Timeout(r.timeout, connect=r.connect_timeout if r.connect_timeout is not None else r.timeout)
    trace: list[str] = []
    started = time.monotonic()
    try:
        with httpx2.Client(verify=verify and not r.insecure, follow_redirects=r.follow, max_redirects=r.max_redirs,
                           timeout=timeout, cookies=cookies, trust_env=False) as client:
            req = client.build_request(method, url, headers=headers, content=body if files is None else None,
                                       data=form_fields if files is not None else None, files=files or None)
            resp = client.send(req, auth=auth, stream=True)
            try:
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY:
                        raise StepError("the response is over 1 GB", code=E_CONNECTION_FAILED)
                    if r.timeout is not None and time.monotonic() - started > r.timeout:
                        raise httpx2.ReadTimeout("max-time")
                    chunks.append(chunk)
                content = b"".join(chunks)
            finally:
                resp.close()
            history = list(resp.history) + [resp]
    except StepError:
        raise
    except httpx2.TimeoutException:
        raise StepError(f"{parts.netloc} did not answer within the time limit", code=E_CONNECTION_TIMED_OUT) from None
    except httpx2.TooManyRedirects:
        raise StepError(f"more than {r.max_redirs} redirects from {parts.netloc}", code=E_CONNECTION_FAILED) from None
    except httpx2.ConnectError as e:
        msg = str(e)
        if "CERTIFICATE" in msg.upper() or "SSL" in msg.upper():
            raise StepError(f"the certificate of {parts.netloc} could not be verified: {msg}",
                            code=E_SSL_ERROR) from None
        raise StepError(f"cannot connect to {parts.netloc}: {msg or 'connection refused'}",
                        code=E_CONNECTION_FAILED) from None
    except httpx2.HTTPError as e:
        raise StepError(f"the request to {parts.netloc} failed: {e}", code=E_CONNECTION_FAILED) from None
    header_text = "".join(f"HTTP/1.1 {h.status_code} {h.reason_phrase}\r\n"
                          + "".join(f"{k}: {v}\r\n" for k, v in _raw(h.headers)) + "\r\n" for h in history)
    if r.dump_header:
        set_variable(r.dump_header, header_text.replace("\r\n", "\r"))
    if r.cookie_jar:
        set_variable(r.cookie_jar, _netscape(client.cookies.jar))
    if r.trace:
        for h in history:  # what was sent, as sent (auth included), with credentials masked
            trace.append(f"> {h.request.method} {h.request.url}")
            trace += [f"> {k}: {'***' if k.lower() in SECRET_HEADERS else v}" for k, v in _raw(h.request.headers)]
            if h is not resp:
                trace.append(f"< HTTP/1.1 {h.status_code} {h.reason_phrase}")
        trace.append(f"< HTTP/1.1 {resp.status_code} {resp.reason_phrase}")
        trace += [f"< {k}: {v}" for k, v in _raw(resp.headers)]
        trace.append(f"< ({len(content)} bytes)")
        set_variable(r.trace, "\r".join(trace))
    if r.fail and resp.status_code >= 400:
        code = E_AUTH_FAILED if resp.status_code in (401, 407) else E_CONNECTION_FAILED
        raise StepError(f"{url} answered HTTP {resp.status_code} {resp.reason_phrase} (--fail)", code=code)
    ctype = resp.headers.get("content-type", "")
    textual = (ctype.startswith("text/") or "json" in ctype or "xml" in ctype or "javascript" in ctype
               or "x-www-form-urlencoded" in ctype or not ctype)
    if r.container or not textual:
        name = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1]) or "file"
        result: object = Container(content, name)
    else:
        charset = resp.charset_encoding or "utf-8"
        try:
            result = content.decode(charset, errors="replace")
        except LookupError:
            result = content.decode("utf-8", errors="replace")
        if r.include:
            result = header_text + result
    return result, resp.status_code


@step("Insert from URL", labels=("Select", "Target", "Automatically encode URL", "Do not automatically encode URL",
                                 "Verify SSL Certificates", "cURL options") + DIALOG,
      calc_labels=("Target", "cURL options"),
      note="The response replaces the target's contents (there is no cursor to insert at). Only http and https "
           "URLs (error 1626 otherwise); an unsupported or misspelt cURL option is error 5, not ignored; with "
           "--fail an HTTP error status is error 1631 (1627 for 401/407). The URL is encoded unless the step says "
           "`Do not automatically encode URL`, as in FileMaker (a `%` already followed by two hex digits is kept: "
           "it is an escape); without encoding the URL goes as written, and one holding a space or a character "
           "outside ASCII, which an HTTP request line cannot carry, is error 1630. FileMaker's older text "
           "without `Target:` (`Insert from URL [ Select ; No dialog ; Table::Field ; \"https://…\" ]`) reads as "
           "the target, then the URL.")
def insert_from_url(st: S.Step, c):
    """Sends an HTTP request and puts the response in a field or variable; cURL options as FileMaker has them."""
    target_opt = st.get("Target")
    urls = [o for o in calc_options(st)]
    if (target_opt is None or target_opt.value is None) and len(urls) >= 2:
        target_opt, urls = urls[0], urls[1:]  # FileMaker 12–15's text: [ Select ; No dialog ; $target ; "url" ]
    if target_opt is None or target_opt.value is None:
        raise c.incomplete("Insert from URL has no Target, and there is no active field to use", E_FIELD_MISSING)
    target = c.target(target_opt)
    if not urls:
        raise c.incomplete("Insert from URL has no URL", E_URL_INVALID)
    url = c.text(urls[0])
    curl_opt = st.get("cURL options")
    curl = c.text(curl_opt) if curl_opt is not None and curl_opt.value is not None else None
    encode = "Do not automatically encode URL" not in st.words() and \
        c.on_off(st.get("Automatically encode URL"), True)
    verify = "Verify SSL Certificates" in st.words() or c.on_off(st.get("Verify SSL Certificates"), False)

    def run(f):
        from ...calc.compile import var_key

        def variable(name: str):
            scope = f.session.globals if name.startswith("$$") else f.locals
            return scope.get(var_key(name), "")

        def set_variable(name: str, value) -> None:
            make_var_setter(name, name.startswith("$$"))(f, value)

        text = url(f).strip()
        if encode:
            text = _encode_url(text)
        elif any(ch <= " " or ch > "~" for ch in text):
            raise StepError(f"“{text}” holds a space or a character outside ASCII, which cannot be sent as written "
                            "(Do not automatically encode URL): encode it, or let Insert from URL encode it",
                            code=E_URL_INVALID)
        request = parse_options(curl(f), variable) if curl is not None else Request()
        result, _status = perform(text, request, verify=verify, variable=variable, set_variable=set_variable)
        target(f, result)
    return run

