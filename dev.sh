#!/usr/bin/env bash
# txlab's two entry points for a fresh Debian machine with Python 3.11:
#   ./dev.sh run  [txlab run flags]   create/update .venv, install, serve the dashboard
#   ./dev.sh test [pytest args]       create/update .venv with test tools, install Chromium and Redis if missing, run every test
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

ensure_venv() {
    local extras=$1
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "txlab needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # Reinstall only when the package metadata changed since the last install of these extras.
    local stamp="$VENV/.txlab-installed$extras"
    if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
        # torch is pinned in setup.cfg to the CPU build; no CUDA packages are pulled.
        "$VENV/bin/python" -m pip install --quiet -e ".$extras"
        touch "$stamp"
    fi
}

ensure_browser() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return; fi
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "Installing Chromium and chromedriver for the browser tests (apt-get)..." >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
}

ensure_redis() {
    # The Celery worker tests start their own redis-server on a free loopback port; only the binary is needed.
    # (Debian's package also starts its own service on 127.0.0.1:6379 where systemd runs; the tests do not use it.)
    if command -v redis-server >/dev/null; then return; fi
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "Installing redis-server for the Celery worker tests (apt-get)..." >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
}

case "${1:-}" in
    run)
        shift
        ensure_venv ""
        exec "$VENV/bin/txlab" run "$@"
        ;;
    test)
        shift
        ensure_venv "[test]"
        ensure_browser
        ensure_redis
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./dev.sh run [txlab run flags] | ./dev.sh test [pytest args]" >&2
        exit 2
        ;;
esac
