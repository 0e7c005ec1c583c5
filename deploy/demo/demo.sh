#!/usr/bin/env bash
# `just demo`: a CA on the embedded SQLite default, a throwaway sshd on 127.0.0.1 that
# trusts it, an enrolled demo user, then a real `jit ssh` that prints the remote `id`.
# Everything runs under one temporary directory and is stopped and removed at the end.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/debug
for tool in jitd jit totp-code; do
    [[ -x $bin/$tool ]] || { echo "error: $bin/$tool is missing; run \`just build\` first" >&2; exit 1; }
done
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
[[ -x $sshd_bin ]] || { echo "error: sshd is missing; run \`just deps\` (apt-get install -y openssh-server)" >&2; exit 1; }

# sshd's StrictModes refuses principals files below a group/world-writable directory (such
# as /tmp), so the demo lives under target/ unless the checkout itself is in such a place.
strict_modes_ok() {
    local dir=$1 mode owner
    while :; do
        mode=$(stat -c %a "$dir")
        owner=$(stat -c %u "$dir")
        if (((8#$mode & 8#022) != 0)) || [[ $owner != 0 && $owner != $(id -u) ]]; then
            return 1
        fi
        [[ $dir == / ]] && return 0
        dir=$(dirname "$dir")
    done
}
mkdir -p "$root/target"
base=$root/target
if ! strict_modes_ok "$base"; then
    if [[ $(id -u) -eq 0 ]]; then base=/var/lib/jit-demo; else base=$HOME/.cache/jit-demo; fi
    mkdir -p "$base"
    chmod 755 "$base"
    strict_modes_ok "$base" || { echo "error: no directory sshd's StrictModes accepts (tried $base)" >&2; exit 1; }
fi
work=$(mktemp -d "$base/jit-demo.XXXXXX")
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -n ${SSH_AGENT_PID:-} ]] && kill "$SSH_AGENT_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

free_port() {
    local port
    for port in $(shuf -i 20000-60000 -n 50); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "error: no free port found" >&2
    exit 1
}

wait_for_port() {
    local port=$1 name=$2 log=$3
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: $name did not start; its log:" >&2
    cat "$log" >&2
    exit 1
}

# The account the demo logs into: a dedicated one when root, else the current user
# (an unprivileged sshd can only log its own user in).
if [[ $(id -u) -eq 0 ]]; then
    account=jit-demo
    id "$account" >/dev/null 2>&1 || useradd -m -s /bin/sh "$account"
    usermod -p '*' "$account" # unlock for key logins (UsePAM no refuses locked accounts)
    mkdir -p /run/sshd
else
    account=$(id -un)
fi

jitd_port=$(free_port)
sshd_port=$(free_port)
ca=$work/ca
export JITD_DATA_DIR=$ca
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/passphrase"
chmod 600 "$work/passphrase"

step "jitd init: a CA (user + host keys, encrypted), TLS certificate, SQLite database"
"$bin/jitd" init --listen "127.0.0.1:$jitd_port" --passphrase-file "$work/passphrase"

step "policy: role 'demo' for group 'demo', principal '$account', hosts 127.0.0.1/localhost"
cat >"$ca/policy.toml" <<POLICY
# demo policy written by deploy/demo/demo.sh
[roles.demo]
groups = ["demo"]
principals = ["$account"]
hosts = ["127.0.0.1", "localhost"]
default_ttl = "10m"
max_ttl = "1h"
extensions = ["permit-pty"]
POLICY
"$bin/jitd" policy check

step "jitd serve on https://127.0.0.1:$jitd_port"
"$bin/jitd" serve --passphrase-file "$work/passphrase" >"$work/jitd.log" 2>&1 &
pids+=($!)
wait_for_port "$jitd_port" jitd "$work/jitd.log"

step "a throwaway sshd on 127.0.0.1:$sshd_port trusting the jit user CA"
mkdir -p "$work/sshd/principals"
"$bin/jitd" ca show --user >"$work/sshd/user_ca.pub"
echo "$account" >"$work/sshd/principals/$account"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd/host_key"
cat >"$work/sshd/sshd_config" <<SSHD
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $work/sshd/host_key
PidFile $work/sshd/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile none
TrustedUserCAKeys $work/sshd/user_ca.pub
AuthorizedPrincipalsFile $work/sshd/principals/%u
LogLevel VERBOSE
SSHD
"$sshd_bin" -D -e -f "$work/sshd/sshd_config" -E "$work/sshd/sshd.log" &
pids+=($!)
wait_for_port "$sshd_port" sshd "$work/sshd/sshd.log"
cat "$work/sshd/sshd_config" | sed 's/^/    /'

step "jitd user add demo --groups demo (prints a one-time enrollment token)"
token=$("$bin/jitd" user add demo --groups demo --json | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
echo "token: ${token:0:24}..."

step "jit enroll: device key, TOTP secret (QR code below), confirmed with a first code"
export JIT_HOME=$work/home
"$bin/jit" enroll "$token" </dev/null | tee "$work/enroll.out"
secret=$(sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' "$work/enroll.out" | head -n1)
[[ -n $secret ]] || { echo "error: no TOTP secret in the enrollment output" >&2; exit 1; }
"$bin/jit" enroll --confirm --otp "$("$bin/totp-code" "$secret")"

step "ssh-agent for this demo"
eval "$(ssh-agent -s)" >/dev/null

# The enrollment used this 30 s step's code; a code is single use, so take the next
# step's (accepted within the ±1 step window) instead of waiting.
step "jit ssh $account@127.0.0.1 id   (TOTP code from the 'authenticator')"
"$bin/jit" ssh --otp "$("$bin/totp-code" "$secret" --offset 30)" -p "$sshd_port" \
    -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$work/known_hosts" \
    "$account@127.0.0.1" id

step "jit status: the certificate in ssh-agent, with its time left"
"$bin/jit" status

step "jit ssh again: the agent's certificate is reused, no code needed"
"$bin/jit" ssh -p "$sshd_port" -o StrictHostKeyChecking=accept-new \
    -o UserKnownHostsFile="$work/known_hosts" "$account@127.0.0.1" 'echo "hello from $(hostname) as $(id -un)"' </dev/null

step "what sshd logged, and the verified issuance log"
grep -E 'Accepted certificate ID' "$work/sshd/sshd.log" | sed 's/^/    /'
"$bin/jitd" audit verify

step "done: stopping jitd, sshd and ssh-agent, removing $work"
