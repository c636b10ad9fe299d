#!/bin/sh
# Installs the peer gateways from Debian packages (gammu-smsd, smstools,
# kannel) when missing, without starting or enabling their own services:
# they would take default ports (13000-13013) and serial devices.
set -eu

PKGS="gammu gammu-smsd smstools kannel"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "peers: all installed ($PKGS)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "peers: missing packages:$missing; run this script as root" >&2
    exit 1
fi

# policy-rc.d exit 101: maintainer scripts may not start any service.
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing

# Belt and braces: whatever got started or enabled is stopped and disabled.
for svc in gammu-smsd smstools kannel; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$svc" ]; then
        "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
done
echo "peers: installed$missing"
