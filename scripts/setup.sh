#!/usr/bin/env bash
# Installs what Sealbox needs, and only what is missing. Idempotent: a second run checks versions
# and returns in seconds. Everything comes from the package registries (Debian, crates.io, npm);
# nothing downloads toolchains or browsers from anywhere else.
#
#   scripts/setup.sh run    what building and running needs (scripts/run); on a fresh machine it
#                           also compiles the server while the tools install
#   scripts/setup.sh test   that, plus Chromium, wrk, leptosfmt and the end2end npm packages
#                           (scripts/test)
#
# The Rust tools are compiled with a quick profile (no LTO, 16 codegen units; cargo-leptos at
# opt-level 0 but its compressors optimised, wasm-bindgen at 1): they only orchestrate the build,
# and it saves most of their compile time. The independent installs
# run side by side; each one's output goes to a log under $SEALBOX_CACHE_DIR/logs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

mode=${1:-test}
case $mode in
  run | test) ;;
  *)
    echo "usage: scripts/setup.sh [run|test] (got '$mode')" >&2
    exit 2
    ;;
esac

RUST_WEB_VERSION=1.96.0+dfsg1-1~deb12u2
CARGO_LEPTOS_VERSION=0.3.11
# Must equal the wasm-bindgen crate version pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' "$repo/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
BINARYEN_VERSION=132.0.0

started=$SECONDS
log() { printf '==> [%4ds] %s\n' $((SECONDS - started)) "$*" >&2; }

apt_packages=(
  "rustc-web=$RUST_WEB_VERSION" "cargo-web=$RUST_WEB_VERSION" "rust-web-src=$RUST_WEB_VERSION"
  "rust-web-llvm=$RUST_WEB_VERSION" "rust-web-clippy=$RUST_WEB_VERSION"
  "rustfmt-web=$RUST_WEB_VERSION" lld-22
)
[[ $mode == test ]] && apt_packages+=(chromium wrk)
missing=()
for spec in "${apt_packages[@]}"; do
  name=${spec%%=*}
  want=${spec#*=}
  have=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$name" 2>/dev/null || true)
  if [[ $have != ii* ]] || { [[ $spec == *=* ]] && [[ ${have#ii } != "$want" ]]; }; then
    missing+=("$spec")
  fi
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

mkdir -p "$SEALBOX_TOOLS_DIR" "$SEALBOX_CACHE_DIR/logs"

# Background jobs: name -> pid. Each writes its log; a failure prints the log's end. Each job is
# its own process group (job control on), so that Ctrl-C or a failure stops what it started.
declare -A jobs=()
set -m
stop_jobs() {
  local pid
  for pid in "${jobs[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
}
trap stop_jobs EXIT
trap 'exit 130' INT TERM
start_job() {
  local name=$1
  shift
  log "starting $name (log: $SEALBOX_CACHE_DIR/logs/$name.log)"
  ("$@") >"$SEALBOX_CACHE_DIR/logs/$name.log" 2>&1 &
  jobs[$name]=$!
}

# quick_cargo_install OPT_LEVEL ARGS...: a release install with that opt-level, no LTO and 16
# codegen units; the compressors stay fully optimised whatever the level (cargo-leptos
# Brotli-compresses the whole site with them on every release build).
quick_cargo_install() {
  local opt=$1
  shift
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo install \
    --config 'profile.release.package.brotli.opt-level=3' \
    --config 'profile.release.package.alloc-no-stdlib.opt-level=3' \
    --config 'profile.release.package.miniz_oxide.opt-level=3' \
    --config 'profile.release.package.crc32fast.opt-level=3' \
    "$@"
}

if [[ "$(cargo-leptos --version 2>/dev/null || true)" != *"$CARGO_LEPTOS_VERSION"* ]]; then
  start_job cargo-leptos quick_cargo_install 0 cargo-leptos --version "=$CARGO_LEPTOS_VERSION" \
    --locked --features no_downloads --root "$SEALBOX_TOOLS_DIR" \
    --target-dir "$SEALBOX_CACHE_DIR/install-target/cargo-leptos"
fi

if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  # No --locked: the CLI's own lockfile pins a crate version the registry no longer has.
  start_job wasm-bindgen-cli quick_cargo_install 1 wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" \
    --force --root "$SEALBOX_TOOLS_DIR" \
    --target-dir "$SEALBOX_CACHE_DIR/install-target/wasm-bindgen-cli"
fi

# leptosfmt formats the markup inside view! (scripts/test runs it in check mode).
LEPTOSFMT_VERSION=0.1.33
if [[ $mode == test && "$(leptosfmt --version 2>/dev/null || true)" != *"$LEPTOSFMT_VERSION"* ]]; then
  start_job leptosfmt quick_cargo_install 1 leptosfmt --version "=$LEPTOSFMT_VERSION" \
    --locked --root "$SEALBOX_TOOLS_DIR" \
    --target-dir "$SEALBOX_CACHE_DIR/install-target/leptosfmt"
fi

# Debian's binaryen 108 emits a wasm that never hydrates; the npm build of binaryen works.
if [[ "$(wasm-opt --version 2>/dev/null || true)" != *"version ${BINARYEN_VERSION%%.*}"* ]]; then
  start_job binaryen npm install --prefix "$SEALBOX_TOOLS_DIR" --no-audit --no-fund \
    "binaryen@$BINARYEN_VERSION"
fi

install_end2end() {
  cd "$repo/end2end"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.sealbox-lock
}
if [[ $mode == test && -f "$repo/end2end/package-lock.json" ]]; then
  stamp="$repo/end2end/node_modules/.sealbox-lock"
  if [[ ! -f $stamp ]] || ! cmp -s "$repo/end2end/package-lock.json" "$stamp"; then
    start_job end2end-npm install_end2end
  fi
fi

# On a machine without the tools (`scripts/run` on a fresh machine), compile the server and its
# dependencies while they install, at low priority: the installs leave a core idle for minutes
# (long crate chains, linking), and `cargo leptos build` then reuses most of what is built.
if [[ $mode == run && -n ${jobs[cargo-leptos]:-} ]]; then
  # LEPTOS_OUTPUT_NAME as cargo-leptos sets it: leptos reads it at compile time, and a crate
  # compiled with another value would be compiled again.
  start_job prebuild-server env LEPTOS_OUTPUT_NAME=sealbox nice -n 15 cargo build --release \
    --locked --package=server --bin=sealbox --no-default-features
fi

failed=0
for name in "${!jobs[@]}"; do
  if wait "${jobs[$name]}"; then
    log "$name done"
  elif [[ $name == prebuild-server ]]; then
    log "compiling the server ahead failed; the build that follows will say why"
  else
    log "installing $name FAILED; the end of its log:"
    tail -n 40 "$SEALBOX_CACHE_DIR/logs/$name.log" >&2
    failed=1
  fi
done
((failed == 0)) || exit 1
log "setup ($mode) complete"
