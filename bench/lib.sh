# Shell pieces the load benchmark (run.sh) and the cost curves (curves.sh)
# share. Sourced, not run.

# need PROGRAM PACKAGE: install PACKAGE through apt-get when PROGRAM is missing.
need() {
    command -v "$1" >/dev/null 2>&1 && return
    echo "installing $2" >&2
    apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cpu_ticks PID: user + system clock ticks of a process and its descendants
# (nginx's and Varnish's workers are child processes).
cpu_ticks() {
    local ticks child
    ticks=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0)
    for child in $(pgrep -P "$1" || true); do ticks=$((ticks + $(cpu_ticks "$child"))); done
    echo "$ticks"
}
TICKS=$(getconf CLK_TCK)

# ids_script FILE: wrk's script for GET /items/{id}, the ids cycling over
# 100.
ids_script() {
    cat > "$1" <<'LUA'
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/items/" .. (counter % 100))
end
LUA
}

# await_server NAME PORT TRIES LOG [CURL-ARGS...]: waits, TRIES times 50 ms
# at most, until a server answers GET /items/0 on PORT; otherwise prints
# LOG, the server's, and fails.
await_server() {
    local name=$1 port=$2 tries=$3 log=$4
    shift 4
    for _ in $(seq "$tries"); do
        curl -sf -o /dev/null "$@" "http://127.0.0.1:$port/items/0" && return
        sleep 0.05
    done
    echo "$name did not answer on port $port; its log:" >&2
    cat "$log" >&2
    return 1
}

# start_watchdog SECONDS NAME: the whole run is bounded in time; on expiry
# the script is sent TERM. Sets WATCHDOG; stop it with stop_watchdog.
start_watchdog() {
    ( sleep "$1" >/dev/null 2>&1; echo "$2: time budget of ${1}s exhausted" >&2; kill -TERM $$ ) &
    WATCHDOG=$!
    disown "$WATCHDOG"   # stopped quietly on exit, without a "Terminated" line
}

# stop_watchdog: the watchdog goes first, then its sleep (killing the sleep
# first would let the watchdog go on to its message).
stop_watchdog() {
    local wake
    wake=$(pgrep -P "$WATCHDOG" || true)
    kill "$WATCHDOG" 2>/dev/null || true
    [ -z "$wake" ] || kill $wake 2>/dev/null || true
}

# cleanup: on exit, stops what the run started (SERVER_PID, ORIGIN_PID,
# PROXY_PID, REDIS_PID, those that are set) and removes WORK.
cleanup() {
    local pid
    for pid in "${SERVER_PID:-}" "${ORIGIN_PID:-}" "${PROXY_PID:-}" "${REDIS_PID:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}

# stop_server_and_origin: stops SERVER_PID and ORIGIN_PID (when set), and
# clears them.
stop_server_and_origin() {
    local pid
    for pid in "$SERVER_PID" "$ORIGIN_PID"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PID=""
    ORIGIN_PID=""
}

# start_redis PORT DIR [redis-server options...]: a dedicated redis-server,
# pinned to LOAD_CPU, answering before this returns. Sets REDIS_PID.
start_redis() {
    local port=$1 dir=$2
    shift 2
    taskset -c "$LOAD_CPU" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$dir" --logfile "$dir/redis.log" --daemonize no "$@" &
    REDIS_PID=$!
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
    echo "redis-server on port $port did not start; see $dir/redis.log" >&2
    return 1
}

# nginx_conf DIR PORT ORIGIN_PORT KEYS_ZONE MAX_SIZE EXTRA: nginx's
# configuration: a plain cache for 200s, one hour, in front of the
# uncached handler on ORIGIN_PORT, with keep-alive to it; EXTRA goes into
# the server block (gzip, say). Sends X-Cache like the cache does.
nginx_conf() {
    local dir=$1 port=$2 origin=$3 zone=$4 size=$5 extra=$6
    mkdir -p "$dir"
    cat > "$dir/nginx.conf" <<EOF
# The worker runs as this script's user, which owns the cache directory.
user $(id -un);
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
worker_rlimit_nofile 8192;
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    proxy_cache_path $dir/cache levels=1:2 keys_zone=bench:$zone max_size=$size inactive=2h use_temp_path=off;
    upstream origin { server 127.0.0.1:$origin; keepalive 32; }
    server {
        listen 127.0.0.1:$port;
        $extra
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_valid 200 1h;
            proxy_cache_lock on;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
EOF
}

# varnish_vcl FILE ORIGIN_PORT EXTRA: Varnish's configuration: every 200
# for one hour, from the uncached handler; EXTRA goes into
# vcl_backend_response (beresp.do_gzip, say). Sends X-Cache like the cache.
varnish_vcl() {
    cat > "$1" <<EOF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$2"; }
sub vcl_backend_response { set beresp.ttl = 1h; $3 }
sub vcl_deliver { if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; } }
EOF
}
