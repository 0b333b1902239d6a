#!/usr/bin/env bash
# Run the ETSI NGSI-LD conformance test suite (Robot Framework) against a fresh Dalgu on
# loopback and print pass/fail counts per folder.
#
#   scripts/conformance.sh [--store sqlite|postgres] [--rev REV] [--failures] [SUITE_FOLDER ...]
#
# SUITE_FOLDER is a folder under the suite's TP/NGSI-LD/ (default: CommonBehaviours
# jsonldContext ContextInformation/Provision ContextInformation/Consumption).
# --failures also lists every failed test with its robot message.
# --rev REV runs Dalgu's src/ as committed at REV (e.g. HEAD) instead of the work tree.
#
# Environment:
#   ETS_DIR   the exported suite (default /work/ets/ngsi-ld-test-suite); never part of Dalgu
#   ETS_VENV  its own virtualenv, made here from its requirements.txt (default /work/ets/venv)
#   CONFORMANCE_OUT  where robot writes output.xml/log.html (default var/conformance-<store>)
#
# Everything binds 127.0.0.1 on free ports: the @context file server, Dalgu (fresh SQLite file,
# or a fresh PostgreSQL database made with createdb and dropped afterwards), and the suite's own
# notification, context-source and context servers. All are stopped on exit.
#
# The suite itself is not edited. It is run from a throw-away copy in a temp directory, with
# this one patch (the suite's data files carry their @context URLs literally, so a --variable
# cannot reach them, and this machine has no internet):
#   PATCH 1  https://forge.etsi.org/rep/cim/ngsi-ld-test-suite/-/raw/develop/resources/jsonld-contexts/X
#            -> http://127.0.0.1:<ctx port>/X      in data/, resources/, TP/
#   PATCH 2  https://easy-global-market.github.io/ngsild-api-data-models/ngsildTestSuite/ngsildTestSuiteV1.8-compound.jsonld
#            -> http://127.0.0.1:<ctx port>/ngsi-ld-test-suite-compound.jsonld   (a copy of
#            the same test-suite compound context hosted elsewhere; 7 data files use it)
#   PATCH 3  http://smartdatamodels.org/context.jsonld, https://fiware.github.io/data-models/context.jsonld,
#            https://fiware.github.io/NGSI-LD_TestSuite/ldContext/testContext.jsonld (3 data files
#            of jsonldContext tests, which only list, cache and delete them)
#            -> http://127.0.0.1:<ctx port>/stub-<name>.jsonld, small stand-in context documents
#            written next to the suite's own in the copy's resources/jsonld-contexts/
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
ETS_DIR=${ETS_DIR:-/work/ets/ngsi-ld-test-suite}
ETS_VENV=${ETS_VENV:-/work/ets/venv}
store=sqlite
rev=
failures=
folders=()
while [ $# -gt 0 ]; do
    case "$1" in
        --store) store=${2:?--store needs sqlite or postgres}; shift 2 ;;
        --store=*) store=${1#--store=}; shift ;;
        --failures) failures=--failures; shift ;;
        --rev) rev=${2:?--rev needs a git revision}; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "conformance: unknown option $1" >&2; exit 2 ;;
        *) folders+=("${1%/}"); shift ;;
    esac
