#!/usr/bin/env bash
# Serve Twilio's own OpenAPI spec (2010-04-01 API) with Stoplight Prism on 127.0.0.1,
# so the official twilio SDK can be tested against a server that validates requests.
#
#   prism.sh start [PORT] [extra prism flags]   start and wait until it answers; prints READY port=... pid=...
#   prism.sh stop  [PORT]                       stop the one started on PORT
#   prism.sh install                            only install Prism (npm) into the cache
#
# PORT defaults to 4010. Add -d for dynamic responses (a new SID on each call, random field values).
# Prism is installed with npm on first use into $PRISM_HOME (default ~/.cache/followup-prism),
# outside the repository (it is not the project's code). Logs and pid files go there too.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SPEC="${TWILIO_SPEC:-$HERE/twilio_api_v2010.json}"
PRISM_HOME="${PRISM_HOME:-$HOME/.cache/followup-prism}"
PRISM_VERSION="${PRISM_VERSION:-5.14.2}"
PRISM="$PRISM_HOME/node_modules/.bin/prism"

install() {
  [ -x "$PRISM" ] && return 0
  command -v npm >/dev/null || { echo "prism.sh: npm not found (apt-get install -y nodejs npm)" >&2; exit 1; }
  mkdir -p "$PRISM_HOME"
  (cd "$PRISM_HOME" && npm install --silent --no-audit --no-fund "@stoplight/prism-cli@$PRISM_VERSION" >/dev/null)
  [ -x "$PRISM" ] || { echo "prism.sh: install failed" >&2; exit 1; }
}

start() {
  local port="${1:-4010}"; [ $# -gt 0 ] && shift
  install
  local log="$PRISM_HOME/prism_$port.log" pidfile="$PRISM_HOME/prism_$port.pid"
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
    echo "prism.sh: something already answers on 127.0.0.1:$port" >&2; exit 1
  fi
  nohup "$PRISM" mock -h 127.0.0.1 -p "$port" -v warn "$@" "$SPEC" >"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pidfile"
  local deadline=$(( $(date +%s) + ${READY_TIMEOUT:-60} ))
  while :; do
    kill -0 "$pid" 2>/dev/null || { echo "prism.sh: prism exited; log:" >&2; tail -20 "$log" >&2; exit 1; }
    # once listening, Prism answers an unknown route such as / with a 404
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/" || true)" != "000" ] && break
    [ "$(date +%s)" -ge "$deadline" ] && { echo "prism.sh: not ready in time" >&2; kill "$pid"; exit 1; }
    sleep 0.2
  done
  echo "READY port=$port pid=$pid log=$log"
}

stop() {
  local port="${1:-4010}" pidfile="$PRISM_HOME/prism_${1:-4010}.pid"
  [ -f "$pidfile" ] || { echo "prism.sh: nothing started on $port" >&2; exit 1; }
  local pid; pid=$(cat "$pidfile")
  local kids; kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  kill $kids "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "stopped port=$port pid=$pid"
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case "$cmd" in
  start) start "$@" ;;
  stop) stop "$@" ;;
  install) install ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
