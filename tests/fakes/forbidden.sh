#!/bin/sh
# Installed on PATH as codex, claude and gh during tests: no test may reach a real agent or GitHub.
echo "tests must not run the real $(basename "$0")" >&2
exit 97
