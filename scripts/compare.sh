#!/usr/bin/env bash
# Parsec beside its peers, on this machine and the same data: `parsec cp` through a local
# `parsec server run`, rclone's crypt remote, and restic, each uploading then downloading one
# large incompressible file and a tree of small files, in interleaved rounds (the tools take
# turns in first place). Prints, for
# each step and tool, the median over the rounds of the wall time, the rate, the processor
# time (user + system of the command's process tree; for parsec plus its server's) and the
# peak memory (max RSS; for parsec "client + server").
#
#   scripts/compare.sh          local disk: parsec's server on SQLite and a disk block store,
#                               rclone crypt over a local folder, restic to a local repository
#   scripts/compare.sh --s3     MinIO (~/go/bin/minio, as scripts/test.sh installs it) for
#                               every tool: parsec's server on PostgreSQL (initdb as the
#                               postgres user when root) and an s3:// block store, rclone
#                               crypt over an S3 remote, restic to an s3: repository; the
#                               table adds MinIO's processor time ("store CPU")
#
# Environment: COMPARE_BIG_MIB (size of the large file, default 1024), COMPARE_FILES (number
# of small files, default 10000), COMPARE_FILE_SIZE (bytes each, default 4096),
# COMPARE_ROUNDS (default 3), COMPARE_S3=1 (same as --s3), COMPARE_BENCH=0 (skips the final
# `parsec bench --addr` against the same server, same sizes, whose table follows the other),
# TMPDIR (where everything goes; it is removed at the end). Installs rclone and restic from Debian's packages if missing.
# Not part of CI: it takes minutes and measures, it does not test. Run it on a quiet machine,
# a few minutes after any mass deletion of files: ext4 without a journal avoids reusing
# freshly freed inodes, which slows file creation for every tool (see the README's Benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."

big_mib=${COMPARE_BIG_MIB:-1024}
files=${COMPARE_FILES:-10000}
file_size=${COMPARE_FILE_SIZE:-4096}
rounds=${COMPARE_ROUNDS:-3}
bench=${COMPARE_BENCH:-1}
s3=${COMPARE_S3:-}
[ "${1:-}" = "--s3" ] && s3=1

say() { echo "== $*" >&2; }
die() { echo "compare.sh: $*" >&2; exit 1; }

apt_install() {
  say "installing $* (apt)"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
missing=()
for pkg in rclone:rclone restic:restic time:/usr/bin/time; do
  command -v "${pkg#*:}" >/dev/null 2>&1 || missing+=("${pkg%%:*}")
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/parsec-compare.XXXXXX")
pids=()
pgdir=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work" ${pgdir:+"$pgdir"}
}
trap cleanup EXIT

say "building parsec"
go build -o "$work/bin/parsec" ./cmd/parsec
parsec="$work/bin/parsec"

# free_port prints a TCP port of 127.0.0.1 that nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (: >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# cpu_ticks prints a process's user + system time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks=$(getconf CLK_TCK)

say "generating the data: ${big_mib} MiB, and $files files of $file_size bytes"
data="$work/data"
mkdir -p "$data/small"
head -c "$((big_mib << 20))" /dev/urandom >"$data/big.bin"
head -c "$((files * file_size))" /dev/urandom | split -b "$file_size" -a 6 -d - "$data/small/f"
[ "$(ls "$data/small" | wc -l)" -eq "$files" ] || die "split made $(ls "$data/small" | wc -l) files, want $files"
sync

# ---- stores: MinIO and PostgreSQL for --s3 ----
store_pid=""
if [ -n "$s3" ]; then
  minio=$(command -v minio || echo "$(go env GOPATH | cut -d: -f1)/bin/minio")
  [ -x "$minio" ] || die "no MinIO: scripts/test.sh installs it (go install)"
  mport=$(free_port)
  export AWS_ACCESS_KEY_ID=compare AWS_SECRET_ACCESS_KEY=compare-secret-key AWS_REGION=us-east-1
  # MinIO answers plain HTTP here; rclone 1.60's S3 backend fails outright when a CA bundle
  # is configured this way ("unsupported transport").
  unset AWS_CA_BUNDLE
  MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
    "$minio" server "$work/minio" --address "127.0.0.1:$mport" --console-address "127.0.0.1:$(free_port)" --quiet \
    >"$work/minio.log" 2>&1 &
  pids+=($!)
  store_pid=$!
  s3url="http://127.0.0.1:$mport"
  for _ in $(seq 100); do curl -fs "$s3url/minio/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fs "$s3url/minio/health/live" >/dev/null || die "MinIO did not start: $(tail -5 "$work/minio.log")"

  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$pgbin/initdb" ] || die "no PostgreSQL binaries (apt install postgresql)"
  pgdir=$(mktemp -d /tmp/parsec-compare-pg.XXXXXX)
  asdb=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$pgdir"
    asdb=(runuser -u postgres --)
  fi
  pgport=$(free_port)
  "${asdb[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$work/initdb.log" 2>&1 ||
    die "initdb: $(tail -5 "$work/initdb.log")"
  "${asdb[@]}" "$pgbin/postgres" -D "$pgdir/data" -p "$pgport" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$pgdir" >"$work/postgres.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport" && break; sleep 0.2; done
  "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres parsec || die "createdb: $(tail -5 "$work/postgres.log")"
