#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh machine with Go, git and apt.
#
# It installs what the tests need (Debian's chromium, for the GUI's browser tests;
# postgresql, whose binaries the PostgreSQL metadata store's tests run; fuse3, rsync, git and
# sqlite3, which the mount's tests run on a real FUSE mount; and MinIO, built with go install,
# for the S3 block store's tests), checks formatting and vet, runs every test with the race
# detector and the tests of the process's memory without it, then runs each fuzz target for
# a short time.
# FUZZTIME (default 5s) sets how long each fuzz target runs; FUZZTIME=0 skips fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go version"
go version

# apt_install installs Debian packages (as root, or through sudo), updating the package
# lists only if the first try fails.
apt_install() {
  echo "== installing $* (apt)"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends "$@" >/dev/null; }
}

# The GUI's end-to-end tests drive Debian's Chromium (headless).
if ! command -v chromium >/dev/null 2>&1 && [ -z "${PARSEC_CHROMIUM:-}" ]; then
  apt_install chromium
fi

# The PostgreSQL metadata store's tests run initdb and postgres themselves (a server of their
# own on a free port, as the postgres user when root): only the binaries are needed.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 &&
  [ -z "${PARSEC_POSTGRES_BIN:-}" ]; then
  apt_install postgresql
fi

# The mount's tests mount real FUSE folders (fusermount3, from fuse3) and run real programs
# on them.
missing=()
for pkg in fuse3:fusermount3 rsync:rsync git:git sqlite3:sqlite3; do
  command -v "${pkg#*:}" >/dev/null 2>&1 || missing+=("${pkg%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# The S3 block store's tests run against a real MinIO server (internal/testenv/minio finds
# it on PATH, in GOBIN or GOPATH/bin, or at $PARSEC_MINIO). MinIO tags no Go module
# versions: this is the commit `go install github.com/minio/minio@latest` resolved to.
minio_version=v0.0.0-20260212201848-7aac2a2c5b7c
gobin=$(go env GOBIN)
gobin=${gobin:-$(go env GOPATH | cut -d: -f1)/bin}
if ! command -v minio >/dev/null 2>&1 && [ -z "${PARSEC_MINIO:-}" ] && [ ! -x "$gobin/minio" ]; then
  echo "== installing minio $minio_version into $gobin (go install: 4 to 12 minutes on 2 cores; cache $gobin in CI to skip it)"
  go install "github.com/minio/minio@$minio_version"
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...

# Tests of the process's memory that the race detector's shadow memory would distort are
# built without it (//go:build !race): they run here, without it.
echo "== go test ./internal/crypto (without the race detector)"
go test -count=1 ./internal/crypto

fuzztime=${FUZZTIME:-5s}
if [ "$fuzztime" != "0" ]; then
  echo "== fuzz ($fuzztime each)"
  # Every Fuzz* function of the module, found in the test files.
  grep -rl --include='*_test.go' '^func Fuzz' internal | while read -r file; do
    pkg=./$(dirname "$file")
    grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r target; do
      echo "-- $pkg $target"
      if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$pkg" 2>&1); then
        echo "$out"
        # Go 1.26's fuzz coordinator may report a bare "context deadline exceeded" when the
        # time is up (golang/go#75804, fixed in Go 1.27): that is no finding. A real one
        # writes a failing input, which fails the run.
        if grep -q 'Failing input written' <<<"$out" || ! grep -q 'context deadline exceeded' <<<"$out"; then
          exit 1
        fi
        echo "(ignored: the fuzz coordinator's end-of-time race, golang/go#75804, no failing input)"
      else
        echo "$out" | tail -n 3
      fi
    done
  done
fi
echo "== all tests passed"
