#!/usr/bin/env bash
# `make tools`: the pinned tools and schemas that the tests use, in .tools/
# (not in git). Helm and the Compose schema come from the Go module proxy, the
# AsyncAPI schema from the npm registry:
#
#   .tools/bin/helm                 Helm (version stamped as its release Makefile does)
#   .tools/bin/promtool             Prometheus's promtool (checks and unit-tests the chart's
#                                   alert rules)
#   .tools/bin/helm-unittest        helm-unittest (the chart's render assertions,
#                                   helm/video-callback-bridge/tests/)
#   .tools/bin/toxiproxy-server     Toxiproxy (network faults between the bridge and the
#   .tools/bin/toxiproxy-cli        brokers of the local cluster, make reliability)
#   .tools/share/compose-spec.json  the Compose Specification's JSON Schema, as
#                                   shipped in the compose-go module
#   .tools/share/asyncapi-3.0.0.json  the AsyncAPI 3.0.0 JSON Schema, as shipped in
#                                   the @asyncapi/specs package
#
# The versions are in versions.env. A further Go command is one line there and one
# `go_tool` line below (lib.sh says what it does).
#
# Needs Go (on PATH, in $GO, or in /usr/local/go/bin) at least as new as the tools'
# go.mod files ask for. The first run downloads the modules and compiles Helm (about
# two minutes on 2 cores with empty Go caches; promtool about as long again, helm-unittest
# a minute and a half, Toxiproxy half a minute); later runs find the pinned versions in
# place and return at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
SAY_AS=tools
# shellcheck source=lib.sh
source deploy/tools/lib.sh

SHARE_DIR=$TOOLS_DIR/share

# Without a cluster, Helm tells templates the Kubernetes version it was built for
# (.Capabilities.KubeVersion): the minor version of its k8s.io/client-go, stamped at link
# time as Helm's own release Makefile does.
helm_stamp() {
  local k8s_minor
  k8s_minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' \
    "$(module_go_mod "helm.sh/helm/v3@$HELM_VERSION")")
  [[ $k8s_minor =~ ^[0-9]+$ ]] || die "cannot read the k8s.io/client-go version from Helm's go.mod"
  printf '%s\n' \
    -X "helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    -X "helm.sh/helm/v3/internal/version.metadata=" \
    -X "helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    -X "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1" \
    -X "helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor" \
    -X "helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1" \
    -X "helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
}

install_helm() {
  local lines version_stamp
  lines=$(helm_stamp)
  mapfile -t version_stamp <<<"$lines"
  go_tool helm helm.sh/helm/v3 "$HELM_VERSION" cmd/helm "${version_stamp[@]}"
  [[ $("$BIN_DIR/helm" version --template '{{.Version}}') == "$HELM_VERSION" ]] \
    || die "the built helm does not report $HELM_VERSION"
}

install_promtool() {
  # The module version v0.316.0 is the release 3.16.0.
  local release=${PROMTOOL_VERSION#v0.}
  release=$((10#${release%%.*} / 100)).$((10#${release%%.*} % 100)).${release#*.}
  go_tool promtool github.com/prometheus/prometheus "$PROMTOOL_VERSION" cmd/promtool \
    -X "github.com/prometheus/common/version.Version=$release"
  "$BIN_DIR/promtool" --version 2>/dev/null | grep -qx "promtool, version $release .*" \
    || die "the built promtool does not report $release"
}

install_helm_unittest() {
  # It renders with the Helm packages of its own go.mod (v3.21.3 for v1.1.2), not $HELM_VERSION.
  go_tool helm-unittest github.com/helm-unittest/helm-unittest "$HELM_UNITTEST_VERSION" \
    cmd/helm-unittest \
    -X "github.com/helm-unittest/helm-unittest/internal/build.version=${HELM_UNITTEST_VERSION#v}"
}

install_toxiproxy() {
  local release=${TOXIPROXY_VERSION#v} command
  for command in server cli; do
    go_tool "toxiproxy-$command" github.com/Shopify/toxiproxy/v2 "$TOXIPROXY_VERSION" \
      "cmd/$command" -X "github.com/Shopify/toxiproxy/v2.Version=$release"
    [[ $("$BIN_DIR/toxiproxy-$command" --version) == "toxiproxy-$command version $release" ]] \
      || die "the built toxiproxy-$command does not report $release"
  done
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
  local work=$TOOLS_DIR/build/asyncapi-specs
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$work" && npm pack --silent "@asyncapi/specs@$ASYNCAPI_SPECS_VERSION" >/dev/null \
    && tar -xzf asyncapi-specs-*.tgz) || die "could not fetch @asyncapi/specs $ASYNCAPI_SPECS_VERSION"
  mkdir -p "$SHARE_DIR"
  install -m 0644 "$work/package/schemas/3.0.0-without-\$id.json" "$target"
  rm -rf "$work"
  printf '%s\n' "$ASYNCAPI_SPECS_VERSION" >"$stamp"
  say "asyncapi-3.0.0.json from @asyncapi/specs $ASYNCAPI_SPECS_VERSION installed in .tools/share"
}

use_go "to build the pinned tools"
install_helm
install_promtool
install_helm_unittest
install_toxiproxy
install_compose_schema
install_asyncapi_schema
