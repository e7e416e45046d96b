#!/usr/bin/env bash
# `make tools`: the pinned tools and schemas that the tests use, in .tools/
# (not in git). Helm and the Compose schema come from the Go module proxy, the
# AsyncAPI schema from the npm registry:
#
#   .tools/bin/helm                 Helm, built with `go install` (CGO off, stripped,
#                                   version stamped as the release Makefile does)
#   .tools/bin/promtool             Prometheus's promtool (checks and unit-tests the chart's
#                                   alert rules), built the same way
#   .tools/bin/toxiproxy-server     Toxiproxy (network faults between the bridge and the
#   .tools/bin/toxiproxy-cli        brokers of the local cluster), built the same way and
#                                   named as its releases name them
#   .tools/share/compose-spec.json  the Compose Specification's JSON Schema, as
#                                   shipped in the compose-go module
#   .tools/share/asyncapi-3.0.0.json  the AsyncAPI 3.0.0 JSON Schema, as shipped in
#                                   the @asyncapi/specs package
#
# Needs Go (on PATH, in $GO, or in /usr/local/go/bin) at least as new as Helm's
# go.mod asks for. The first run downloads the modules and compiles Helm (about
# two minutes on 2 cores with empty Go caches; promtool about as long again, Toxiproxy
# half a minute); later runs find the pinned
# versions in place and return at once. To upgrade, change the versions below.
set -euo pipefail
cd "$(dirname "$0")/../.."

HELM_VERSION=v3.22.0
# Prometheus 3.16.0: its Go module is versioned v0.<major><minor>.<patch>.
PROMTOOL_VERSION=v0.316.0
TOXIPROXY_VERSION=v2.12.0
COMPOSE_GO_VERSION=v2.16.2
ASYNCAPI_SPECS_VERSION=6.11.1

TOOLS_DIR=$PWD/.tools
BIN_DIR=$TOOLS_DIR/bin
SHARE_DIR=$TOOLS_DIR/share

say() { printf 'tools: %s\n' "$*"; }
die() { printf 'tools: %s\n' "$*" >&2; exit 1; }

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

# Prints the directory of a module version in the module cache, downloading it if needed.
module_dir() {
  local dir
  dir=$("$GO" mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $dir && -d $dir ]] || die "could not download the Go module $1"
  printf '%s\n' "$dir"
}

install_helm() {
  local helm=$BIN_DIR/helm
  if [[ -x $helm ]] && [[ $("$helm" version --template '{{.Version}}' 2>/dev/null) == "$HELM_VERSION" ]]; then
    say "helm $HELM_VERSION already in .tools/bin"
    return 0
  fi
  say "building helm $HELM_VERSION with go install (takes a while the first time)"
  local started=$SECONDS
  # Without a cluster, Helm tells templates the Kubernetes version it was built
  # for (.Capabilities.KubeVersion): the minor version of its k8s.io/client-go,
  # stamped at link time as Helm's own release Makefile does.
  local helm_dir client_go k8s_minor
  helm_dir=$(module_dir "helm.sh/helm/v3@$HELM_VERSION")
  client_go=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_dir/go.mod")
  [[ $client_go =~ ^[0-9]+$ ]] || die "cannot read the k8s.io/client-go version from Helm's go.mod"
  k8s_minor=$client_go
  local ldflags=(
    -s -w
    -X "helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    -X "helm.sh/helm/v3/internal/version.metadata="
    -X "helm.sh/helm/v3/internal/version.gitTreeState=clean"
    -X "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
    -X "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
    -X "helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
    -X "helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
  )
  mkdir -p "$BIN_DIR"
  CGO_ENABLED=0 GOBIN=$BIN_DIR "$GO" install -trimpath -ldflags "${ldflags[*]}" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [[ $("$helm" version --template '{{.Version}}') == "$HELM_VERSION" ]] \
    || die "the built helm does not report $HELM_VERSION"
  say "helm $HELM_VERSION installed in .tools/bin in $((SECONDS - started)) s"
}

