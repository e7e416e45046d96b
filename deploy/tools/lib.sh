# shellcheck shell=bash
# Sourced by the installers of pinned tools (install-tools.sh, install-kubernetes.sh,
# benchmarks/tools.sh), from the repository's root: the pins of versions.env, where the
# tools go, messages, Go, and building a pinned Go command into .tools/bin idempotently.
#
# The sourcing script sets SAY_AS, the word its messages start with.

# shellcheck source=versions.env
source deploy/tools/versions.env

TOOLS_DIR=$PWD/.tools
BIN_DIR=$TOOLS_DIR/bin
# Parallel compile jobs: the machines are small and shared.
GO_BUILD_JOBS=${GO_BUILD_JOBS:-2}

say() { printf '%s: %s\n' "$SAY_AS" "$*"; }
die() { printf '%s: %s\n' "$SAY_AS" "$*" >&2; exit 1; }

# Sets GO to the Go command ($GO, else the one on PATH, else /usr/local/go/bin/go), or
# fails saying what it is needed for.
use_go() {
  local candidate
  for candidate in "${GO:-}" "$(command -v go || true)" /usr/local/go/bin/go; do
    if [[ -n $candidate && -x $candidate ]]; then
      GO=$candidate
      # Module commands must not pick up a go.mod or go.work from a parent directory.
      export GO111MODULE=on GOWORK=off
      return 0
    fi
  done
  die "Go is required $1 (https://go.dev/doc/install); set GO=/path/to/go"
}

# Prints the directory of a module version in the module cache, downloading it if needed.
module_dir() {
  local dir
  dir=$("$GO" mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $dir && -d $dir ]] || die "could not download the Go module $1"
  printf '%s\n' "$dir"
}

# Prints the go.mod of a module version (fetching that file alone, not the module).
module_go_mod() {
  local go_mod
  go_mod=$("$GO" list -m -f '{{.GoMod}}' "$1") && [[ -f $go_mod ]] \
    || die "could not fetch the go.mod of the Go module $1"
  printf '%s\n' "$go_mod"
}

# True if the binary's Go build info says it is the command PACKAGE of MODULE at VERSION.
built_from() {
  local binary=$1 package=$2 module=$3 version=$4
  [[ -x $binary ]] || return 1
  "$GO" version -m "$binary" 2>/dev/null | awk -F '\t' -v package="$package" \
    -v module="$module" -v version="$version" '
      $2 == "path" && $3 == package { path = 1 }
      $2 == "mod" && $3 == module && $4 == version { mod = 1 }
      END { exit !(path && mod) }'
}

# go_tool NAME MODULE VERSION PACKAGE [LINKER_FLAG...]
#
# Builds the command PACKAGE (a folder of the module, "." for its root) of the Go module
# MODULE at VERSION into .tools/bin/NAME, static and stripped, with the linker flags given
# (a version stamp, say): unless the binary there says in its build info that it is that
# command at that version already, which takes a moment.
#
# It builds in a throw-away module that requires MODULE at VERSION rather than running
# `go install MODULE/PACKAGE@VERSION`, which also asks the proxy for the module's list of
# versions (for a deprecation notice) and so fails offline or where a proxy refuses that
# list: this needs the pinned version alone, and once it is in the module cache, nothing
# else. The throw-away module takes the tool's own `go` line and godebug settings (the
# defaults of GODEBUG follow them), so the binary is the one that `go install` makes; and
# its replace directives, which `go install` refuses (helm-unittest has one), so that the
# binary is the one its own build makes.
go_tool() {
  local name=$1 module=$2 version=$3 package=$4
  shift 4
  local binary=$BIN_DIR/$name
  if [[ $package == . ]]; then
    package=$module
  else
    package=$module/$package
  fi
  if built_from "$binary" "$package" "$module" "$version"; then
    say "$name $version already in .tools/bin"
    return 0
  fi
  say "building $name $version (go build; takes a while the first time)"
  local started=$SECONDS go_mod work=$TOOLS_DIR/build/$name
  go_mod=$(module_go_mod "$module@$version")
  rm -rf "$work"
  mkdir -p "$work" "$BIN_DIR"
  {
    printf 'module pinned/%s\n\n' "$name"
    sed -n 's/^go [0-9.]*$/&/p' "$go_mod"
    awk '/^(godebug|replace)[[:space:]]*\(/ { block = 1 }
         block || /^(godebug|replace)[[:space:]]/ { print }
         block && /^\)/ { block = 0 }' "$go_mod"
    printf 'require %s %s\n' "$module" "$version"
  } >"$work/go.mod"
  (cd "$work" && CGO_ENABLED=0 "$GO" build -mod=mod -p "$GO_BUILD_JOBS" -trimpath \
    -ldflags "-s -w $*" -o "$binary.partial" "$package") \
    || die "could not build $name $version ($package) from the Go module proxy"
  mv -f "$binary.partial" "$binary"
  rm -rf "$work"
  built_from "$binary" "$package" "$module" "$version" \
    || die "the built $name does not record $module $version in its build info"
  say "$name $version installed in .tools/bin in $((SECONDS - started)) s"
}