fi

# ---- parsec: a server, an organization, a device, a workspace ----
say "starting parsec's server"
srvdir="$work/parsec-server"
mkdir -p "$srvdir"
if [ -n "$s3" ]; then
  stores=(--db "postgres://postgres@127.0.0.1:$pgport/parsec?sslmode=disable" --blockstore "s3://parsec?endpoint=$s3url&region=us-east-1")
else
  stores=(--db "sqlite:$srvdir/metadata.db" --blockstore "disk:$srvdir/blocks")
fi
export PARSEC_CONFIG_DIR="$work/parsec-config"
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
PARSEC_ADMIN_TOKEN=$token "$parsec" server run --addr 127.0.0.1:0 --data-dir "$srvdir" "${stores[@]}" \
  --log-format json >"$work/server.log" 2>&1 &
pids+=($!)
server_pid=$!
url=""
for _ in $(seq 150); do
  url=$(sed -n 's/.*"msg":"server listening".*"public_url":"\([^"]*\)".*/\1/p' "$work/server.log" | head -1)
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
[ -n "$url" ] || die "parsec's server did not start: $(tail -5 "$work/server.log")"
password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
bootstrap=$("$parsec" org create compare --addr "$url" --admin-token "$token" | grep -o 'http[^ ]*bootstrap_organization[^ ]*' | head -1)
[ -n "$bootstrap" ] || die "parsec org create printed no bootstrap URL"
echo "$password" | "$parsec" org bootstrap "$bootstrap" --email compare@example.com --name Compare \
  --device-label compare --password-stdin >/dev/null
export PARSEC_DEVICE
PARSEC_DEVICE=$(basename "$(ls "$PARSEC_CONFIG_DIR"/devices/*.keys)" .keys)
echo "$password" | "$parsec" workspace create compare --password-stdin >/dev/null

# ---- rclone: a crypt remote over a folder, or over an S3 remote on MinIO ----
export RCLONE_CONFIG_CMPCRYPT_TYPE=crypt RCLONE_CONFIG_CMPCRYPT_PASSWORD RCLONE_CONFIG_CMPCRYPT_PASSWORD2
RCLONE_CONFIG_CMPCRYPT_PASSWORD=$(rclone obscure "$password")
RCLONE_CONFIG_CMPCRYPT_PASSWORD2=$(rclone obscure "salt-$password")
export RCLONE_CONFIG="$work/rclone.conf" # empty: the remotes come from the environment
: >"$RCLONE_CONFIG"
if [ -n "$s3" ]; then
  export RCLONE_CONFIG_CMPS3_TYPE=s3 RCLONE_CONFIG_CMPS3_PROVIDER=Minio RCLONE_CONFIG_CMPS3_ENDPOINT="$s3url" \
    RCLONE_CONFIG_CMPS3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_CMPS3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    RCLONE_CONFIG_CMPS3_REGION=us-east-1
  rclone mkdir cmps3:rclone
  export RCLONE_CONFIG_CMPCRYPT_REMOTE=cmps3:rclone
  restic_base="s3:$s3url/restic"
else
  mkdir -p "$work/rclone-store"
  export RCLONE_CONFIG_CMPCRYPT_REMOTE="$work/rclone-store"
  restic_base="$work/restic"
fi
export RESTIC_PASSWORD=$password RESTIC_CACHE_DIR="$work/restic-cache"

