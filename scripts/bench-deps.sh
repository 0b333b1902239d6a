#!/usr/bin/env bash
# Install what the benchmarks need beyond the Python environment: wrk.
set -euo pipefail
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
