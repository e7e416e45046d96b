#!/usr/bin/env bash
# The benchmark's load generators, installed on first use:
#
#   wrk     Debian's package (apt-get install wrk), installed here when missing and
#           running as root; otherwise this fails with one line saying what to install
#   vegeta  built from the Go module proxy into .tools/bin/vegeta at the version pinned
#           in deploy/tools/versions.env (deploy/tools/lib.sh's go_tool)
#
# Usage: tools.sh [wrk] [vegeta]   (both when none is named)
set -euo pipefail
cd "$(dirname "$0")/.."
SAY_AS=bench
# shellcheck source=../deploy/tools/lib.sh
source deploy/tools/lib.sh

ensure_wrk() {
  if command -v wrk >/dev/null 2>&1; then
    return 0
  fi
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing wrk with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq wrk >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; } \
      || die "apt-get could not install wrk"
    return 0
  fi
  die "wrk is not installed: install Debian's package as root (apt-get install wrk) or put wrk on PATH"
}

ensure_vegeta() {
  use_go "to build vegeta"
  go_tool vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION" . -X "main.Version=$VEGETA_VERSION"
  "$BIN_DIR/vegeta" -version | grep -qx "Version: $VEGETA_VERSION" \
    || die "the built vegeta does not report $VEGETA_VERSION"
}

(($# > 0)) || set -- wrk vegeta
for tool in "$@"; do
  case $tool in
    wrk) ensure_wrk ;;
    vegeta) ensure_vegeta ;;
    *) die "unknown tool $tool (wrk, vegeta)" ;;
  esac
done
