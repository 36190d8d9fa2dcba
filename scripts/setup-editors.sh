#!/usr/bin/env bash
# Installs the editors the other-editor tests drive, from Debian's packages: Neovim 0.7 (its
# built-in LSP client) and Emacs 28 with eglot (elpa-eglot), plus ImageMagick, which assembles
# the README's save-to-upgraded picture. `npm test` skips an editor test, saying so, where the
# editor is missing; CI installs them so that the tests run.
set -euo pipefail
need_pkgs=()
command -v nvim >/dev/null || need_pkgs+=(neovim)
command -v emacs >/dev/null || need_pkgs+=(emacs-nox)
ls /usr/share/emacs/site-lisp/elpa 2>/dev/null | grep -q '^eglot-' || need_pkgs+=(elpa-eglot)
command -v convert >/dev/null || need_pkgs+=(imagemagick)
[ ${#need_pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup-editors] installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
else
  echo "[setup-editors] missing: ${need_pkgs[*]} (their tests are skipped). Run: sudo apt-get install -y ${need_pkgs[*]}" >&2
fi
