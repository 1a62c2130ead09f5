"""AI accounts (Configure AI Account) and the provider registry the AI steps go through.

A provider is an object with ``fine_tune``, ``job_status``, ``wait``, ``cancel`` and ``chat`` (see
:class:`Provider`).  ``Local`` is the embedded engine; ``OpenAI`` and ``Custom`` talk HTTP through the
``openai`` SDK (:mod:`fmscript.ai.remote`); embedders add their own with :func:`register_provider`.
The API key lives only in the account object and is never part of its ``repr``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..errors import FMScriptError, E_AI_ACCOUNT_MISSING
from ..redact import mask, register_secret


class Provider(Protocol):
    def fine_tune(self, base_model: str, training_path: str, training_file_name: str, params: dict,
                  on_warning: Callable[[str], None] | None = None) -> dict: ...

    def job_status(self, job_id: str) -> dict: ...

    def wait(self, job_id: str, timeout: float | None = None, on_progress=None) -> dict: ...

    def cancel(self, job_id: str) -> dict: ...

    def chat(self, model: str, messages: list[dict], params: dict) -> str: ...


@dataclass
class Account:
    name: str
    provider_name: str  # canonical: OpenAI, Custom, Local, Anthropic (or a registered name)
    api_key: str = field(default="", repr=False)
    endpoint: str = ""
    verify_ssl: bool = False
    _provider: object = field(default=None, repr=False)
    providers: dict | None = field(default=None, repr=False)  # the interpreter's table (None: PROVIDERS)

    def __repr__(self) -> str:
        key = mask(self.api_key) if self.api_key else ""
        return (f"Account(name={self.name!r}, provider={self.provider_name!r}, endpoint={self.endpoint!r}, "
                f"api_key={key!r}, verify_ssl={self.verify_ssl})")

    @property
    def provider(self):
        if self._provider is None:
            table = PROVIDERS if self.providers is None else self.providers
            factory = table.get(self.provider_name.casefold())
            if factory is None:
                raise FMScriptError(f"model provider “{self.provider_name}” is not available; use "
                                    + ", ".join(sorted(_DISPLAY.get(k, k) for k in table)), code=1711)
            self._provider = factory(self)
        return self._provider

    def display(self) -> dict:
        """What :accounts and traces may show: never the key itself."""
        return {"name": self.name, "provider": self.provider_name, "endpoint": self.endpoint,
                "api_key": mask(self.api_key) if self.api_key else "", "verify_ssl": self.verify_ssl}


PROVIDERS: dict[str, Callable[[Account], object]] = {}
_DISPLAY: dict[str, str] = {}


def register_provider(name: str, factory: Callable[[Account], object]) -> None:
    """Make ``Model Provider: <name>`` available; ``factory(account)`` builds the provider object."""
    PROVIDERS[name.casefold()] = factory
    _DISPLAY[name.casefold()] = name


def configure(session, name: str, provider_name: str, api_key: str = "", endpoint: str = "",
              verify_ssl: bool = False) -> Account:
    register_secret(api_key)
    acct = Account(name, provider_name, api_key, endpoint, verify_ssl, providers=session.providers)
    session.accounts[name.casefold()] = acct
    return acct


def account(session, name: str) -> Account:
    acct = session.accounts.get(name.casefold())
    if acct is None:
        known = ", ".join(a.name for a in session.accounts.values()) or "none yet"
        raise FMScriptError(f"there is no AI account named “{name}”: run Configure AI Account first "
                            f"(accounts: {known})", code=E_AI_ACCOUNT_MISSING)
    return acct


class LocalProvider:
    """The embedded engine (mlx-lm in a worker process); no network, no key."""

    def __init__(self, acct: Account | None = None):
        from .local import LocalEngine
        self.engine = LocalEngine()

    def fine_tune(self, base_model, training_path, training_file_name, params, on_warning=None):
        return self.engine.fine_tune(base_model, training_path, params, training_file_name=training_file_name,
                                     on_warning=on_warning)

    def job_status(self, job_id):
        return self.engine.status(job_id)

    def wait(self, job_id, timeout=None, on_progress=None):
        return self.engine.wait(job_id, timeout=timeout, on_progress=on_progress)

    def cancel(self, job_id):
        return self.engine.cancel(job_id)

    def chat(self, model, messages, params):
        opts = dict(params)
        temperature = float(opts.pop("temperature", 0.0) or 0.0)
        max_tokens = int(opts.pop("max_tokens", opts.pop("max_completion_tokens", 256)) or 256)
        return self.engine.chat(model, messages, temperature=temperature, max_tokens=max_tokens)


def _remote(kind: str):
    def factory(acct: Account):
        from . import remote
        return remote.make_provider(kind, acct)
    return factory


class _Unsupported:
    def __init__(self, acct: Account):
        self.acct = acct

    def _no(self, what):
        raise FMScriptError(f"{what} is not supported with the {self.acct.provider_name} provider in fmscript",
                            code=1711)

    def fine_tune(self, *a, **k):
        self._no("Fine-Tune Model")

    def job_status(self, *a, **k):
        self._no("fine-tuning")

    wait = cancel = job_status

    def chat(self, *a, **k):
        self._no("Generate Response from Model")


register_provider("Local", LocalProvider)
register_provider("OpenAI", _remote("OpenAI"))
register_provider("Custom", _remote("Custom"))
register_provider("Anthropic", _Unsupported)