# ---- the steps of each tool; $1 is the round, $dst the download folder ----
parsec_up_big() { echo "$password" | "$parsec" cp --password-stdin "$data/big.bin" "compare:/big-$1.bin"; }
parsec_down_big() { echo "$password" | "$parsec" cp --password-stdin "compare:/big-$1.bin" "$dst/big.bin"; }
parsec_up_small() { echo "$password" | "$parsec" cp --password-stdin -r "$data/small" "compare:/small-$1"; }
parsec_down_small() { echo "$password" | "$parsec" cp --password-stdin -r "compare:/small-$1" "$dst/small"; }
rclone_up_big() { rclone copy "$data/big.bin" "cmpcrypt:r$1/"; }
rclone_down_big() { rclone copy "cmpcrypt:r$1/big.bin" "$dst/"; }
rclone_up_small() { rclone copy "$data/small" "cmpcrypt:r$1/small"; }
rclone_down_small() { rclone copy "cmpcrypt:r$1/small" "$dst/small"; }
# restic deduplicates: a fresh repository per round and data set, made before the timing.
restic_up_big() { restic -q -r "$restic_base/r$1-big" backup "$data/big.bin"; }
restic_down_big() { restic -q -r "$restic_base/r$1-big" restore latest --target "$dst/restic"; }
restic_up_small() { restic -q -r "$restic_base/r$1-small" backup "$data/small"; }
restic_down_small() { restic -q -r "$restic_base/r$1-small" restore latest --target "$dst/restic"; }

# downloaded prints where a tool put its download of a step.
downloaded() {
  case "$1/$2" in
    restic/big) echo "$dst/restic$data/big.bin" ;;
    restic/small) echo "$dst/restic$data/small" ;;
    */big) echo "$dst/big.bin" ;;
    */small) echo "$dst/small" ;;
  esac
}

export -f parsec_up_big parsec_down_big parsec_up_small parsec_down_small rclone_up_big rclone_down_big \
  rclone_up_small rclone_down_small restic_up_big restic_down_big restic_up_small restic_down_small
export password parsec data restic_base

results="$work/results"
: >"$results"
# measure TOOL STEP ROUND: runs the step under /usr/bin/time and appends one line to
# $results: tool step round wall cpu rss_kib server_cpu server_rss_kib store_cpu.
measure() {
  local tool=$1 step=$2 round=$3 s0=0 m0=0 srv_cpu=0 srv_rss="" store_cpu=0
  sync
  if [ "$tool" = parsec ]; then
    s0=$(cpu_ticks "$server_pid")
    echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true # reset the server's peak memory
  fi
  [ -n "$store_pid" ] && m0=$(cpu_ticks "$store_pid")
  dst="$work/dst" /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c "${tool}_$step $round" \
    >"$work/step.log" 2>&1 || die "$tool $step (round $round) failed: $(tail -5 "$work/step.log")"
  if [ "$tool" = parsec ]; then
    srv_cpu=$(awk -v a="$s0" -v b="$(cpu_ticks "$server_pid")" -v t="$ticks" 'BEGIN{print (b-a)/t}')
    srv_rss=$(awk '/^VmHWM/{print $2}' "/proc/$server_pid/status")
  fi
  [ -n "$store_pid" ] && store_cpu=$(awk -v a="$m0" -v b="$(cpu_ticks "$store_pid")" -v t="$ticks" 'BEGIN{print (b-a)/t}')
  read -r wall user sys rss <"$work/time"
  say "$tool ${step/_/ }: $wall s, CPU $user + $sys s, $((rss >> 10)) MiB${srv_rss:+ (server CPU $srv_cpu s)}"
  echo "$tool $step $round $wall $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') $rss $srv_cpu ${srv_rss:-0} $store_cpu" >>"$results"
}

tools=(parsec rclone restic)
for round in $(seq "$rounds"); do
  say "round $round of $rounds"
  for tool in "${tools[@]}"; do
    if [ "$tool" = restic ]; then
      restic -q -r "$restic_base/r$round-big" init >/dev/null
      restic -q -r "$restic_base/r$round-small" init >/dev/null
    fi
  done
  # The tools take turns in first place, round after round: a step right after another
  # tool's download reuses the memory that deleting its files frees, which the first one
  # does not (memory given back to a virtual machine's host costs a fault per page).
  order=("${tools[@]:$(((round - 1) % ${#tools[@]}))}" "${tools[@]:0:$(((round - 1) % ${#tools[@]}))}")
  for step in up_big down_big up_small down_small; do
    for tool in "${order[@]}"; do
      rm -rf "$work/dst"
      mkdir -p "$work/dst"
      measure "$tool" "$step" "$round"
      if [ "${step%%_*}" = down ]; then
        dst="$work/dst"
        got=$(downloaded "$tool" "${step#*_}")
        if [ "${step#*_}" = big ]; then
          cmp -s "$data/big.bin" "$got" || die "$tool's download of the large file differs from its source"
        else
          diff -rq "$data/small" "$got" >/dev/null || die "$tool's download of the small files differs from their source"
        fi
      fi
    done
  done
  # What rclone and restic stored is removed between rounds; parsec's server keeps every
  # version (history), so its store grows by one copy per round.
  rclone purge "cmpcrypt:r$round" >/dev/null 2>&1 || true
  [ -n "$s3" ] || rm -rf "$work/restic"
  rm -rf "$work/dst"
