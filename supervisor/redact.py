"""Keep secrets out of logs, state and reports."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

# Names of environment variables whose values are secrets.
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|WEBHOOK|CREDENTIAL)", re.I)
# Well-known token shapes, redacted wherever they appear.
_TOKEN_SHAPES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_\-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+"
    r"|https://discord(?:app)?\.com/api/webhooks/[A-Za-z0-9/_\-]+)"
)
MASK = "***"
_MIN_SECRET_LEN = 6


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The values of secret-looking environment variables, longest first."""
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Replace every known secret and token-shaped string in text."""
    for value in [*extra, *secret_values()]:
        if value and len(value) >= _MIN_SECRET_LEN:
            text = text.replace(value, MASK)
    return _TOKEN_SHAPES.sub(MASK, text)