install_promtool() {
  local promtool=$BIN_DIR/promtool
  # The module version v0.316.0 is the release 3.16.0.
  local release=${PROMTOOL_VERSION#v0.}
  release=$((10#${release%%.*} / 100)).$((10#${release%%.*} % 100)).${release#*.}
  if [[ -x $promtool ]] && "$promtool" --version 2>/dev/null | grep -qx "promtool, version $release .*"; then
    say "promtool $release already in .tools/bin"
    return 0
  fi
  say "building promtool $release with go install (takes a while the first time)"
  local started=$SECONDS
  mkdir -p "$BIN_DIR"
  CGO_ENABLED=0 GOBIN=$BIN_DIR "$GO" install -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$release" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
  "$promtool" --version 2>/dev/null | grep -qx "promtool, version $release .*" \
    || die "the built promtool does not report $release"
  say "promtool $release installed in .tools/bin in $((SECONDS - started)) s"
}

install_toxiproxy() {
  local server=$BIN_DIR/toxiproxy-server cli=$BIN_DIR/toxiproxy-cli
  local release=${TOXIPROXY_VERSION#v}
  if [[ -x $server && -x $cli ]] \
      && [[ $("$server" --version 2>/dev/null) == "toxiproxy-server version $release" ]] \
      && [[ $("$cli" --version 2>/dev/null) == "toxiproxy-cli version $release" ]]; then
    say "toxiproxy $release already in .tools/bin"
    return 0
  fi
  say "building toxiproxy $release with go install"
  local started=$SECONDS work
  # go install names the binaries after their directories (server, cli): built
  # aside, then installed under the names of Toxiproxy's releases.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  CGO_ENABLED=0 GOBIN=$work "$GO" install -trimpath \
    -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=$release" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
  mkdir -p "$BIN_DIR"
  install -m 0755 "$work/server" "$server"
  install -m 0755 "$work/cli" "$cli"
  [[ $("$server" --version) == "toxiproxy-server version $release" ]] \
    || die "the built toxiproxy-server does not report $release"
  say "toxiproxy $release installed in .tools/bin in $((SECONDS - started)) s"
}

install_compose_schema() {
  local target=$SHARE_DIR/compose-spec.json
  local stamp=$SHARE_DIR/compose-spec.version
  if [[ -f $target && -f $stamp && $(<"$stamp") == "$COMPOSE_GO_VERSION" ]]; then
    say "compose-spec.json from compose-go $COMPOSE_GO_VERSION already in .tools/share"
    return 0
  fi
  local dir
  dir=$(module_dir "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION")
  mkdir -p "$SHARE_DIR"
  install -m 0644 "$dir/schema/compose-spec.json" "$target"
  printf '%s\n' "$COMPOSE_GO_VERSION" >"$stamp"
  say "compose-spec.json from compose-go $COMPOSE_GO_VERSION installed in .tools/share"
}

install_asyncapi_schema() {
  local target=$SHARE_DIR/asyncapi-3.0.0.json
  local stamp=$SHARE_DIR/asyncapi-specs.version
  if [[ -f $target && -f $stamp && $(<"$stamp") == "$ASYNCAPI_SPECS_VERSION" ]]; then
    say "asyncapi-3.0.0.json from @asyncapi/specs $ASYNCAPI_SPECS_VERSION already in .tools/share"
    return 0
  fi
  command -v npm >/dev/null || die "npm is required to fetch the AsyncAPI schema (@asyncapi/specs)"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  (cd "$work" && npm pack --silent "@asyncapi/specs@$ASYNCAPI_SPECS_VERSION" >/dev/null \
    && tar -xzf asyncapi-specs-*.tgz) || die "could not fetch @asyncapi/specs $ASYNCAPI_SPECS_VERSION"
  mkdir -p "$SHARE_DIR"
  install -m 0644 "$work/package/schemas/3.0.0-without-\$id.json" "$target"
  printf '%s\n' "$ASYNCAPI_SPECS_VERSION" >"$stamp"
  say "asyncapi-3.0.0.json from @asyncapi/specs $ASYNCAPI_SPECS_VERSION installed in .tools/share"
}

GO=$(find_go) || die "Go is required to build the pinned tools (https://go.dev/doc/install); set GO=/path/to/go"
# Module commands must not pick up a go.mod from a parent directory.
export GO111MODULE=on GOWORK=off
install_helm
install_promtool
install_toxiproxy
install_compose_schema
install_asyncapi_schema
