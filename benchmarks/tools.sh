#!/usr/bin/env bash
# The benchmark's load generators, installed on first use:
#
#   wrk     Debian's package (apt-get install wrk), installed here when missing and
#           running as root; otherwise this fails with one line saying what to install
#   vegeta  built from the Go module proxy into .tools/bin/vegeta at the pinned version
#
# Usage: tools.sh [wrk] [vegeta]   (both when none is named)
#
# `go install github.com/tsenart/vegeta/v12@VERSION` asks the proxy for the
# module's version list to check for a deprecation notice, and some proxies
# refuse that list; building from a throw-away module that requires the pinned
# version needs only that version, so it works wherever the module itself can
# be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

VEGETA_VERSION=v12.13.0

BIN_DIR=$PWD/.tools/bin

say() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

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

find_go() {
  local candidate
  for candidate in "${GO:-}" "$(command -v go || true)" /usr/local/go/bin/go; do
    if [[ -n $candidate && -x $candidate ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_vegeta() {
  local vegeta=$BIN_DIR/vegeta
  if [[ -x $vegeta ]] && "$vegeta" -version 2>/dev/null | grep -qx "Version: $VEGETA_VERSION"; then
    return 0
  fi
  local go
  go=$(find_go) || die "Go is required to build vegeta (https://go.dev/doc/install); set GO=/path/to/go"
  say "building vegeta $VEGETA_VERSION into .tools/bin"
  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: the directory is fixed
  trap "rm -rf '$work'" RETURN
  printf 'module benchtools\n\ngo 1.22\n\nrequire github.com/tsenart/vegeta/v12 %s\n' \
    "$VEGETA_VERSION" >"$work/go.mod"
  mkdir -p "$BIN_DIR"
  (
    cd "$work"
    GO111MODULE=on GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" build -trimpath \
      -ldflags "-s -w -X main.Version=$VEGETA_VERSION" -o "$vegeta" github.com/tsenart/vegeta/v12
  ) || die "could not build vegeta $VEGETA_VERSION from the Go module proxy"
  "$vegeta" -version | grep -qx "Version: $VEGETA_VERSION" \
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
