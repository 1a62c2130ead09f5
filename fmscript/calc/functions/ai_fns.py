"""fmscript's AI functions."""
from __future__ import annotations

import json

from ..values import to_text
from . import CalcError, function


@function("FineTuneJobStatus ( accountName ; jobId )", mode="context", volatile=True)
def fine_tune_job_status(f, account_name, job_id):
    """The fine-tuning job as JSON (``status`` is queued, running, succeeded, failed or cancelled)."""
    from ...ai.accounts import account
    from ...errors import FMScriptError
    try:
        result = account(f.session, to_text(account_name)).provider.job_status(to_text(job_id))
    except FMScriptError as e:
        raise CalcError(e.message, code=e.code) from None
    return json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
