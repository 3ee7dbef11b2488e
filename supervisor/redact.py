"""Keep secrets out of logs, state and reports."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

# Names of environment variables whose values are secrets.
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|WEBHOOK|CREDENTIAL)", re.I)
# Well-known token shapes, redacted wherever they appear.
_TOKEN_SHAPES = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_\-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+"
    r"|https://discord(?:app)?\.com/api/webhooks/[A-Za-z0-9/_\-]+)"
)
MASK = "***"
# Secrets that do not live in the environment (e.g. a token from `gh auth token`). Process-wide by
# nature: a secret known anywhere must be masked everywhere.
_REGISTERED: set[str] = set()
_MIN_SECRET_LEN = 6


def add_secret(value: str) -> None:
    """Mask value wherever it would be written from now on."""
    if value and len(value) >= _MIN_SECRET_LEN:
        _REGISTERED.add(value)


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The values of secret-looking environment variables and registered secrets, longest first."""
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN}
    return sorted(values | _REGISTERED, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = (), secrets: list[str] | None = None) -> str:
    """Replace every known secret and token-shaped string in text.

    secrets: the secret values to mask (default: those of the current environment).
    """
    for value in [*extra, *(secret_values() if secrets is None else secrets)]:
        if value and len(value) >= _MIN_SECRET_LEN:
            text = text.replace(value, MASK)
    return _TOKEN_SHAPES.sub(MASK, text)


def redact_file(path: Path) -> None:
    """Mask secrets in a (possibly huge, possibly binary) output file, line by line, in place."""
    secrets = secret_values()
    try:
        src = open(path, encoding="utf-8", errors="replace", newline="")  # noqa: SIM115
    except FileNotFoundError:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    changed = False
    try:
        with src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
            for line in src:
                clean = redact(line, secrets=secrets)
                changed = changed or clean != line
                dst.write(clean)
        if changed:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
