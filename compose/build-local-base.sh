#!/usr/bin/env bash
# Assembles a minimal Node base image from this host's `node` binary and the libraries it links,
# for machines that cannot pull node:20-slim. Usage: compose/build-local-base.sh [tag]
# Then: docker build --build-arg BASE_IMAGE=<tag> -f compose/Dockerfile .
set -euo pipefail
tag="${1:-outpost-base/node:local}"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
node_bin="$(command -v node)"
npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
mkdir -p "$ctx/root/usr/local/bin" "$ctx/root/usr/local/lib" "$ctx/root/tmp" "$ctx/root/etc"
cp "$node_bin" "$ctx/root/usr/local/bin/node"
cp -r "$(readlink -f "$npm_dir")" "$ctx/root/usr/local/lib/npm"
printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/npm/bin/npm-cli.js "$@"\n' > "$ctx/root/usr/local/bin/npm"
chmod +x "$ctx/root/usr/local/bin/npm"
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$ctx/root$(dirname "$lib")"
  cp -L "$lib" "$ctx/root$lib"
done
cp /etc/ssl/certs/ca-certificates.crt "$ctx/root/etc/ca-certificates.crt" 2>/dev/null || true
[ -x /usr/bin/busybox ] && mkdir -p "$ctx/root/bin" && cp /usr/bin/busybox "$ctx/root/bin/busybox"
cat > "$ctx/Dockerfile" <<'DOCKER'
FROM scratch
COPY root/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /usr/bin && ln -s /bin/env /usr/bin/env
ENV PATH=/usr/local/bin:/bin SSL_CERT_FILE=/etc/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ca-certificates.crt
DOCKER
docker build -q -t "$tag" "$ctx"
echo "$tag"
