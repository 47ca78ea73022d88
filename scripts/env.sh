# Sourced by every Sealbox script: one toolchain, one tools directory, one build cache — all
# outside the clone so that a fresh clone reuses what an earlier run installed and built.
SEALBOX_CACHE_DIR=${SEALBOX_CACHE_DIR:-$HOME/.cache/sealbox}
SEALBOX_TOOLS_DIR=${SEALBOX_TOOLS_DIR:-$SEALBOX_CACHE_DIR/tools}
export SEALBOX_CACHE_DIR SEALBOX_TOOLS_DIR

# Debian's rustc-web ships the std source, so the wasm32 std is built with -Zbuild-std.
export RUSTUP_TOOLCHAIN=/usr
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SEALBOX_CACHE_DIR/target}
export PATH="$SEALBOX_TOOLS_DIR/bin:$SEALBOX_TOOLS_DIR/node_modules/.bin:$PATH"
# Keep Playwright from ever trying to download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
