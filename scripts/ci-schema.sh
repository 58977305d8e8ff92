#!/usr/bin/env bash
# src/db/schema.ts matches the migrations: drizzle-kit's own consistency check of the migration
# snapshots, then `drizzle-kit generate`, which must find nothing to write. generate writes
# files when it does find something, so whatever it adds or changes under src/db/migrations is
# shown, removed again and fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."

MIGRATIONS=src/db/migrations
state() { git status --porcelain --untracked-files=all -- "$MIGRATIONS"; }

echo "== drizzle-kit check"
npx drizzle-kit check

before="$(state)"
untracked_before="$(git ls-files --others --exclude-standard -- "$MIGRATIONS")"
echo "== drizzle-kit generate (must generate nothing)"
# No terminal: a question (a renamed column?) must not wait for an answer.
set +e
out="$(timeout 300 npx drizzle-kit generate </dev/null 2>&1)"
rc=$?
set -e
echo "$out" | tail -n 5
after="$(state)"

if [ "$before" != "$after" ]; then
  echo "!! db/schema.ts does not match the migrations: drizzle-kit generate would write:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  git --no-pager diff --stat -- "$MIGRATIONS" >&2 || true
  # Clean up what generate wrote: new files, and tracked files it changed (not ones changed before).
  comm -13 <(echo "$untracked_before" | sort) <(git ls-files --others --exclude-standard -- "$MIGRATIONS" | sort) | while read -r f; do
    [ -n "$f" ] && rm -f -- "$f"
  done
  comm -13 <(echo "$before" | sort) <(echo "$after" | sort) | awk '$1 == "M" { print $2 }' | while read -r f; do
    git checkout -q -- "$f"
  done
  echo "!! Run npm run db:generate, review the new migration and commit it." >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "!! drizzle-kit generate failed (exit $rc):" >&2
  echo "$out" >&2
  exit 1
fi
echo "== schema and migrations agree"