done
case "$store" in sqlite|postgres) ;; *) echo "conformance: --store is sqlite or postgres" >&2; exit 2 ;; esac
[ ${#folders[@]} -gt 0 ] || folders=(CommonBehaviours jsonldContext
                                     ContextInformation/Provision ContextInformation/Consumption)
out=${CONFORMANCE_OUT:-$here/var/conformance-$store}

if [ ! -d "$ETS_DIR/TP/NGSI-LD" ]; then
    cat >&2 <<EOF
conformance: the ETSI NGSI-LD test suite is not at $ETS_DIR (set ETS_DIR to elsewhere).
Export it once, OUTSIDE this repository, from the first commit of the public mirror
marek-mraz/ngsi-ld-test-suite (1d442dc, the import of ETSI's suite; later commits fit it to
another broker). With a git mirror of that repository at \$MIRROR:

  mkdir -p $ETS_DIR
  git --git-dir=\$MIRROR archive 1d442dc -- . \\
      ':(exclude)results-Consumption-Entity/output.xml' \\
      ':(exclude)results-Consumption-TemporalEntity/output.xml' \\
      ':(exclude)results-Subscription/output.xml' | tar -x -C $ETS_DIR

(the three excluded files are old run results that a partial mirror may lack). This script
then makes its virtualenv at $ETS_VENV from its requirements.txt (PyPI only).
EOF
    exit 2
fi
for f in "${folders[@]}"; do
    [ -d "$ETS_DIR/TP/NGSI-LD/$f" ] || { echo "conformance: no folder TP/NGSI-LD/$f in $ETS_DIR" >&2; exit 2; }
done
if [ ! -x "$ETS_VENV/bin/robot" ]; then
    echo "conformance: creating $ETS_VENV from $ETS_DIR/requirements.txt" >&2
    python3 -m venv "$ETS_VENV"
    "$ETS_VENV/bin/pip" install -q -r "$ETS_DIR/requirements.txt"
fi
[ -x "$here/.venv/bin/dalgu" ] || { echo "conformance: no $here/.venv/bin/dalgu (run make install)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dalgu-ets.XXXXXX")
pids=()
db=
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$p" 2>/dev/null || true
    done
    if [ -n "$db" ]; then dropdb -h 127.0.0.1 -U postgres --if-exists --force "$db" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports: @context files, Dalgu, notification server, context source, context server,
# a second MQTT broker.
read -r ctx_port api_port notif_port csource_port cserver_port mqtt2_port < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(6):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
EOF
)
ctx_url="http://127.0.0.1:$ctx_port"

# The MQTT tests start their broker with docker (the suite's own Mosquitto image) on 1883 and on
# a "non-default port"; this machine has no docker but Mosquitto on 1883. For the other port, a
# second Mosquitto on a free loopback port, taking any user name and password as that image does.
mqtt_vars=()
if command -v mosquitto >/dev/null 2>&1; then
    printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$mqtt2_port" >"$work/mosquitto.conf"
    setsid mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    pids+=($!)
    mqtt_vars=(--variable "mqtt_broker_non_default_port:$mqtt2_port")
fi

# The throw-away, patched copy of the suite (see PATCH 1 to 3 above).
suite="$work/suite"
mkdir -p "$suite"
tar -C "$ETS_DIR" --exclude='./results*' --exclude='./.idea' -cf - . | tar -C "$suite" -xf -
grep -rlZ -e 'https://forge.etsi.org/rep/cim/ngsi-ld-test-suite/-/raw/develop/resources/jsonld-contexts/' \
    -e 'https://easy-global-market.github.io/ngsild-api-data-models/ngsildTestSuite/' \
    "$suite/data" "$suite/resources" "$suite/TP" | xargs -0 -r sed -i \
    -e "s#https://forge.etsi.org/rep/cim/ngsi-ld-test-suite/-/raw/develop/resources/jsonld-contexts/#$ctx_url/#g" \
    -e "s#https://easy-global-market.github.io/ngsild-api-data-models/ngsildTestSuite/ngsildTestSuiteV1.8-compound.jsonld#$ctx_url/ngsi-ld-test-suite-compound.jsonld#g"

stubs="$suite/resources/jsonld-contexts"
for name in smartdatamodels fiware-data-models fiware-testContext; do
    printf '{"@context": {"%sTerm": "https://example.org/%s/term"}}\n' "$name" "$name" >"$stubs/stub-$name.jsonld"
done
grep -rlZ -e 'smartdatamodels.org/context.jsonld' -e 'fiware.github.io/' "$suite/data" "$suite/TP" | xargs -0 -r sed -i \
    -e "s#http://smartdatamodels.org/context.jsonld#$ctx_url/stub-smartdatamodels.jsonld#g" \
    -e "s#https://fiware.github.io/data-models/context.jsonld#$ctx_url/stub-fiware-data-models.jsonld#g" \
    -e "s#https://fiware.github.io/NGSI-LD_TestSuite/ldContext/testContext.jsonld#$ctx_url/stub-fiware-testContext.jsonld#g"

setsid python3 -m http.server --bind 127.0.0.1 --directory "$suite/resources/jsonld-contexts" "$ctx_port" \
    >"$work/contexts.log" 2>&1 &
