#!/usr/bin/env bash
# Install what `just test` and `just demo` need when it is missing: OpenSSH server and
# client (sshd, ssh, ssh-agent, ssh-add, ssh-keygen). Debian/Ubuntu, as root or via sudo.
set -euo pipefail

missing=()
for tool in /usr/sbin/sshd ssh ssh-agent ssh-add ssh-keygen; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "installing OpenSSH (missing: ${missing[*]})" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "error: ${missing[*]} missing and not root; install openssh-server openssh-client" >&2
        exit 1
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: ${missing[*]} missing and apt-get is not available; install OpenSSH (server and client) with your package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq openssh-server openssh-client >/dev/null
# The package may start a system sshd on port 22; the tests never use it.
echo "OpenSSH installed" >&2