done

# ---- parsec bench, once, against the same server (its own organization) ----
if [ "$bench" = 1 ]; then
  say "parsec bench against the same server"
  b0=$(cpu_ticks "$server_pid")
  "$parsec" bench --addr "$url" --admin-token "$token" --size "${big_mib}MiB" --files "$files" --file-size "$file_size" \
    >"$work/bench.txt" 2>"$work/bench.log" || die "parsec bench: $(tail -5 "$work/bench.log")"
  bench_server_cpu=$(awk -v a="$b0" -v b="$(cpu_ticks "$server_pid")" -v t="$ticks" 'BEGIN{printf "%.2f", (b-a)/t}')
fi

# ---- the table: medians over the rounds ----
median() { sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -v t="$1" -v s="$2" -v c="$3" '$1==t && $2==s {print $c}' "$results" | median; }
load=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
echo
echo "$(date -u +%Y-%m-%d), $cpu, $(nproc) CPUs, $(($(awk '/MemTotal/{print $2}' /proc/meminfo) >> 20)) GiB RAM;" \
  "$rounds rounds, medians; load average $load at the end;" \
  "$(if [ -n "$s3" ]; then echo "MinIO + PostgreSQL $(basename "$(dirname "$pgbin")")"; else echo "local disk"; fi)"
echo "parsec $(git describe --always --dirty 2>/dev/null || echo '?'), $(rclone version 2>/dev/null | head -1), $(restic version 2>/dev/null | cut -d' ' -f1-2)"
echo
header="step|tool|time|rate|CPU (user+sys)|peak memory"
[ -n "$s3" ] && header="$header|store CPU (MinIO)"
{
  echo "$header"
  for step in up_big down_big up_small down_small; do
    case $step in
      *big) name="${step%%_*}load ${big_mib} MiB" ;;
      *) name="${step%%_*}load $files × $file_size B" ;;
    esac
    for tool in "${tools[@]}"; do
      wall=$(col "$tool" "$step" 4)
      if [ "${step#*_}" = big ]; then
        rate=$(awk -v w="$wall" -v b="$((big_mib << 20))" 'BEGIN{printf "%.0f MB/s", b/w/1e6}')
      else
        rate=$(awk -v w="$wall" -v n="$files" 'BEGIN{printf "%.0f files/s", n/w}')
      fi
      cpu=$(col "$tool" "$step" 5) rss=$(col "$tool" "$step" 6)
      if [ "$tool" = parsec ]; then
        cpu=$(awk -v c="$cpu" -v s="$(col "$tool" "$step" 7)" 'BEGIN{printf "%.2f + %.2f s", c, s}')
        mem=$(awk -v r="$rss" -v s="$(col "$tool" "$step" 8)" 'BEGIN{printf "%.0f + %.0f MiB", r/1024, s/1024}')
      else
        cpu=$(awk -v c="$cpu" 'BEGIN{printf "%.2f s", c}')
        mem=$(awk -v r="$rss" 'BEGIN{printf "%.0f MiB", r/1024}')
      fi
      line="$name|$tool|$(awk -v w="$wall" 'BEGIN{printf "%.2f s", w}')|$rate|$cpu|$mem"
      [ -n "$s3" ] && line="$line|$(awk -v c="$(col "$tool" "$step" 9)" 'BEGIN{printf "%.2f s", c}')"
      echo "$line"
    done
  done
} | column -t -s '|'
if [ "$bench" = 1 ]; then
  echo
  echo "parsec bench --addr (the same server; the CPU column is the bench's only, the server used" \
    "$bench_server_cpu s in all, set-up included):"
  grep -v '^server:' "$work/bench.txt"
fi
