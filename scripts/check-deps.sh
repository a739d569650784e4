#!/usr/bin/env bash
# Enforces the import rules of ARCHITECTURE.md §1 with `go list`.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/smsgw/smsgw
fail=0
violate() { echo "check-deps: $*" >&2; fail=1; }
# Each list is captured before its loop (not read from a process substitution, whose failure
# set -e cannot see): a `go list` that fails, e.g. on a missing go.sum entry, fails the check.

# core: standard library, other core packages, and ports — the use cases (core/gateway) are
# written against the port interfaces, which is what makes them hexagonal. Entity packages
# (core/message, core/routing) stay standard-library only.
out=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./core/... | sort -u) || violate "go list failed (its error is above)"
while read -r dep; do
  case "$dep" in "$mod"/core/*|"$mod"/ports) ;; *) violate "core depends on $dep" ;; esac
done <<<"$out"
out=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./core/message ./core/routing | sort -u) || violate "go list failed (its error is above)"
while read -r dep; do
  case "$dep" in "$mod"/core/*) ;; *) violate "core entity packages depend on $dep" ;; esac
done <<<"$out"

# ports: standard library, core, and ports itself.
out=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./ports | sort -u) || violate "go list failed (its error is above)"
while read -r dep; do
  case "$dep" in "$mod"/core/*|"$mod"/ports) ;; *) violate "ports depends on $dep" ;; esac
done <<<"$out"

# adapters: never import another adapter (test helpers under */pgtest and clock excepted).
out=$(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./adapters/...) || violate "go list failed (its error is above)"
while read -r pkg imports; do
  own=${pkg#"$mod"/adapters/}; own=${own%%/*}
  for imp in $imports; do
    case "$imp" in
      "$mod"/adapters/postgres/pgtest|"$mod"/adapters/clock) ;;
      "$mod"/adapters/"$own"|"$mod"/adapters/"$own"/*) ;;
      "$mod"/adapters/*) violate "$pkg imports $imp" ;;
    esac
  done
done <<<"$out"

# core/gateway: every use-case transaction goes through g.inTx (events.go), which records the
# application events of what it changes; a bare g.store.InTx would silently emit none.
if grep -n 'g\.store\.InTx(' core/gateway/*.go | grep -v -e '_test\.go:' -e '^core/gateway/events\.go:'; then
  violate "core/gateway: use g.inTx, not g.store.InTx (see core/gateway/events.go)"
fi

# webhook: the receivers' package applications import; the standard library only.
out=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./webhook | sort -u) || violate "go list failed (its error is above)"
while read -r dep; do
  case "$dep" in "$mod"/webhook) ;; *) violate "webhook depends on $dep" ;; esac
done <<<"$out"

# plugins/sdk: never core, ports or adapters (it may become its own module).
out=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./plugins/sdk/... | sort -u) || violate "go list failed (its error is above)"
while read -r dep; do
  case "$dep" in "$mod"/core/*|"$mod"/ports*|"$mod"/adapters/*) violate "plugins/sdk depends on $dep" ;; esac
done <<<"$out"

# a plugin imports plugins/sdk only, of this module, besides its own subpackages (e.g.
# plugins/twilio/signature, which the simulators import too).
out=$(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./plugins/...) || violate "go list failed (its error is above)"
while read -r pkg imports; do
  case "$pkg" in "$mod"/plugins/sdk*) continue ;; esac
  own=${pkg#"$mod"/plugins/}; own=${own%%/*}
  for imp in $imports; do
    case "$imp" in
      "$mod"/plugins/sdk|"$mod"/plugins/sdk/*) ;;
      "$mod"/plugins/"$own"/*) ;;
      "$mod"/*) violate "$pkg imports $imp" ;;
    esac
  done
done <<<"$out"

# examples/provider-echo is its own module, built as a third party builds a plugin: of smsgw
# it may import plugins/sdk only.
out=$(cd examples/provider-echo && go list -test -f '{{.ImportPath}} {{join .Imports " "}}' ./...) || violate "go list failed (its error is above)"
while read -r pkg imports; do
  for imp in $imports; do
    case "$imp" in
      "$mod"/plugins/sdk|"$mod"/plugins/sdk/*|"$mod"/examples/provider-echo*) ;;
      "$mod"/*) violate "$pkg imports $imp" ;;
    esac
  done
done <<<"$out"

[ "$fail" = 0 ] && echo "check-deps: ok"
exit "$fail"
