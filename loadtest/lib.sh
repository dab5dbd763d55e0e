# loadtest/lib.sh: shell functions the benchmarks share (sourced).

# Until the hopcount whose admin listener is on 127.0.0.1:PORT has nothing
# held for the burst rule and every follow it counted is in Redis
# (docs/metrics.md: counted = delivered, no key pending), or die after 60 s.
wait_settled() { # admin port
    local m counted delivered
    for _ in $(seq 1 600); do
        m=$(curl -s "http://127.0.0.1:$1/metrics")
        counted=$(echo "$m" | awk '$1 ~ /^hopcount_requests_total\{outcome="(tracked|bot|scanner)"\}$/ {s += $2} END {print s + 0}')
        delivered=$(echo "$m" | awk '$1 == "hopcount_follows_delivered_total" {print $2 + 0}')
        if echo "$m" | grep -q '^hopcount_burst_held 0$' && echo "$m" | grep -q '^hopcount_pending_keys 0$' &&
            [ "$counted" = "$delivered" ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "hopcount on admin port $1 did not settle in 60 s" >&2
    exit 1
}

# A private redis-server on 127.0.0.1:PORT, daemonized, files in DIR, run
# under the command prefix given after them (taskset, say); returns once it
# answers PING, or exits after 5 s.
private_redis() { # port dir [prefix...]
    local port=$1 dir=$2
    shift 2
    "$@" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize yes --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
    for _ in $(seq 1 100); do
        [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    echo "redis-server on 127.0.0.1:$port did not answer" >&2
    exit 1
}

# N links c0000000.. with a campaign each (10 campaigns), piped as RESP.
seed_links() { # port n
    awk -v n="$2" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("hc:link:c%07d", i); u = sprintf("https://example.com/landing/%d", i)
            c = sprintf("bench%d", i % 10)
            printf "*8\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$3\r\nurl\r\n$%d\r\n%s\r\n", length(k), k, length(u), u
            printf "$8\r\ncampaign\r\n$%d\r\n%s\r\n$7\r\ncreated\r\n$10\r\n1700000000\r\n", length(c), c
        }
    }' | redis-cli -p "$1" --pipe >/dev/null
}
