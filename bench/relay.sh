#!/usr/bin/env bash
# Relay benchmark: the same smtp-source load sent straight into smtp-sink and through the proxy
# (upstream pointed at the same sink), on loopback, in one run, so the ratio proxy/direct is
# measured under the same machine conditions. Optionally Postfix as a relay (RELAY_POSTFIX=1).
#
#   bench/relay.sh                 # full run (about 3-4 minutes)
#   ROUNDS=1 bench/relay.sh        # one round instead of three
#   PROXY_LOG_LEVEL=Information bench/relay.sh   # with the per-message JSON log line
#   THREADPOOL_PROXY=0 bench/relay.sh            # without the second proxy (thread-pool socket completions)
#   CARD=0 bench/relay.sh                        # without the design card's library stack
#   QUEUE_PROXY=0 bench/relay.sh                 # without the Queue-mode proxy
#   BASELINE_REF=<commit> bench/relay.sh         # also that commit's proxy, as the path "baseline"
#
# Paths: direct (smtp-source into smtp-sink), proxy (the default configuration), proxy-tp (the same build
# with Proxy:Performance:InlineSocketCompletions=false, the runtime's default), card (the relay the design
# card describes, bench/SmtpAmpProxy.CardRelay: SmtpServer, MimeKit, the same AMP rules, a MailKit pool,
# NoDelay on both sides), postfix (optional), baseline (BASELINE_REF's proxy, same options).
# Every proxy runs the default configuration; only the upstream address (the sink) and the listener differ.
#
# Needs: dotnet SDK, Postfix's smtp-source and smtp-sink (apt-get install postfix), python3.
# Every process started here is stopped by its PID on exit; everything binds 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
MSGS_50="${MSGS_50:-10000}"            # messages per 50-session run
MSGS_1="${MSGS_1:-3000}"               # messages per 1-session run
THREADPOOL_PROXY="${THREADPOOL_PROXY:-1}"
CARD="${CARD:-1}"
QUEUE_PROXY="${QUEUE_PROXY:-1}"
WARMUP="${WARMUP:-20000}"              # messages per proxy before the first round
LARGE_SESSIONS="${LARGE_SESSIONS:-50}" # concurrent 10 MB messages
LARGE_BYTES="${LARGE_BYTES:-10485760}"
PROXY_LOG_LEVEL="${PROXY_LOG_LEVEL:-Warning}"
RELAY_POSTFIX="${RELAY_POSTFIX:-0}"
BASELINE_REF="${BASELINE_REF:-}"
ARTIFACTS="${ARTIFACTS:-/tmp/art-relay-bench}"
SMTP_SOURCE="${SMTP_SOURCE:-$(command -v smtp-source || echo /usr/sbin/smtp-source)}"
SMTP_SINK="${SMTP_SINK:-$(command -v smtp-sink || echo /usr/sbin/smtp-sink)}"
PYTHON="${PYTHON:-$(command -v python3 || echo /usr/bin/python3)}"
AMP_FILE="$ROOT/bench/messages/amp-misordered.eml"

for tool in "$SMTP_SOURCE" "$SMTP_SINK"; do
    [[ -x "$tool" ]] || { echo "relay.sh: $tool not found (apt-get install postfix)" >&2; exit 2; }
done

WORK="$(mktemp -d /tmp/relay-bench.XXXXXX)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "${POSTFIX_CONF:-}" && -d "$POSTFIX_CONF" ]]; then
        /usr/sbin/postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Polls until something accepts on the port; bounded, no fixed sleep.
wait_port() {
    local port=$1 deadline=$((SECONDS + 60))
    until "$PYTHON" -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            echo "relay.sh: nothing listens on 127.0.0.1:$port after 60 s" >&2
            exit 1
        fi
        "$PYTHON" -c 'import time; time.sleep(0.1)'
    done
}

now_ns() { date +%s%N; }

echo "building the proxy (Release) into $ARTIFACTS ..."
dotnet build -c Release "$ROOT/src/SmtpAmpProxy" --artifacts-path "$ARTIFACTS" -v quiet -nologo >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log" >&2; exit 1; }
PROXY_DLL="$(find "$ARTIFACTS/bin/SmtpAmpProxy" -name smtp-amp-proxy.dll -path '*release*' | head -1)"
if [[ -n "$BASELINE_REF" ]]; then
    # The other commit's source from git's object store (no worktree), built into its own artifacts.
    mkdir -p "$WORK/baseline-src"
    git -C "$ROOT" archive "$BASELINE_REF" | tar -x -C "$WORK/baseline-src"
    dotnet build -c Release "$WORK/baseline-src/src/SmtpAmpProxy" --artifacts-path "$ARTIFACTS-baseline" -v quiet -nologo >"$WORK/build-baseline.log" 2>&1 \
        || { cat "$WORK/build-baseline.log" >&2; exit 1; }
    BASELINE_DLL="$(find "$ARTIFACTS-baseline/bin/SmtpAmpProxy" -name smtp-amp-proxy.dll -path '*release*' | head -1)"
