#!/usr/bin/env bash
# Build the container images with whichever engine answers: podman, else docker.
#
# Usage: image.sh {engine|bridge|python-base|kafka}
#
#   engine       print the engine that answers (podman or docker), or fail
#   bridge       video-callback-bridge:<package version> from deploy/Dockerfile
#   python-base  the Dockerfile's default base (ARG BASE_IMAGE), made from Debian's
#                packages with mmdebstrap, for machines that reach no image registry
#   kafka        apache/kafka:<version of deploy/kafka/pom.xml> made from the project's
#                own Kafka jars on a Debian JRE (mmdebstrap), for the same machines
#
# Settings (environment):
#   ENGINE      podman or docker, instead of asking which answers
#   BASE_IMAGE  the Python base for `bridge` (default: the Dockerfile's ARG BASE_IMAGE)
#   SUITE       the Debian suite of the mmdebstrap bases (default bookworm)
#   REBUILD     1: make python-base and kafka again even where the engine has them
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
DOCKERFILE="$ROOT/deploy/Dockerfile"
KAFKA_DIR="$ROOT/deploy/kafka"
SUITE=${SUITE:-bookworm}
# Where a TLS-inspecting proxy stands between the machine and the package registries,
# only the machine's own bundle is trusted; builds see it read-only (podman only).
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

say() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }

engine() {
  if [[ -n ${ENGINE:-} ]]; then
    "$ENGINE" info >/dev/null 2>&1 || die "ENGINE=$ENGINE does not answer (\`$ENGINE info\` failed)"
    printf '%s\n' "$ENGINE"
    return
  fi
  local candidate
  for candidate in podman docker; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" info >/dev/null 2>&1; then
      printf '%s\n' "$candidate"
      return
    fi
  done
  die "no container engine answers (neither \`podman info\` nor \`docker info\`)"
}

package_version() {
  sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/bridge/__init__.py"
}

default_base_image() {
  sed -n 's/^ARG BASE_IMAGE=//p' "$DOCKERFILE"
}

kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_DIR/pom.xml"
}

# The engine's own `build` options, one a line: podman writes OCI images by default,
# which have no HEALTHCHECK; and only podman can mount the machine's CA bundle.
build_options() {
  [[ $1 == podman ]] || return 0
  printf '%s\n' --format=docker
  if [[ -f $HOST_CA_BUNDLE ]]; then
    printf '%s\n' "--volume=$HOST_CA_BUNDLE:$HOST_CA_BUNDLE:ro"
  fi
}

# True if the image is there and no REBUILD was asked for (saying so).
present() {
  if [[ ${REBUILD:-0} != 1 ]] && "$1" image inspect "$2" >/dev/null 2>&1; then
    say "$2 is there already (REBUILD=1 makes it again)"
    return 0
  fi
  return 1
}

# A minimal Debian root filesystem with the given packages, imported as an image.
debian_image() {
  local tag=$1 packages=$2 engine
  engine=$(engine)
  command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap not found (apt-get install mmdebstrap)"
  say "mmdebstrap $SUITE with $packages -> $tag"
  mmdebstrap --quiet --mode=root --variant=minbase --format=tar \
    --include="$packages" "$SUITE" - | "$engine" import - "$tag" >/dev/null
}

cmd_bridge() {
  local engine version base
  engine=$(engine)
  version=$(package_version)
  base=${BASE_IMAGE:-$(default_base_image)}
  local -a options
  mapfile -t options < <(build_options "$engine")
  say "$engine build video-callback-bridge:$version on $base"
  "$engine" build --quiet "${options[@]}" --file "$DOCKERFILE" \
    --tag "video-callback-bridge:$version" --build-arg "BASE_IMAGE=$base" "$ROOT" >/dev/null
  say "video-callback-bridge:$version is $("$engine" image inspect --format '{{.Size}}' \
    "video-callback-bridge:$version") bytes"
}

cmd_python_base() {
  local base
  base=$(default_base_image)
  # A short name means Docker Hub's library; the engine looks it up locally by that name.
  [[ $base == */* ]] || base="docker.io/library/$base"
  present "$(engine)" "$base" && return
  debian_image "$base" python3,python3-venv,python3-pip,python-is-python3,ca-certificates
}

cmd_kafka() {
  local engine version jre
  engine=$(engine)
  version=$(kafka_version)
  jre="localhost/debian-jre:$SUITE"
  present "$engine" "docker.io/apache/kafka:$version" && return
  compgen -G "$KAFKA_DIR/lib/kafka_2.13-$version.jar" >/dev/null \
    || die "no Kafka $version jars in $KAFKA_DIR/lib: run \`make kafka-jars\`"
  present "$engine" "$jre" || debian_image "$jre" openjdk-17-jre-headless,ca-certificates
  local -a options
  mapfile -t options < <(build_options "$engine")
  say "$engine build docker.io/apache/kafka:$version from the jars in $KAFKA_DIR/lib"
  "$engine" build --quiet "${options[@]}" --file "$KAFKA_DIR/image/Dockerfile" \
    --tag "docker.io/apache/kafka:$version" --build-arg "JRE_IMAGE=$jre" \
    "$KAFKA_DIR" >/dev/null
}

main() {
  (($# == 1)) || die "usage: image.sh {engine|bridge|python-base|kafka}"
  case $1 in
    engine) engine ;;
    bridge) cmd_bridge ;;
    python-base) cmd_python_base ;;
    kafka) cmd_kafka ;;
    *) die "usage: image.sh {engine|bridge|python-base|kafka}" ;;
  esac
}

main "$@"
