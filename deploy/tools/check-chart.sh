#!/usr/bin/env bash
# `make chart-check`: the Helm chart checked without a cluster.
#
#   1. `helm lint --strict` with the default values and with each ci/*-values.yaml;
#   2. what each of them renders, validated offline against the Kubernetes OpenAPI
#      schemas of kubernetes-validate (strict: an unknown field is an error), for the
#      oldest Kubernetes the chart accepts (Chart.yaml's kubeVersion) and the newest
#      the package ships;
#   3. the packaged chart: the `helm test` hook in, the unit-test suites out (.helmignore);
#   4. the render assertions, helm/video-callback-bridge/tests/*_test.yaml (helm-unittest).
#
# What needs Python (values against the bridge's Settings, checksums across renders) is
# in tests/deploy/test_chart.py, and promtool over the rendered alerts in
# tests/deploy/test_monitoring.py. The tools are the pinned ones of `make tools` and the
# virtualenv of `make install`.
set -euo pipefail
cd "$(dirname "$0")/../.."
SAY_AS=chart-check
# shellcheck source=lib.sh
source deploy/tools/lib.sh

CHART=helm/video-callback-bridge
HELM=$BIN_DIR/helm
UNITTEST=$BIN_DIR/helm-unittest
VENV=${VENV:-.venv}
VALIDATE=$VENV/bin/kubernetes-validate
# The release the suites and tests/helm_tools.py render as.
RELEASE=vcb
NAMESPACE=video

for tool in "$HELM" "$UNITTEST"; do
  [[ -x $tool ]] || die "${tool#"$PWD/"} is missing: run \`make tools\`"
done
[[ -x $VALIDATE ]] || die "$VALIDATE is missing: run \`make install\`"

oldest=$(sed -n 's/^kubeVersion: ">=\([0-9]*\.[0-9]*\)\..*"$/\1/p' "$CHART/Chart.yaml")
[[ $oldest =~ ^[0-9]+\.[0-9]+$ ]] || die "cannot read the oldest Kubernetes from $CHART/Chart.yaml"
newest=$("$VENV/bin/python" -c 'from kubernetes_validate.utils import latest_version
print(latest_version())')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for file in "$CHART"/ci/*; do
  [[ $file == *-values.yaml ]] || die "$file: ci/ holds <feature>-values.yaml files only"
done
variants=(default "$CHART"/ci/*-values.yaml)
mkdir "$work/rendered"
for variant in "${variants[@]}"; do
  name=default values=()
  if [[ $variant != default ]]; then
    name=$(basename "$variant" -values.yaml) values=(--values "$variant")
  fi
  "$HELM" lint --strict --quiet "$CHART" "${values[@]}" >"$work/lint" 2>&1 \
    || { cat "$work/lint"; die "helm lint --strict fails with the $name values"; }
  "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "${values[@]}" \
    >"$work/rendered/$name.yaml"
done
# One run for all: most of its time goes into loading the schemas.
"$VALIDATE" --strict --quiet -k "$oldest" -k "$newest" "$work"/rendered/*.yaml >"$work/validated" \
  || { cat "$work/validated"; die "some values render objects that Kubernetes refuses"; }
# The Prometheus Operator's kinds have no schema here (the suites assert their fields);
# any other kind without one has an apiVersion that Kubernetes does not serve.
if grep -v ' with api version monitoring\.coreos\.com/v1 ' "$work/validated"; then
  die "some values render objects of no known Kubernetes kind"
fi
say "helm lint --strict and Kubernetes $oldest and $newest schemas: ${#variants[@]} variants"

"$HELM" package "$CHART" --destination "$work" >/dev/null
packaged=$(tar -tzf "$work"/*.tgz)
grep -qx "video-callback-bridge/templates/tests/test-connection.yaml" <<<"$packaged" \
  || die "the packaged chart lacks its helm test hook: see $CHART/.helmignore"
if grep "^video-callback-bridge/tests/" <<<"$packaged"; then
  die "the packaged chart holds the unit-test suites: see $CHART/.helmignore"
fi
say "the packaged chart holds its helm test hook and no unit-test suite"

"$UNITTEST" --strict "$CHART"