fi
if [[ "$CARD" == 1 ]]; then
    dotnet build -c Release "$ROOT/bench/SmtpAmpProxy.CardRelay" --artifacts-path "$ARTIFACTS" -v quiet -nologo >"$WORK/build-card.log" 2>&1 \
        || { cat "$WORK/build-card.log" >&2; exit 1; }
    CARD_DLL="$(find "$ARTIFACTS/bin/SmtpAmpProxy.CardRelay" -name SmtpAmpProxy.CardRelay.dll -path '*release*' | head -1)"
fi

# smtp-source -F appends CRLF to every line it reads: the file must have LF line ends.
sed 's/\r$//' "$AMP_FILE" >"$WORK/amp.eml"

SINK_PORT=$(free_port)
"$SMTP_SINK" -u nobody -m 1000 -t 300 "127.0.0.1:$SINK_PORT" 1024 >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
wait_port "$SINK_PORT"

# Starts a proxy (START_DLL, else this build) relaying to the sink at its default configuration: only the
# upstream address (plain SMTP, no login, to the sink) and the listener are set. Extra arguments are
# appended. Sets STARTED_PID.
start_proxy() {
    local port=$1 log=$2
    shift 2
    dotnet "${START_DLL:-$PROXY_DLL}" \
        --Proxy:Upstream:Mode=Smtp --Proxy:Upstream:Host=127.0.0.1 --Proxy:Upstream:Port="$SINK_PORT" \
        --Proxy:Upstream:Tls=None --Proxy:Upstream:Username= \
        --Proxy:Listen:0:Endpoint="127.0.0.1:$port" --Proxy:Http:Endpoint= \
        --Logging:LogLevel:Default="$PROXY_LOG_LEVEL" "$@" >"$log" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    wait_port "$port"
}

# The runtime's socket variable must not leak in from the caller: each proxy runs the mode it is named for.
unset DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS
PROXY_PORT=$(free_port)
start_proxy "$PROXY_PORT" "$WORK/proxy.log"
PROXY_PID=$STARTED_PID

TP_PORT=""
if [[ "$THREADPOOL_PROXY" == 1 ]]; then
    TP_PORT=$(free_port)
    start_proxy "$TP_PORT" "$WORK/proxy-tp.log" --Proxy:Performance:InlineSocketCompletions=false
    TP_PID=$STARTED_PID
fi

BASE_PORT=""
if [[ -n "$BASELINE_REF" ]]; then
    BASE_PORT=$(free_port)
    # Its own configuration file: the options of one commit may be unknown to another's binder.
    START_DLL="$BASELINE_DLL" start_proxy "$BASE_PORT" "$WORK/proxy-baseline.log" --config "$WORK/baseline-src/config/appsettings.json"
    BASE_PID=$STARTED_PID
fi

CARD_PORT=""
if [[ "$CARD" == 1 ]]; then
    CARD_PORT=$(free_port)
    dotnet "$CARD_DLL" "$CARD_PORT" "$SINK_PORT" 64 >"$WORK/card.log" 2>&1 &
    CARD_PID=$!
    PIDS+=("$CARD_PID")
    wait_port "$CARD_PORT"
fi

QUEUE_PORT=""
if [[ "$QUEUE_PROXY" == 1 ]]; then
    # Queue mode: every 250 durable in a spool under the work folder; its workers feed the same sink during the load.
    QUEUE_PORT=$(free_port)
    start_proxy "$QUEUE_PORT" "$WORK/proxy-queue.log" --Proxy:Relay:Mode=Queue --Proxy:Queue:Directory="$WORK/spool"
    QUEUE_PID=$STARTED_PID
fi

