#!/usr/bin/env bash
# Set up an SSH server to trust jit certificates: see deploy/host/README.md for each step.
#
#   setup.sh --server URL --tls-sha256 HEX [--principals-map 'deploy:deploy,web root:root']
#            [--token TOKEN] [--host-key PATH] [--jit PATH] [--root DIR] [--no-systemd]
#
# Safe to run again: it keeps an existing KRL, rewrites the files it owns, and restores
# the previous sshd drop-in if sshd rejects the new one.
set -euo pipefail

usage() {
    sed -n '2,8s/^# \{0,1\}//p' "$0"
    cat <<'EOF'

  --server URL          the jit server, e.g. https://jit.example.com:8443
  --tls-sha256 HEX      SHA-256 of its TLS certificate (printed by `jitd init`)
  --principals-map MAP  space-separated ACCOUNT:PRINCIPAL[,PRINCIPAL...] entries, written to
                        /etc/ssh/jit/principals/ACCOUNT (sshd AuthorizedPrincipalsFile)
  --token TOKEN         one-time host token (`jitd host add NAME`): certify the host key
                        with `jit host enroll` and add HostCertificate to the drop-in
  --host-key PATH       host public key to certify (default /etc/ssh/ssh_host_ed25519_key.pub)
  --jit PATH            the jit binary (default: `jit` on PATH, else /usr/local/bin/jit)
  --root DIR            prefix for every path written (default /), to prepare an image or
                        to test without touching /etc. Under --root, sshd is checked with
                        the prefixed paths (not `sshd -t` of the whole system), systemctl
                        is never called and sshd is not reloaded.
  --no-systemd          write the unit files but do not call systemctl (enable the timers
                        yourself, or run `jit host sync` from cron every 5 minutes)
EOF
}

die() { echo "setup.sh: error: $*" >&2; exit 1; }
step() { echo "==> $*"; }
note() { echo "    $*"; }

server="" pin="" map="" token="" root="/" systemd=yes
host_key=/etc/ssh/ssh_host_ed25519_key.pub
jit=$(command -v jit || echo /usr/local/bin/jit)
while (($#)); do
    case $1 in
        --server) server=${2:?--server needs a URL}; shift 2 ;;
        --tls-sha256) pin=${2:?--tls-sha256 needs a value}; shift 2 ;;
        --principals-map) map=${2?--principals-map needs a value}; shift 2 ;;
        --token) token=${2:?--token needs a value}; shift 2 ;;
        --host-key) host_key=${2:?--host-key needs a path}; shift 2 ;;
        --jit) jit=${2:?--jit needs a path}; shift 2 ;;
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        --no-systemd) systemd=no; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument $1" ;;
    esac
