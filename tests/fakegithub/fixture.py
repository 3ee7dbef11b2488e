"""The ``fake_github`` fixture: a started FakeGitHub that fails the test on contract violations.

Register it with ``pytest_plugins = ["fakegithub.fixture"]`` in the top-level conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakegithub.server import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub on 127.0.0.1; stopped after the test, which fails on any violation.

    A test that provokes violations on purpose takes them with ``fake.take_violations()``.
    """
    fake = FakeGitHub()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    fail_on_violations(fake)


def fail_on_violations(fake: FakeGitHub) -> None:
    """Fail the running test, listing every violation the fake recorded."""
    if fake.violations:
        listed = "\n".join(f"- {v}" for v in fake.violations)
        pytest.fail(
            f"the fake GitHub saw {len(fake.violations)} contract violation(s) "
            f"against GitHub's OpenAPI description:\n{listed}",
            pytrace=False,
        )
