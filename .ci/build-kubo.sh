#!/usr/bin/env bash
# Builds the stock Kubo 0.43.0 binary from the Go module proxy, for the
# interoperability and CID-vector tests. Usage: .ci/build-kubo.sh OUTPUT_BINARY
# (`go install ...@v` cannot be used: it asks the proxy for the version list,
# which the proxy here refuses, so a throwaway module requires it instead.)
set -euo pipefail
out=$(realpath -m "${1:?usage: build-kubo.sh OUTPUT_BINARY}")
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -q '0.43.0'; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module kubobuild\n\ngo 1.26.5\n' > go.mod
go get github.com/ipfs/kubo/cmd/ipfs@v0.43.0 >/dev/null 2>&1 || go get github.com/ipfs/kubo/cmd/ipfs@v0.43.0
mkdir -p "$(dirname "$out")"
go build -trimpath -o "$out" github.com/ipfs/kubo/cmd/ipfs
"$out" version
