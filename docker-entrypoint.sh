#!/bin/sh
# The image's entrypoint. With a command (`docker run IMAGE legacy-wrapper clients add ...`)
# it runs that command; without one it serves the mapping mounted at $LEGACY_WRAPPER_CONFIG,
# and says how to mount one (or run the demo) when there is none. LEGACY_WRAPPER_BIND
# changes the address it listens on inside the container (default 0.0.0.0:8080).
set -eu
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
config="${LEGACY_WRAPPER_CONFIG:-/config/wrapper.yaml}"
if [ ! -f "$config" ]; then
    cat >&2 <<USAGE
legacy-wrapper: no mapping at $config; mount yours (and a volume for the wrapper's state), or run the demo:
  docker run -p 8080:8080 -v "\$PWD/wrapper.yaml:$config:ro" -v lw-state:/state \\
      -e LEGACY_WRAPPER_STATE_KEY="\$(cat state.key)" legacy-wrapper
  (the built-in token server needs a state key: legacy-wrapper signing-keys new-state-key)
  docker run -p 8080:8080 legacy-wrapper legacy-wrapper demo --bind 0.0.0.0:8080
  docker run --rm legacy-wrapper legacy-wrapper --help
USAGE
    exit 2
fi
exec legacy-wrapper serve --config "$config" --bind "${LEGACY_WRAPPER_BIND:-0.0.0.0:8080}" \
    --server granian --workers 2
