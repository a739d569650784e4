#!/usr/bin/env bash
# Regenerates the provider protocol's Go code. Run from the repository root (`make proto`).
#
# The generated files record the generator versions in their headers, so the versions are
# pinned: a different protoc or plugin would rewrite every header and make the committed code
# differ from a fresh run. The two Go plugins are pinned in go.mod's tool block and built from
# there; protoc 3.21.x comes from Debian's protobuf-compiler.
set -euo pipefail

want_protoc="libprotoc 3.21.12"
want_gen_go="protoc-gen-go v1.36.12"
want_gen_go_grpc="protoc-gen-go-grpc 1.5.1"

root=plugins/sdk/proto
if [[ ! -f "$root/smsgw/provider/v1/provider.proto" ]]; then
	echo "generate.sh: run from the repository root" >&2
	exit 1
fi

# Build the go.mod-pinned plugins into a temporary directory that protoc finds first.
gobin="$(mktemp -d)"
trap 'rm -rf "$gobin"' EXIT
go build -o "$gobin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
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
