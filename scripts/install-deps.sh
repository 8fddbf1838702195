#!/usr/bin/env bash
# Installs every Debian 12 package tandem needs to build, test, fuzz and demo,
# as root, idempotently. Owns only package installation: it never starts,
# stops or configures a service. When everything is present it exits at once
# (no apt-get update), so scripts/test and scripts/demo can call it every time.
set -euo pipefail

# tests/libsuites: the upstream test suites of two client libraries, taken
# from Debian's source packages of exactly the installed binary versions
# (apt verifies each file against the signed Sources index). A private apt
# state under the cache dir holds the deb-src index, so the machine's own
# apt sources stay as they are. Already fetched: no network.
LIBSUITES_CACHE=${TANDEM_LIBSUITES_CACHE:-/var/cache/tandem-libsuites}
LIBSUITES_BINARIES=(libdbd-mariadb-perl python3-mysqldb)
fetch_libsuites() {
  local bin src ver want=() have=1
  for bin in "${LIBSUITES_BINARIES[@]}"; do
    read -r src ver < <(dpkg-query -W -f='${source:Package} ${source:Version}\n' "$bin" 2>/dev/null) || return 0
    want+=("$src=$ver")
    compgen -G "$LIBSUITES_CACHE/${src}_${ver#*:}.dsc" >/dev/null || have=0
    compgen -G "$LIBSUITES_CACHE/${src}_${ver%%-*}.orig.tar.*" >/dev/null || have=0
  done
  ((have)) && return 0
  if ((EUID != 0)); then
    echo "install-deps: test suites missing in $LIBSUITES_CACHE; run as root to fetch" >&2
    return 1
  fi
  local apt=$LIBSUITES_CACHE/apt
  mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial"
  cat >"$apt/parts/debian-src.sources" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local opts=(-q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
  echo "install-deps: fetching ${want[*]} into $LIBSUITES_CACHE"
  apt-get "${opts[@]}" update >/dev/null
  # Only the upstream tarball is needed (the tests are upstream's); the
  # mirror may lack a package's Debian part, which is not a failure here.
  (cd "$LIBSUITES_CACHE" && apt-get "${opts[@]}" source --download-only "${want[@]}") || true
  for bin in "${LIBSUITES_BINARIES[@]}"; do
    read -r src ver < <(dpkg-query -W -f='${source:Package} ${source:Version}\n' "$bin")
    if ! compgen -G "$LIBSUITES_CACHE/${src}_${ver%%-*}.orig.tar.*" >/dev/null; then
      echo "install-deps: could not fetch the source of $src $ver" >&2
      return 1
    fi
  done
}

PACKAGES=(
  # build
  build-essential pkg-config meson ninja-build
  clang libclang-rt-14-dev            # libFuzzer and the sanitizer runtimes
  clang-format                        # scripts/format (checked by scripts/test)
  libevent-dev libmariadb-dev libssl-dev libjansson-dev
  zlib1g-dev                          # the compressed protocol
  check                               # unit tests
  # integration tests and the demo: real servers, real clients
  mariadb-server mariadb-client sysbench haproxy
  python3-pymysql                     # for /usr/bin/python3, the harness's Python
  libdbd-mariadb-perl
  python3-mysqldb python3-pytest python3-mock libtest-deep-perl libnet-ssleay-perl  # tests/libsuites
  mariadb-test                        # mariadb-test-run (mtr) for tests/mtr
  # tools the tests and people debugging them use
  openssl curl procps iproute2 strace valgrind
  linux-perf                          # bench/profile (perf record)
  chromium                            # the dashboard's browser test (headless)
  etcd-server etcd-client             # coordination of several tandems (tests)
)

# One dpkg-query for all packages: the common case is "nothing to do".
declare -A installed=()
while read -r name status; do
  [[ $status == installed ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for pkg in "${PACKAGES[@]}"; do
  [[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  fetch_libsuites
  exit 0
fi

if ((EUID != 0)); then
  echo "install-deps: missing ${missing[*]}; run as root to install" >&2
  exit 1
fi

# Installing mariadb-server would start Debian's own mariadb service on port
# 3306; the tests start private servers instead. A policy-rc.d that answers
# 101 ("action forbidden") stops invoke-rc.d from starting anything, but only
# while we install, and only if the machine has no policy of its own.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\n# temporary, from tandem scripts/install-deps.sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  own_policy=1
fi
remove_policy() { if ((own_policy)); then rm -f "$POLICY"; fi; }
trap remove_policy EXIT

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
fetch_libsuites
