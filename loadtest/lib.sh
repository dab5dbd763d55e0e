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
