# Shared by the broker scripts beside it: each script is `<name> install | start PORT |
# describe | runs | stop` (stop: what outlives the broker's process group, if anything), installs its broker from a package registry into $BROKERS_DIR (never into
# the repository), and starts it on 127.0.0.1 in the foreground.
#
# `runs` prints one line per suite run the broker needs: a port offset, then suite flags
# (`0 --version 3 --jobs 1`). A broker serving both versions on one port prints `0`.
set -euo pipefail

BROKERS_DIR="${BROKERS_DIR:-/tmp/brokers}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# apt_install PACKAGE COMMAND: installs the Debian package unless COMMAND is on the PATH.
apt_install() {
    command -v "$2" >/dev/null && return
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# npm_install DIR PACKAGE@VERSION...: a private npm project in $BROKERS_DIR/DIR.
npm_install() {
    local dir="$BROKERS_DIR/$1"
    shift
    [ -d "$dir/node_modules/${1%@*}" ] && return
    mkdir -p "$dir"
    (cd "$dir" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund "$@" >/dev/null)
}

# pip_install DIR PACKAGE==VERSION: a private virtual environment in $BROKERS_DIR/DIR.
pip_install() {
    local venv="$BROKERS_DIR/$1/venv"
    [ -x "$venv/bin/python" ] && "$venv/bin/pip" show "${2%%==*}" >/dev/null 2>&1 && return
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$2"
}

# cargo_install CRATE VERSION BINARY: `cargo install CRATE --version VERSION` unless BINARY is on
# the PATH: the version the matrix names, not whatever crates.io has newest.
cargo_install() {
    command -v "$3" >/dev/null && return
    cargo install "$1" --version "$2"
}

# Dispatches the script's subcommand to its functions install, start, describe, runs.
main() {
    case "${1:-}" in
        install) install ;;
        start) install; start "${2:?start needs a port}" ;;
        describe) describe ;;
        runs) if declare -F runs >/dev/null; then runs; else echo 0; fi ;;
        stop) if declare -F stop >/dev/null; then stop; fi ;;
        *) echo "usage: $0 install | start PORT | describe | runs | stop" >&2; exit 2 ;;
    esac
}
