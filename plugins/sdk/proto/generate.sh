#!/usr/bin/env bash
# Regenerates the provider protocol's Go code. Run from the repository root (`make proto`).
#
# The generated files record the generator versions in their headers, so the versions are
# pinned here: a different protoc or plugin would rewrite every header and make the committed
# code differ from a fresh run. Install the plugins with
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
# and protoc 3.21.x from Debian's protobuf-compiler.
set -euo pipefail

want_protoc="libprotoc 3.21.12"
want_gen_go="protoc-gen-go v1.36.12"
want_gen_go_grpc="protoc-gen-go-grpc 1.5.1"

root=plugins/sdk/proto
if [[ ! -f "$root/smsgw/provider/v1/provider.proto" ]]; then
	echo "generate.sh: run from the repository root" >&2
	exit 1
fi

# go install puts the plugins in GOBIN (default GOPATH/bin), which is often not on PATH.
gobin="$(go env GOBIN)"
if [[ -z "$gobin" ]]; then
	gobin="$(go env GOPATH)/bin"
fi
export PATH="$gobin:$PATH"

check() {
	local got
	if ! got="$("$1" --version 2>&1)"; then
		echo "generate.sh: $1 not found (want $2)" >&2
		exit 1
	fi
	if [[ "$got" != "$2" ]]; then
		echo "generate.sh: $1 is \"$got\", want \"$2\"" >&2
		exit 1
	fi
}
check protoc "$want_protoc"
check protoc-gen-go "$want_gen_go"
check protoc-gen-go-grpc "$want_gen_go_grpc"

protoc \
	--proto_path="$root" \
	--go_out="$root" --go_opt=paths=source_relative \
	--go-grpc_out="$root" --go-grpc_opt=paths=source_relative \
	"$root/smsgw/provider/v1/provider.proto"
