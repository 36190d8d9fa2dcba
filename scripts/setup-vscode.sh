#!/usr/bin/env bash
# Installs what the real-VS Code tests need, once, into git-ignored .cache/: Debian's Chromium
# and ripgrep, and code-server 4.100.3 (VS Code 1.100) from the npm registry. No downloads from
# anywhere else: code-server's ripgrep fetch is served from a cache seeded with Debian's rg.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cs_dir=$root/.cache/code-server
cs_bin=$cs_dir/node_modules/.bin/code-server

need_pkgs=()
command -v chromium >/dev/null || need_pkgs+=(chromium)
command -v rg >/dev/null || need_pkgs+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_pkgs+=(libkrb5-dev)
command -v g++ >/dev/null || need_pkgs+=(build-essential)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup-vscode] installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "[setup-vscode] missing: ${need_pkgs[*]}. Run: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

if [ -x "$cs_bin" ]; then
  exit 0
fi
echo "[setup-vscode] installing code-server 4.100.3 into $cs_dir (about 1.5 min)"
mkdir -p "$cs_dir"
tmp=$root/.cache/tmp
mkdir -p "$tmp/vscode-ripgrep-cache-1.15.11" "$tmp/rg"
cp "$(command -v rg)" "$tmp/rg/rg"
tar -C "$tmp/rg" -czf "$tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" rg
cd "$cs_dir"
[ -f package.json ] || echo '{"name":"beam-live-code-server","private":true}' > package.json
TMPDIR=$tmp npm_config_yes=true npm install --no-audit --no-fund --unsafe-perm=true code-server@4.100.3 >"$root/.cache/code-server-install.log" 2>&1 || {
  echo "[setup-vscode] code-server install failed; see .cache/code-server-install.log" >&2
  tail -30 "$root/.cache/code-server-install.log" >&2
  exit 1
}
test -x "$cs_bin"
echo "[setup-vscode] code-server ready"
