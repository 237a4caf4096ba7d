#!/usr/bin/env bash
# tests/bench/bench_gateway.sh - throughput and latency of one sr-gateway.
#
# Starts sr-dev (embedded broker, 1 sr-status worker, 4 partitions, agent
# off: this script plays the device command service), sets up data over
# REST (tests/bench/bench_gateway.py setup), then:
#   1. wrk on GET /v0/runs/{run}/stageruns/ of a 20-stage run;
#   2. wrk on GET /v0/stageruns/{sr}/targetruns/?status=running of a stage
#      of 1,000 target runs, --running of them running (default page: 20);
#   3. the PUT promote round trip (bench_gateway.py promote), and where
#      the writes' time went (bench_gateway.py phases: produce -> reply
#      -> visible, from the gateway's /metrics).
# Each wrk measurement is repeated --repeat times; the summary gives the
# medians of requests/s, p50 and p99 (wrk's latency distribution) and of
# requests per gateway CPU-second (utime+stime of the gateway process from
# /proc, i.e. "requests/s per gateway core", independent of how much CPU
# the gateway got on a shared machine).
#
# Pinning (--pin on, the default with 2+ CPUs): the gateway gets the last
# CPU to itself (as far as this script controls: other processes of the
# machine are not moved); sr-dev, the broker, the worker, wrk and the Python
# client share the others. --pin off: the scheduler decides.
#
# wrk runs one thread by default (--threads 1): on a 2-CPU machine it has
# one CPU, shared with the broker and the worker, and a second wrk thread
# there only time-slices with the first, adding its waits to the measured
# latency; one epoll thread drives 32 connections at well over 20k req/s.
#
#   tests/bench/bench_gateway.sh [--build DIR] [--no-build] [--repeat 5]
#       [--duration 15] [--threads 1] [--connections 32] [--running 300]
#       [--samples 300] [--pin on|off] [--full-page] [--profile]
#       [--skip-get] [--skip-put] [--keep] [-- SR-DEV-ARGS...]
#
#   --full-page  also measure ?status=running&limit=1000 (every running row)
#   --profile    one more wrk run per endpoint under `perf record -g` of the
#                gateway; prints the hottest symbols (needs perf)
#   --keep       keep the temporary directory (logs, wrk outputs, perf data)
#   -- ARGS      passed on to sr-dev (and by it to every child), e.g.
#                -- -D kafka.linger.ms=0
#
# Needs wrk (apt-get install -y wrk), python3 (standard library only),
# curl, taskset (util-linux). Build: ${SR_BENCH_BUILD:-build/bench}, as
# tests/bench/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${SR_BENCH_BUILD:-$root/build/bench}
repeat=5 duration=15 threads=1 conns=32 running=300 samples=300
pin=auto full_page=0 profile=0 skip_get=0 skip_put=0 keep=0 do_build=1
token=dev-token
dev_args=()

usage() {
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit "${1:-2}"
}

while (($#)); do
        case $1 in
        --build) build=$2; shift ;;
        --no-build) do_build=0 ;;
        --repeat) repeat=$2; shift ;;
        --duration) duration=$2; shift ;;
        --threads) threads=$2; shift ;;
        --connections) conns=$2; shift ;;
        --running) running=$2; shift ;;
        --samples) samples=$2; shift ;;
        --pin) pin=$2; shift ;;
        --full-page) full_page=1 ;;
        --profile) profile=1 ;;
        --skip-get) skip_get=1 ;;
        --skip-put) skip_put=1 ;;
        --keep) keep=1 ;;
        -h|--help) usage 0 ;;
        --) shift; dev_args=("$@"); break ;;
        *) echo "bench_gateway.sh: unknown argument $1" >&2; usage ;;
        esac
        shift
done

run() {
        echo "+ $*" >&2
        "$@"
}

for tool in wrk python3 curl taskset; do
        command -v "$tool" >/dev/null || {
                echo "bench_gateway.sh: $tool not found" \
                     "(wrk: apt-get install -y wrk)" >&2
                exit 1
        }
done
if ((profile)) && ! command -v perf >/dev/null; then
        echo "bench_gateway.sh: --profile needs perf" >&2
        exit 1
fi

if ((do_build)); then
        if [[ ! -f "$build/build.ninja" ]]; then
                run cmake -S "$root" -B "$build" -G Ninja \
                        -DCMAKE_BUILD_TYPE=RelWithDebInfo
        fi
        run cmake --build "$build" --target sr-dev sr-status sr-gateway \
                sr-agent
fi

ncpu=$(nproc)
[[ $pin == auto ]] && { ((ncpu >= 2)) && pin=on || pin=off; }
gw_cpu=$((ncpu - 1))
rest_cpus="0-$((ncpu > 1 ? ncpu - 2 : 0))"
clk_tck=$(getconf CLK_TCK)

