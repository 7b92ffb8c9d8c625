#!/usr/bin/env bash
# Installs what the browser test needs, idempotently: Debian's chromium (no browser download from anywhere
# else) and playwright-core (pinned in tools/browser-test/package.json) into tools/browser-test/node_modules.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
dir="$root/tools/browser-test"
# The pinned version is package.json's; reinstall only when node_modules holds another one.
want="$(node -p "require('$dir/package.json').dependencies['playwright-core']")"
have="$(node -p "try { require('$dir/node_modules/playwright-core/package.json').version } catch (e) { '' }")"
if [ "$have" != "$want" ]; then
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error >&2)
fi
echo /usr/bin/chromium