POSTFIX_PORT=""
if [[ "$RELAY_POSTFIX" == 1 && -x /usr/sbin/postfix ]]; then
    # A private Postfix instance (own config and queue directories) relaying to the sink.
    POSTFIX_CONF="$WORK/postfix-etc"
    POSTFIX_PORT=$(free_port)
    mkdir -p "$POSTFIX_CONF" "$WORK/postfix-spool" "$WORK/postfix-data"
    # Postfix's daemons run as the postfix user: they must reach the work folder and own the data folder.
    chmod 755 "$WORK"
    chown postfix "$WORK/postfix-data" 2>/dev/null || true
    cp /etc/postfix/master.cf "$POSTFIX_CONF/"
    sed -i -E "s/^(smtp|submission|smtps)([[:space:]]+inet[[:space:]])/#\1\2/" "$POSTFIX_CONF/master.cf"
    echo "127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd" >>"$POSTFIX_CONF/master.cf"
    cat >"$POSTFIX_CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $WORK/postfix-spool
data_directory = $WORK/postfix-data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
smtpd_tls_security_level = none
default_process_limit = 100
maillog_file = $WORK/postfix.log
maillog_file_prefixes = $WORK
syslog_name = postfix-bench
alias_maps =
alias_database =
EOF
    if /usr/sbin/postfix -c "$POSTFIX_CONF" start >"$WORK/postfix-start.log" 2>&1; then
        wait_port "$POSTFIX_PORT"
    else
        echo "postfix did not start; skipping it:" >&2
        cat "$WORK/postfix-start.log" >&2
        POSTFIX_PORT=""
    fi
fi

# Resets the proxy's peak RSS (Linux clear_refs 5) so each scenario reports its own peak.
pid_of() { case $1 in proxy) echo "$PROXY_PID" ;; proxy-tp) echo "$TP_PID" ;; card) echo "$CARD_PID" ;; baseline) echo "$BASE_PID" ;; queue) echo "$QUEUE_PID" ;; esac; }
measured() { [[ $1 == proxy* || $1 == card || $1 == baseline || $1 == queue ]]; }
reset_peak() { echo 5 >"/proc/${1:-$PROXY_PID}/clear_refs" 2>/dev/null || true; }
peak_mib() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/${1:-$PROXY_PID}/status"; }

# Runs smtp-source; prints messages/s. Aborts the run if any message was not accepted.
send() {
    local port=$1 sessions=$2 count=$3 start end
    local -a extra=("${@:4}")
    start=$(now_ns)
    if ! "$SMTP_SOURCE" -d -s "$sessions" -m "$count" -f bench@example.com -t sink@example.org -M bench.example \
        "${extra[@]}" "127.0.0.1:$port" >"$WORK/source.log" 2>&1; then
        echo "relay.sh: smtp-source failed against port $port:" >&2
        cat "$WORK/source.log" >&2
        exit 1
    fi
    end=$(now_ns)
    awk -v n="$count" -v ns="$((end - start))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'
}

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A RESULT PEAK ADDED RATIO
LOADS=("plain:-l 5120" "amp:-F $WORK/amp.eml")
PATHS=(direct proxy)
[[ -n "$TP_PORT" ]] && PATHS+=(proxy-tp)
[[ -n "$BASE_PORT" ]] && PATHS+=(baseline)
[[ -n "$CARD_PORT" ]] && PATHS+=(card)
[[ -n "$QUEUE_PORT" ]] && PATHS+=(queue)
[[ -n "$POSTFIX_PORT" ]] && PATHS+=(postfix)
port_of() {
    case $1 in direct) echo "$SINK_PORT" ;; proxy) echo "$PROXY_PORT" ;; proxy-tp) echo "$TP_PORT" ;; baseline) echo "$BASE_PORT" ;; card) echo "$CARD_PORT" ;; queue) echo "$QUEUE_PORT" ;; postfix) echo "$POSTFIX_PORT" ;; esac
}

# Warm-up: JIT, upstream pool, page cache. With both cores busy, the runtime's tier-1 recompilation
# (one background thread) was still taking a tenth of the proxy's samples after 40,000 messages.
for port in "$PROXY_PORT" $TP_PORT $CARD_PORT $QUEUE_PORT; do
    send "$port" 50 "$WARMUP" -l 5120 >/dev/null
    send "$port" 10 "$((WARMUP / 4))" -F "$WORK/amp.eml" >/dev/null
done