tmp=$(mktemp -d /tmp/bench-gateway.XXXXXX)
dev_pid=
cleanup() {
        if [[ -n $dev_pid ]] && kill -0 "$dev_pid" 2>/dev/null; then
                kill -TERM "$dev_pid" 2>/dev/null || true
                wait "$dev_pid" 2>/dev/null || true
        fi
        if ((keep)); then
                echo "bench_gateway.sh: kept $tmp" >&2
        else
                rm -rf "$tmp"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ the fleet
echo "+ $build/sr-dev --data-dir $tmp/data --workers 1 --partitions 4" \
     "--agent off --http-port 0 -D log.level=warn ${dev_args[*]}" >&2
"$build/sr-dev" --data-dir "$tmp/data" --workers 1 --partitions 4 \
        --agent off --http-port 0 -D log.level=warn "${dev_args[@]}" \
        >"$tmp/dev.out" 2>"$tmp/dev.err" &
dev_pid=$!
for ((i = 0; i < 1200; i++)); do
        grep -q '^ready ' "$tmp/dev.out" 2>/dev/null && break
        kill -0 "$dev_pid" 2>/dev/null || {
                echo "bench_gateway.sh: sr-dev exited" >&2
                cat "$tmp/dev.err" >&2
                exit 1
        }
        sleep 0.1
done
grep -q '^ready ' "$tmp/dev.out" || {
        echo "bench_gateway.sh: sr-dev not ready in 120 s" >&2
        exit 1
}
url=$(sed -n 's/^http=//p' "$tmp/dev.out")
gw_pid=$(pgrep -P "$dev_pid" -x sr-gateway)
cat "$tmp/dev.out" >&2

# Pin: gateway alone on the last CPU, everything else of ours on the rest.
# Threads created later inherit the affinity of their creator.
client=()
if [[ $pin == on ]]; then
        run taskset -a -p -c "$gw_cpu" "$gw_pid" >/dev/null
        for p in "$dev_pid" $(pgrep -P "$dev_pid"); do
                [[ $p == "$gw_pid" ]] && continue
                taskset -a -p -c "$rest_cpus" "$p" >/dev/null
        done
        echo "pinned: sr-gateway pid $gw_pid on CPU $gw_cpu; sr-dev," \
             "broker, worker, wrk, client on CPU $rest_cpus" >&2
        client=(taskset -c "$rest_cpus")
fi

# ------------------------------------------------------------ data
run "${client[@]}" python3 "$here/bench_gateway.py" setup --url "$url" \
        --token "$token" --running "$running" | tee "$tmp/setup.env" >&2
# shellcheck disable=SC1091
. "$tmp/setup.env"

gw_ticks() {
        awk '{print $14 + $15}' "/proc/$gw_pid/stat"
}

median() { # values on stdin, one a line
        sort -g | awk '{v[NR] = $1} END {
                if (!NR) { print "nan"; exit }
                if (NR % 2) print v[(NR + 1) / 2];
                else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

summary=()

field() { # KEY LINE: the value of KEY=value in a "bench: ..." line
        awk -v k="$1" '{ for (i = 1; i <= NF; i++)
                if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' <<<"$2"
}

# bench NAME PATH: --repeat wrk runs, then the medians.
bench() {
        local name=$1 path=$2 i out line rps p50 p99 req ticks cpu percore
        local code
        code=$(curl -s -o "$tmp/$name.json" -w '%{http_code} %{size_download}' \
                -H "Authorization: Bearer $token" "$url$path")
        echo "$name: GET $path -> $code bytes;" \
             "$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["content"]; print("count=%d results=%d" % (c["count"], len(c["results"])))' "$tmp/$name.json")" >&2
        : >"$tmp/$name.runs"
        for ((i = 1; i <= repeat; i++)); do
                out=$tmp/wrk-$name-$i.txt
                ticks=$(gw_ticks)
                echo "+ wrk -t$threads -c$conns -d${duration}s --latency" \
                     "-s tests/bench/wrk/report.lua -H 'Authorization:" \
                     "Bearer $token' $url$path  # $i/$repeat," \
                     "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
                "${client[@]}" wrk -t"$threads" -c"$conns" -d"${duration}s" \
                        --latency -s "$here/wrk/report.lua" \
                        -H "Authorization: Bearer $token" "$url$path" >"$out"
                ticks=$(($(gw_ticks) - ticks))
                line=$(grep '^bench: ' "$out")
                req=$(field requests "$line")
                cpu=$(awk -v t="$ticks" -v h="$clk_tck" 'BEGIN{printf "%.2f", t / h}')
                rps=$(field rps "$line")
                p50=$(field p50_us "$line")
                p99=$(field p99_us "$line")
                percore=$(awk -v r="$req" -v c="$cpu" 'BEGIN{printf "%.0f", (c > 0 ? r / c : 0)}')
                sed -n '/Latency Distribution/,/^Requests\/sec/p' "$out" |
                        tr -s ' ' | paste -sd' ' >&2
                echo "  run $i: rps=$rps p50=${p50}us p99=${p99}us" \
                     "gateway_cpu=${cpu}s req_per_gw_cpu_s=$percore" \
                     "$(grep -o 'non2xx=[0-9]* sockerr=[0-9]*' <<<"$line")" >&2
                echo "$rps $p50 $p99 $percore $cpu" >>"$tmp/$name.runs"
        done
        local m_rps m_p50 m_p99 m_pc m_cpu
        m_rps=$(awk '{print $1}' "$tmp/$name.runs" | median)
        m_p50=$(awk '{print $2 / 1000}' "$tmp/$name.runs" | median)
        m_p99=$(awk '{print $3 / 1000}' "$tmp/$name.runs" | median)
        m_pc=$(awk '{print $4}' "$tmp/$name.runs" | median)
        m_cpu=$(awk -v d="$duration" '{print $5 / d}' "$tmp/$name.runs" | median)
        summary+=("$(printf '%-22s %10.0f %9.2f %9.2f %12.0f %8.2f' "$name" \
                "$m_rps" "$m_p50" "$m_p99" "$m_pc" "$m_cpu")")
        if ((profile)); then
                # wrk first: perf -p attaches to the threads that exist, and
                # with a thread per connection they exist once wrk connected.
                "${client[@]}" wrk -t"$threads" -c"$conns" -d"${duration}s" \
                        -H "Authorization: Bearer $token" "$url$path" \
                        >/dev/null &
                local wrk_pid=$!
                sleep 1
                echo "+ perf record -F 999 -g -p $gw_pid -- sleep" \
                     "$((duration - 3))  # during one more wrk run" >&2
                perf record -q -F 999 -g -p "$gw_pid" \
                        -o "$tmp/perf-$name.data" -- sleep "$((duration - 3))" \
                        2>/dev/null || true
                wait "$wrk_pid" || true
                echo "== perf: $name (self time, top symbols) ==" >&2
                perf report -i "$tmp/perf-$name.data" --no-children \
                        --sort dso,sym --stdio -g none 2>/dev/null |
                        grep -v '^#' | grep -v '^$' | head -40 >&2
        fi
}

if ((!skip_get)); then
        bench stageruns "/v0/runs/$RUN20/stageruns/"
        bench targetruns "/v0/stageruns/$BIG_STAGE/targetruns/?status=running"
        if ((full_page)); then
                bench targetruns_1000 \
                        "/v0/stageruns/$BIG_STAGE/targetruns/?status=running&limit=1000"
        fi
fi

promote= phases=
if ((!skip_put)); then
        python3 "$here/bench_gateway.py" phases --url "$url" \
                --save "$tmp/phases.json"
        run "${client[@]}" python3 "$here/bench_gateway.py" promote \
                --url "$url" --token "$token" --samples "$samples" \
                | tee "$tmp/promote.txt" >&2
        promote=$(grep '^promote: ' "$tmp/promote.txt")
        # Where the writes of the promote loop (POST, PUT success, PUT
        # queued) spent their time, from the gateway's histograms.
        run python3 "$here/bench_gateway.py" phases --url "$url" \
                --since "$tmp/phases.json" | tee "$tmp/phases.txt" >&2
        phases=$(grep '^phases: ' "$tmp/phases.txt")
fi

echo
echo "== sr-gateway benchmark ($(date -u +%FT%TZ), $(nproc) CPUs, pin=$pin," \
     "wrk -t$threads -c$conns -d${duration}s x$repeat, git" \
     "$(git -C "$root" describe --always --dirty 2>/dev/null || echo ?)) =="
if ((${#summary[@]})); then
        printf '%-22s %10s %9s %9s %12s %8s\n' endpoint "req/s" "p50 ms" \
                "p99 ms" "req/gw-cpu-s" "gw cores"
        printf '%s\n' "${summary[@]}"
        echo "(medians of $repeat runs; goals: >= 20000 GET/s per gateway" \
             "core, GET p99 <= 5 ms)"
        # shellcheck disable=SC2153 # RUNNING comes from setup.env
        echo "running target runs: $RUNNING of 1000"
fi
if [[ -n $promote ]]; then
        echo "PUT promote round trip: ${promote#promote: } (goal: p99 <= 20 ms)"
        echo "write phases (means, all writes of the promote loop):" \
             "${phases#phases: }"
fi
