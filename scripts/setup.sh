#!/usr/bin/env bash
# Installs what Sealbox needs to build and test, and only what is missing. Idempotent: a second
# run checks versions and returns in seconds. Everything comes from the package registries
# (Debian, crates.io, npm); nothing downloads toolchains or browsers from anywhere else.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

RUST_WEB_VERSION=1.96.0+dfsg1-1~deb12u2
CARGO_LEPTOS_VERSION=0.3.11
# Must equal the wasm-bindgen crate version pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' "$repo/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
BINARYEN_VERSION=132.0.0

log() { printf '==> %s\n' "$*" >&2; }

apt_packages=(
  "rustc-web=$RUST_WEB_VERSION" "cargo-web=$RUST_WEB_VERSION" "rust-web-src=$RUST_WEB_VERSION"
  "rust-web-llvm=$RUST_WEB_VERSION" "rust-web-clippy=$RUST_WEB_VERSION"
  "rustfmt-web=$RUST_WEB_VERSION" lld-22 chromium wrk
)
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

mkdir -p "$SEALBOX_TOOLS_DIR"

if [[ "$(cargo-leptos --version 2>/dev/null || true)" != *"$CARGO_LEPTOS_VERSION"* ]]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION into $SEALBOX_TOOLS_DIR (about 22 minutes on 2 cores)"
  cargo install cargo-leptos --version "=$CARGO_LEPTOS_VERSION" --locked --features no_downloads \
    --root "$SEALBOX_TOOLS_DIR" --target-dir "$SEALBOX_CACHE_DIR/install-target"
fi

if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION into $SEALBOX_TOOLS_DIR"
  # No --locked: the CLI's own lockfile pins a crate version the registry no longer has.
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force \
    --root "$SEALBOX_TOOLS_DIR" --target-dir "$SEALBOX_CACHE_DIR/install-target"
fi

# Debian's binaryen 108 emits a wasm that never hydrates; the npm build of binaryen works.
if [[ "$(wasm-opt --version 2>/dev/null || true)" != *"version ${BINARYEN_VERSION%%.*}"* ]]; then
  log "installing binaryen $BINARYEN_VERSION (wasm-opt) from npm"
  npm install --prefix "$SEALBOX_TOOLS_DIR" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
fi

if [[ -f "$repo/end2end/package-lock.json" ]]; then
  stamp="$repo/end2end/node_modules/.sealbox-lock"
  if [[ ! -f $stamp ]] || ! cmp -s "$repo/end2end/package-lock.json" "$stamp"; then
    log "installing end2end npm packages"
    (cd "$repo/end2end" && npm ci --no-audit --no-fund --silent)
    cp "$repo/end2end/package-lock.json" "$stamp"
  fi
fi
log "setup complete"