for round in $(seq 1 "$ROUNDS"); do
    for load in "${LOADS[@]}"; do
        name=${load%%:*}
        read -r -a args <<<"${load#*:}"
        for sessions in 1 50; do
            count=$MSGS_50
            ((sessions == 1)) && count=$MSGS_1
            for path in "${PATHS[@]}"; do
                n=$count
                [[ $path == postfix ]] && n=$((count / 5))
                measured "$path" && reset_peak "$(pid_of "$path")"
                rate=$(send "$(port_of "$path")" "$sessions" "$n" "${args[@]}")
                key="$name/$sessions/$path"
                RESULT[$key]="${RESULT[$key]:-} $rate"
                [[ $path == direct ]] && direct_rate=$rate
                RATIO[$key]="${RATIO[$key]:-} $(awk -v a="$rate" -v b="$direct_rate" 'BEGIN { printf "%.4f", a / b }')"
                # Added time per message is taken against the direct run of the same round: the machine's
                # wake-up latency, which dominates one session, drifts between rounds.
                ADDED[$key]="${ADDED[$key]:-} $(awk -v a="$rate" -v b="$direct_rate" 'BEGIN { printf "%.4f", 1000 / a - 1000 / b }')"
                if measured "$path"; then
                    p=$(peak_mib "$(pid_of "$path")")
                    ((p > ${PEAK[$key]:-0})) && PEAK[$key]=$p
                fi
                printf 'round %d  %-6s %2d sessions  %-7s %7d msg/s\n' "$round" "$name" "$sessions" "$path" "$rate" >&2
            done
        done
    done
done

# 50 concurrent 10 MB messages through the proxy: the buffer spills to disk, RSS must stay bounded.
reset_peak
start=$(now_ns)
send "$PROXY_PORT" "$LARGE_SESSIONS" "$LARGE_SESSIONS" -l "$LARGE_BYTES" >/dev/null
large_s=$(awk -v ns="$(($(now_ns) - start))" 'BEGIN { printf "%.2f", ns / 1e9 }')
large_peak=$(peak_mib)
if [[ -n "$CARD_PORT" ]]; then
    reset_peak "$CARD_PID"
    start=$(now_ns)
    send "$CARD_PORT" "$LARGE_SESSIONS" "$LARGE_SESSIONS" -l "$LARGE_BYTES" >/dev/null
    card_large_s=$(awk -v ns="$(($(now_ns) - start))" 'BEGIN { printf "%.2f", ns / 1e9 }')
    card_large_peak=$(peak_mib "$CARD_PID")
fi

queue_left="-"
if [[ -n "$QUEUE_PORT" ]]; then
    # Everything the queue path accepted must reach the sink: wait (bounded) for its spool to drain.
    # `queue list` reads the spool beside the running instance: its intake log and the files of deferred mail.
    queued() { dotnet "$PROXY_DLL" queue list --json --Proxy:Queue:Directory="$WORK/spool" | "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
    deadline=$((SECONDS + 300))
    until [[ "$(queued)" == 0 ]] || ((SECONDS > deadline)); do
        "$PYTHON" -c 'import time; time.sleep(0.2)'
    done
    queue_left=$(queued)
fi

echo
echo "Relay benchmark: $(nproc) cores, $ROUNDS round(s); msg/s is the median of rounds, ratio and added time the median of each round's against its direct run; proxy log level $PROXY_LOG_LEVEL"
printf '%-6s %8s %-8s %10s %8s %12s %14s\n' load sessions path "msg/s" ratio "added ms/msg" "relay peak RSS"
for load in "${LOADS[@]}"; do
    name=${load%%:*}
    for sessions in 1 50; do
        for path in "${PATHS[@]}"; do
            # shellcheck disable=SC2086
            rate=$(median ${RESULT[$name/$sessions/$path]})
            # Like the added time, the ratio is taken per round against that round's direct run.
            # shellcheck disable=SC2086
            ratio=$(printf '%.2f' "$(median ${RATIO[$name/$sessions/$path]})")
            # shellcheck disable=SC2086
            added=$(printf '%.3f' "$(median ${ADDED[$name/$sessions/$path]})")
            [[ $path == direct || $sessions != 1 ]] && added="-"
            rss="-"
            measured "$path" && rss="${PEAK[$name/$sessions/$path]} MiB"
            printf '%-6s %8d %-8s %10d %8s %12s %14s\n' "$name" "$sessions" "$path" "$rate" "$ratio" "$added" "$rss"
        done
    done
done
printf '%-6s %8d %-8s %10s %8s %12s %14s\n' "10MB" "$LARGE_SESSIONS" proxy "${large_s}s" "-" "-" "$large_peak MiB"
[[ -n "$CARD_PORT" ]] && printf '%-6s %8d %-8s %10s %8s %12s %14s\n' "10MB" "$LARGE_SESSIONS" card "${card_large_s}s" "-" "-" "$card_large_peak MiB"
[[ -n "$QUEUE_PORT" ]] && echo "queue: every 250 durable (the intake log's fdatasync); messages left in the spool after the run: $queue_left"
exit 0
