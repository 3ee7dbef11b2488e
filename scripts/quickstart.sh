#!/usr/bin/env bash
# The first run: a small sample target repository on the local forge, the chain run until idle.
#
# Uses this checkout as the supervisor home (supervisor.yaml, state/, logs/, worktrees/ beside this
# script's folder) and creates ./sample-target. The worker is scripts/example_worker.py, a scripted
# stand-in that is NOT an AI: it follows literal "Create/Append" instructions, so that the whole
# chain (issue, worktree, commit, gate, pull request, fast-forward) can be watched with no agent
# account. Running it again is safe: nothing is repeated.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=sample-target
python=${PYTHON:-python3}

if [ ! -d "$target/.git" ]; then
  echo "== creating the sample target repository $target/"
  mkdir -p "$target"
  git -C "$target" init -q -b main
  cat > "$target/tasks.md" <<'TASKS'
# Tasks

- [ ] Create `notes/hello.md` with `Hello from the night shift.`
- [ ] Append `- the supervisor ran the quickstart` to `CHANGES.md`
TASKS
  cat > "$target/check.sh" <<'CHECK'
#!/bin/sh
# The sample's gate: every Markdown file must be non-empty.
for f in $(git ls-files '*.md') $(git ls-files --others --exclude-standard '*.md'); do
  [ -s "$f" ] || { echo "empty file: $f"; exit 1; }
done
echo "all Markdown files are non-empty"
CHECK
  printf '# Changes\n\n' > "$target/CHANGES.md"
  git -C "$target" add -A
  git -C "$target" -c user.name=quickstart -c user.email=quickstart@localhost \
    commit -qm "Sample target for the supervisor quickstart"
fi

if [ ! -f supervisor.yaml ]; then
  echo "== supervisor init"
  supervisor init --target "$target" --worker "$python $root/scripts/example_worker.py" \
    --gate-fast "sh check.sh"
fi

echo "== supervisor doctor"
supervisor doctor
echo "== supervisor start --until-idle"
supervisor start --until-idle
echo "== supervisor status"
supervisor status
echo "== the sample target's history"
git -C "$target" log --format='%h %s' main