done
[[ -n $server && -n $pin ]] || { usage >&2; die "--server and --tls-sha256 are required"; }
[[ $server == https://* ]] || die "--server must be an https:// URL (got $server)"
[[ $host_key == /*.pub ]] || die "--host-key must be an absolute path ending in .pub"
[[ -d $root ]] || die "--root $root is not a directory"
R=$(cd "$root" && pwd)
[[ $R == / ]] && R=""
if [[ -z $R && $EUID -ne 0 ]]; then
    die "run as root (it writes /etc/ssh and reloads sshd), or use --root DIR to try it elsewhere"
fi
[[ -x $jit ]] || die "jit binary not found at $jit (install it, or pass --jit PATH)"
jit=$(cd "$(dirname "$jit")" && pwd)/$(basename "$jit")
command -v ssh-keygen >/dev/null || die "ssh-keygen is missing (apt-get install -y openssh-client)"
here=$(cd "$(dirname "$0")" && pwd)

# --principals-map, checked before anything is written.
declare -A principals_of=()
accounts=()
read -r -a entries <<<"$map"
for entry in ${entries[@]+"${entries[@]}"}; do
    account=${entry%%:*}
    principals=${entry#*:}
    [[ $entry == *:* && $account =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] ||
        die "bad --principals-map entry '$entry' (write ACCOUNT:PRINCIPAL[,PRINCIPAL...])"
    [[ $principals =~ ^[A-Za-z0-9_.@-]+(,[A-Za-z0-9_.@-]+)*$ ]] ||
        die "bad principals in '$entry' (letters, digits, . _ @ - separated by commas)"
    [[ -z ${principals_of[$account]:-} ]] || die "account $account appears twice in --principals-map"
    principals_of[$account]=$principals
    accounts+=("$account")
done

# The paths sshd will use, and where they are on disk now (the same without --root).
JIT_DIR=/etc/ssh/jit
DROP_IN=/etc/ssh/sshd_config.d/50-jit.conf
host_cert=${host_key%.pub}-cert.pub

# write_file PATH MODE: standard input into PATH, replaced in one step (rename).
write_file() {
    local tmp
    tmp=$(mktemp "$(dirname "$1")/.$(basename "$1").XXXXXX")
    cat >"$tmp"
    chmod "$2" "$tmp"
    mv -f "$tmp" "$1"
}

step "1. $R$JIT_DIR (0755) and its principals/ directory"
install -d -m 0755 "$R$JIT_DIR" "$R$JIT_DIR/principals" "$R/etc/ssh/sshd_config.d"

step "2. an empty KRL, so sshd never meets a missing RevokedKeys file"
if [[ -s $R$JIT_DIR/revoked.krl ]]; then
    note "kept the existing $R$JIT_DIR/revoked.krl"
else
    tmp=$(mktemp -d "$R$JIT_DIR/.krl.XXXXXX")
    ssh-keygen -q -k -f "$tmp/revoked.krl" </dev/null
    ssh-keygen -Q -l -f "$tmp/revoked.krl" >/dev/null || die "ssh-keygen wrote a KRL it cannot read"
    chmod 0644 "$tmp/revoked.krl"
    mv -f "$tmp/revoked.krl" "$R$JIT_DIR/revoked.krl"
    rmdir "$tmp"
    note "wrote an empty $R$JIT_DIR/revoked.krl (ssh-keygen -k)"
fi

step "3. host certificate (jit host enroll)"
if [[ -z $token ]]; then
    note "skipped (no --token): engineers' ssh will ask to confirm this host's key once"
else
    if [[ ! -f $R$host_key ]]; then
        ssh-keygen -q -t ed25519 -N '' -C "root@$(hostname)" -f "$R${host_key%.pub}"
        note "created the missing host key $R${host_key%.pub}"
    fi
    "$jit" host enroll "$token" --host-key "$R$host_key" --dir "$R$JIT_DIR" >/dev/null ||
        die "jit host enroll failed (see above); sshd was not changed"
    note "wrote $R$host_cert"
fi

step "4. user CA keys and KRL from $server (jit host sync)"
if ! "$jit" host sync --dir "$R$JIT_DIR" --server "$server" --tls-sha256 "$pin"; then
    die "the first sync failed (see above); sshd was not changed. Fix it and run setup.sh again"
fi

step "5. principals files ($R$JIT_DIR/principals/ACCOUNT, 0644)"
declare -A wanted=()
for account in ${accounts[@]+"${accounts[@]}"}; do
    if [[ -z $R ]] && ! getent passwd "$account" >/dev/null; then
        note "warning: there is no account $account on this host (yet)"
    fi
    tr ',' '\n' <<<"${principals_of[$account]}" | write_file "$R$JIT_DIR/principals/$account" 0644
    wanted[$account]=1
    note "$account: ${principals_of[$account]//,/, }"
done
for file in "$R$JIT_DIR"/principals/*; do
    [[ -f $file && -z ${wanted[$(basename "$file")]:-} ]] || continue
    note "warning: $file is not in --principals-map and still grants: $(paste -sd, "$file")"
done
((${#wanted[@]})) || note "no --principals-map: no account accepts jit certificates yet"

step "6. sshd drop-in $R$DROP_IN"
backup=""
if [[ -f $R$DROP_IN ]]; then
    backup=$(mktemp "$R/etc/ssh/sshd_config.d/.50-jit.conf.previous.XXXXXX")
    cp -p "$R$DROP_IN" "$backup"
fi
restore() {
    if [[ -n $backup ]]; then mv -f "$backup" "$R$DROP_IN"; else rm -f "$R$DROP_IN"; fi
}
{
    echo "# Written by jit's deploy/host/setup.sh (see its README.md); run setup.sh again to change it."
    echo "# jit-host-sync.timer keeps user_ca.pub and revoked.krl fresh."
    echo "TrustedUserCAKeys $JIT_DIR/user_ca.pub"
    echo "AuthorizedPrincipalsFile $JIT_DIR/principals/%u"
    echo "RevokedKeys $JIT_DIR/revoked.krl"
    if [[ -f $R$host_cert && -f $R$JIT_DIR/host.json ]]; then
        echo "HostCertificate $host_cert"
    fi
} | write_file "$R$DROP_IN" 0644
sed 's/^/    /' "$R$DROP_IN"
if [[ -f $R/etc/ssh/sshd_config ]]; then
    grep -Eq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' "$R/etc/ssh/sshd_config" || {
        restore
        die "$R/etc/ssh/sshd_config does not include sshd_config.d: add 'Include /etc/ssh/sshd_config.d/*.conf' at its top"
    }
else
    note "no $R/etc/ssh/sshd_config to check for 'Include /etc/ssh/sshd_config.d/*.conf'"
fi

step "7. check the sshd configuration"
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
if [[ -z $R ]]; then
    if ! out=$("$sshd_bin" -t 2>&1); then
        restore
        die "sshd -t rejected the configuration (the previous drop-in is back):"$'\n'"$out"
    fi
    effective=$("$sshd_bin" -T 2>/dev/null | grep -i '^trustedusercakeys ' || true)
    [[ ${effective,,} == "trustedusercakeys $JIT_DIR/user_ca.pub" ]] ||
        note "warning: sshd uses '$effective': an earlier TrustedUserCAKeys line in sshd_config wins"
    note "sshd -t: ok"
elif [[ -x $sshd_bin && $EUID -eq 0 ]]; then
    # Under --root the drop-in names the paths the host will see; check it with the
    # prefixed paths instead (the whole system configuration is not the one under --root).
    check=$(mktemp -d)
    trap 'rm -rf "$check"' EXIT
    { [[ -f $R${host_key%.pub} ]] && echo "HostKey $R${host_key%.pub}"
      sed "s#^\([A-Za-z]*\) /etc/ssh/#\1 $R/etc/ssh/#" "$R$DROP_IN"; } >"$check/sshd_config"
    if ! out=$("$sshd_bin" -t -f "$check/sshd_config" 2>&1); then
        restore
        die "sshd -t rejected the drop-in (checked with the paths under --root):"$'\n'"$out"
    fi
    note "sshd -t -f (drop-in with the paths under $R): ok"
else
    note "skipped under --root (needs root and sshd)"
fi
[[ -n $backup && -f $backup ]] && rm -f "$backup"

step "8. systemd units: jit-host-sync (every 5 min), jit-host-renew (daily)"
sshd_unit=ssh
for dir in /lib/systemd/system /usr/lib/systemd/system /etc/systemd/system; do
    if [[ -f $R$dir/sshd.service && ! -f $R$dir/ssh.service ]]; then sshd_unit=sshd; fi
done
install -d -m 0755 "$R/etc/systemd/system"
for unit in jit-host-sync.service jit-host-sync.timer jit-host-renew.service jit-host-renew.timer; do
    sed -e "s#/usr/local/bin/jit #$jit #" -e "s#systemctl reload ssh\"#systemctl reload $sshd_unit\"#" \
        "$here/$unit" | write_file "$R/etc/systemd/system/$unit" 0644
done
note "wrote $R/etc/systemd/system/jit-host-{sync,renew}.{service,timer} (jit: $jit)"
systemd_running=no
[[ -z $R && $systemd == yes && -d /run/systemd/system ]] && systemd_running=yes
if [[ $systemd_running == yes ]]; then
    systemctl daemon-reload
    systemctl enable --now jit-host-sync.timer jit-host-renew.timer
    note "enabled and started jit-host-sync.timer and jit-host-renew.timer"
else
    note "skipped enabling the timers (--root, --no-systemd, or systemd is not running):"
    note "run \`$jit host sync --dir $JIT_DIR\` every 5 minutes (cron) and \`$jit host renew --dir $JIT_DIR\` daily"
fi

step "9. reload sshd"
if [[ -n $R ]]; then
    note "skipped under --root"
elif [[ $systemd_running == yes ]]; then
    systemctl reload "$sshd_unit"
    note "systemctl reload $sshd_unit: ok"
elif [[ -f /run/sshd.pid ]] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
    kill -HUP "$(cat /run/sshd.pid)"
    note "sent SIGHUP to sshd (pid $(cat /run/sshd.pid))"
else
    note "sshd is not running: it reads the drop-in when it starts"
fi
echo "done: sshd trusts jit certificates (user CA $JIT_DIR/user_ca.pub, KRL $JIT_DIR/revoked.krl)"
