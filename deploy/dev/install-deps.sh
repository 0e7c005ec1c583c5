#!/usr/bin/env bash
# Install what `just test`, `just demo` and `just bench` need when it is missing:
# OpenSSH server and client (sshd, ssh, ssh-agent, ssh-add, ssh-keygen), the
# PostgreSQL 15 server binaries (the tests start their own throwaway cluster on 127.0.0.1)
# and Chromium (tests/tests/report_browser.rs screenshots the HTML audit report headless).
# Debian/Ubuntu, as root or via sudo.
set -euo pipefail

packages=()
for tool in /usr/sbin/sshd ssh ssh-agent ssh-add ssh-keygen; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        packages+=(openssh-server openssh-client)
        break
    fi
done
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || packages+=(postgresql-15)
[[ -x /usr/bin/chromium ]] || packages+=(chromium)
if ((${#packages[@]} == 0)); then
    exit 0
fi

echo "installing ${packages[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "error: not root and no sudo; install ${packages[*]} with your package manager" >&2
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get is not available; install ${packages[*]} (OpenSSH server/client, PostgreSQL 15 server, Chromium) with your package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${packages[@]}" >/dev/null
# The packages may start a system sshd on port 22 and a PostgreSQL cluster on 5432; the
# tests never use either.
echo "installed ${packages[*]}" >&2
