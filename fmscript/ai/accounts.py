"""AI accounts (Configure AI Account) and the provider registry the AI steps go through.

A provider is a :class:`Provider`: ``fine_tune``, ``job_status``, ``wait``, ``cancel``, ``chat`` and ``embed``. The base
class answers FileMaker's "request not supported" (error 21), naming the provider, for every capability a
provider does not override, so a new capability is one method here and one in each provider that has it.
``Local`` is the embedded engine itself (:class:`fmscript.ai.local.LocalEngine`); ``OpenAI`` and ``Custom`` talk
HTTP through the ``openai`` SDK (:mod:`fmscript.ai.remote`); embedders add their own with
:func:`register_provider`. The API key lives only in the account object and is never part of its ``repr``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import E_AI_ACCOUNT_MISSING, E_AI_REQUEST_FAILED, E_REQUEST_NOT_SUPPORTED, FMScriptError
from ..redact import mask, register_secret


class Provider:
    """What the AI steps ask of a model provider. Each method a provider lacks says so with error 21."""

    #: The provider's name as Configure AI Account writes it (used in messages).
    provider_name = "this"

    def unsupported(self, what: str):
        raise FMScriptError(f"{what} is not supported by the {self.provider_name} provider in fmscript.",
                            code=E_REQUEST_NOT_SUPPORTED)

    def fine_tune(self, base_model: str, training_path: str, params: dict | None = None,
                  training_file_name: str | None = None, on_warning: Callable[[str], None] | None = None) -> dict:
        """Start a job; the response target's JSON."""
        self.unsupported("Fine-Tune Model")

    def job_status(self, job_id: str) -> dict:
        """The job's JSON (FineTuneJobStatus)."""
        self.unsupported("Fine-tuning job status")

    def wait(self, job_id: str, timeout: float | None = None, on_progress=None) -> dict:
        """Block until the job ends or ``timeout`` passes; ``on_progress(event)`` sees each new event."""
        self.unsupported("Wait for Fine-Tune Job")

    def cancel(self, job_id: str) -> dict:
        self.unsupported("Cancelling a fine-tuning job")

    def chat(self, model: str, messages: list[dict], params: dict) -> str:
        """Generate Response from Model: the answer's text."""
        self.unsupported("Generate Response from Model")

    def chat_turn(self, model: str, messages: list[dict], params: dict, tools: list[dict] | None = None,
                  on_text: Callable[[str], None] | None = None):
        """One model answer with tool calling and streaming: a :class:`fmscript.ai.tools.Turn`. ``tools`` is
        OpenAI's list; ``on_text(piece)`` sees the answer's text as it comes. A provider with only ``chat``
        answers without tools, in one piece."""
        return plain_turn(self, model, messages, params, tools, on_text)

    def embed(self, model: str, inputs: list[str], params: dict | None = None) -> list:
        """Insert Embedding, GetEmbedding, Perform Semantic Find: one vector (a sequence of floats) per input."""
        self.unsupported("Embeddings")

    def cancel_hint(self, job_id: str) -> str:
        """How a person cancels the job from a shell (said when they stop waiting with Ctrl-C)."""
        return f"cancel it with the {self.provider_name} provider's own tools"


def plain_turn(provider, model: str, messages: list[dict], params: dict, tools=None, on_text=None):
    """A chat turn from a provider that only has ``chat`` (an embedder's provider need not subclass
    :class:`Provider`): no tools, the answer in one piece."""
    from .tools import Turn

    if tools:
        raise FMScriptError(f"Tool calling is not supported by the {getattr(provider, 'provider_name', 'this')} "
                            "provider in fmscript.", code=E_REQUEST_NOT_SUPPORTED)
    text = provider.chat(model, messages, params)
    if on_text is not None and text:
        on_text(text)
    return Turn(text)


def chat_turn(provider, model: str, messages: list[dict], params: dict, tools=None, on_text=None):
    """One answer of ``provider`` with tools and streaming, whether it has ``chat_turn`` or only ``chat``."""
    turn = getattr(provider, "chat_turn", None)
    if turn is None:
        return plain_turn(provider, model, messages, params, tools, on_text)
    return turn(model, messages, params, tools=tools, on_text=on_text)


@dataclass
class Account:
    name: str
    provider_name: str  # canonical: OpenAI, Custom, Local, Anthropic (or a registered name)
    api_key: str = field(default="", repr=False)
    endpoint: str = ""
    verify_ssl: bool = False
    _provider: object = field(default=None, repr=False)
    providers: dict | None = field(default=None, repr=False)  # the interpreter's table (None: PROVIDERS)
    call_log: object = field(default=None, repr=False)  # the session's fmscript.ai.calllog.CallLog

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
                                    + ", ".join(sorted(_DISPLAY.get(k, k) for k in table)),
                                    code=E_AI_REQUEST_FAILED)
            self._provider = factory(self)
            if self.call_log is not None:
                from .calllog import LoggedProvider  # every AI call of a script goes through this door
                self._provider = LoggedProvider(self._provider, self, self.call_log)
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
    from .calllog import for_session

    register_secret(api_key)
    acct = Account(name, provider_name, api_key, endpoint, verify_ssl, providers=session.providers,
                   call_log=for_session(session))
    session.accounts[name.casefold()] = acct
    return acct


def account(session, name: str) -> Account:
    acct = session.accounts.get(name.casefold())
    if acct is None:
        known = ", ".join(a.name for a in session.accounts.values()) or "none yet"
        raise FMScriptError(f"there is no AI account named “{name}”: run Configure AI Account first "
                            f"(accounts: {known})", code=E_AI_ACCOUNT_MISSING)
    return acct


def _local(acct: Account):
    from .local import LocalEngine
    return LocalEngine()


def _remote(kind: str):
    def factory(acct: Account):
        from . import remote
        return remote.make_provider(kind, acct)
    return factory


class _NamedOnly(Provider):
    """A provider fmscript knows by name but cannot talk to (Anthropic): every step says so."""

    def __init__(self, acct: Account):
        self.provider_name = acct.provider_name


register_provider("Local", _local)
register_provider("OpenAI", _remote("OpenAI"))
register_provider("Custom", _remote("Custom"))
register_provider("Anthropic", _NamedOnly)