pids+=($!)

# The suite's README asks for temporal pagination to start at 2 attributes x 20 instances
# and not at 2 x 5: an instance limit of 10 per attribute does both.
dalgu_env=(DALGU_HOST=127.0.0.1 DALGU_PORT="$api_port" DALGU_STORE="$store"
           DALGU_SQLITE_PATH="$work/dalgu.db" DALGU_TEMPORAL_INSTANCE_LIMIT=10
           # the suite tests the NGSI-LD API alone: no gateway ports, so that a run beside
           # another Dalgu (the tests, a second run on the other store) takes none of theirs
           DALGU_MQTT_BROKER=off DALGU_IOT_NORTH_PORT=0 DALGU_IOT_SOUTH_PORT=0 DALGU_COAP_PORT=0)
if [ "$store" = postgres ]; then
    pg_isready -q -h 127.0.0.1 -p 5432 || { echo "conformance: PostgreSQL is not up on 127.0.0.1:5432 (scripts/services.sh starts it)" >&2; exit 2; }
    db="dalgu_ets_$$_$(date +%s)"
    createdb -h 127.0.0.1 -U postgres "$db"
    dalgu_env+=(DALGU_POSTGRES_DSN="postgresql://postgres@127.0.0.1:5432/$db")
fi
if [ -n "$rev" ]; then
    mkdir -p "$work/rev"
    git -C "$here" archive "$rev" src | tar -x -C "$work/rev"
    dalgu_env+=(PYTHONPATH="$work/rev/src")
fi
git -C "$here" rev-parse --short "${rev:-HEAD}" >"$work/commit" 2>/dev/null || true
[ -n "$rev" ] || { git -C "$here" diff --quiet HEAD -- src 2>/dev/null || echo "+ uncommitted src/ changes" >>"$work/commit"; }
(cd "$here" && exec setsid env "${dalgu_env[@]}" .venv/bin/dalgu serve) >"$work/dalgu.log" 2>&1 &
pids+=($!)
dalgu_pid=$!

api="http://127.0.0.1:$api_port/ngsi-ld/v1"
up=
for _ in $(seq 1 300); do
    if curl -s -o /dev/null "$api/types"; then up=1; break; fi
    kill -0 "$dalgu_pid" 2>/dev/null || break
    sleep 0.2
done
if [ -z "$up" ]; then
    echo "conformance: Dalgu did not answer GET $api/types; its log:" >&2
    cat "$work/dalgu.log" >&2
    exit 1
fi

targets=()
for f in "${folders[@]}"; do targets+=("TP/NGSI-LD/$f"); done
mkdir -p "$out"
echo "conformance: Dalgu ($store, $(head -c 60 "$work/commit" | tr '\n' ' ')) on $api, contexts on $ctx_url; robot output in $out" >&2
rc=0
(cd "$suite" && "$ETS_VENV/bin/robot" \
    --variable "url:$api" \
    --variable "temporal_api_url:$api" \
    --variable "ngsild_test_suite_context:$ctx_url/ngsi-ld-test-suite-compound.jsonld" \
    --variable "core_context:https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld" \
    --variable notification_server_host:127.0.0.1 --variable "notification_server_port:$notif_port" \
    --variable context_source_host:127.0.0.1 --variable "context_source_port:$csource_port" \
    --variable context_server_host:127.0.0.1 --variable "context_server_port:$cserver_port" \
    --variable mqtt_broker_host:127.0.0.1 "${mqtt_vars[@]}" \
    --console dotted --outputdir "$out" "${targets[@]}") >"$out/robot-console.txt" 2>&1 || rc=$?
cp "$work/dalgu.log" "$out/dalgu.log" 2>/dev/null || true
cp "$work/commit" "$out/dalgu-commit.txt" 2>/dev/null || true
# robot exits with the number of failed tests (capped at 250); 251 and up mean it did not run.
if [ "$rc" -gt 250 ] || [ ! -f "$out/output.xml" ]; then
    echo "conformance: robot did not run (exit $rc); see $out/robot-console.txt" >&2
    tail -n 20 "$out/robot-console.txt" >&2
    exit 1
fi
python3 "$here/scripts/conformance_report.py" "$out/output.xml" $failures
