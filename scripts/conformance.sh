#!/usr/bin/env bash
# Run the ETSI NGSI-LD conformance suite against a fresh Dalgu on loopback and summarise it.
#
#   scripts/conformance.sh [--store sqlite|postgres] [SUITE_FOLDER ...]
#
# The suite is not part of Dalgu: export it once outside the project (see docs/conformance.md)
# to $ETS_DIR with its own virtualenv in $ETS_VENV. Its @context URLs that point at
# forge.etsi.org must be rewritten to http://127.0.0.1:8088/ in that copy (no internet here).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ETS_DIR=${ETS_DIR:-/work/ets/suite}
ETS_VENV=${ETS_VENV:-/work/ets/venv}
store=sqlite
if [ "${1:-}" = "--store" ]; then store=$2; shift 2; fi
folders=("$@")
[ ${#folders[@]} -gt 0 ] || folders=(CommonBehaviours jsonldContext ContextInformation/Provision
                                     ContextInformation/Consumption ContextInformation/Subscription)
if [ ! -d "$ETS_DIR/TP/NGSI-LD" ] || [ ! -x "$ETS_VENV/bin/robot" ]; then
    echo "conformance: the ETSI suite is not at $ETS_DIR (with robot in $ETS_VENV); see docs/conformance.md" >&2
    exit 2
fi
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
            [ -n "${db:-}" ] && dropdb -h 127.0.0.1 -U postgres --force "$db" 2>/dev/null || true
            rm -rf "$work"; }
trap cleanup EXIT
(cd "$ETS_DIR/resources/jsonld-contexts" && exec setsid python3 -m http.server 8088 --bind 127.0.0.1) \
    >"$work/contexts.log" 2>&1 & pids+=($!)
env_vars=(DALGU_PORT=9090 DALGU_SQLITE_PATH="$work/dalgu.db" DALGU_STORE="$store")
if [ "$store" = postgres ]; then
    db="dalgu_ets_$$"; createdb -h 127.0.0.1 -U postgres "$db"
    env_vars+=(DALGU_POSTGRES_DSN="postgresql://postgres@127.0.0.1:5432/$db")
fi
(cd "$here" && exec setsid env "${env_vars[@]}" .venv/bin/dalgu serve) >"$work/dalgu.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:9090/health >/dev/null && break; sleep 0.2; done
targets=(); for f in "${folders[@]}"; do targets+=("TP/NGSI-LD/$f"); done
(cd "$ETS_DIR" && "$ETS_VENV/bin/robot" --variable notification_server_host:127.0.0.1 \
    --variable context_server_host:127.0.0.1 --variable context_source_host:127.0.0.1 \
    --outputdir "$here/var/conformance-$store" "${targets[@]}" >/dev/null) || true
"$here/.venv/bin/python" "$here/scripts/conformance_report.py" "$here/var/conformance-$store/output.xml" --failures
