#!/bin/sh
# journal-lab collect script: gathers what journal-lab needs to replay this host's journal
# centralization setup in a lab (`cargo xtask replay BUNDLE`), into one tarball.
#
# Run it as root on the real client or server:   sh collect.sh [OUTPUT.tar.gz]
#
# It reads, and copies into the tarball:
#   /etc/os-release, `systemctl --version`, the hostname;
#   the effective journal-upload.conf, journal-remote.conf and journald.conf
#     (`systemd-analyze cat-config`, drop-ins included);
#   `systemctl cat` and `systemctl show` of systemd-journal-upload.service,
#     systemd-journal-remote.service and systemd-journal-remote.socket;
#   the last 200 lines of their journals;
#   the PUBLIC parts of the configured certificates: certificate, chain and CA file
#     (only their CERTIFICATE blocks).
# It never copies a private key: of ServerKeyFile= it records only the key's type and size.
# It changes nothing on this host.
set -u
umask 077
out=${1:-journal-lab-bundle-$(hostname 2>/dev/null || echo host)-$(date +%Y%m%d%H%M%S).tar.gz}
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
bundle="$work/bundle"
mkdir -p "$bundle/certs"
limit=1048576

# record NAME COMMAND...: what COMMAND printed (both streams, at most 1 MiB), never failing.
record() {
    name=$1
    shift
    "$@" 2>&1 | head -c "$limit" >"$bundle/$name"
}

record os-release cat /etc/os-release
record systemctl-version systemctl --version
record hostname hostname
for conf in journal-upload journal-remote journald; do
    record "cat-config-$conf.conf" systemd-analyze cat-config "systemd/$conf.conf"
done
for unit in systemd-journal-upload.service systemd-journal-remote.service systemd-journal-remote.socket; do
    record "cat-$unit" systemctl cat "$unit"
    record "show-$unit" systemctl show "$unit"
    record "journal-$unit" journalctl -u "$unit" -n 200 --no-pager -o short-iso
done

# setting FILE KEY DEFAULT: the effective value (the last assignment wins), or DEFAULT.
setting() {
    value=$(sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" "$1" | tail -n 1)
    printf '%s\n' "${value:-$3}"
}

# certificates ROLE CONFIG KIND: the public parts of one side's certificate, CA and key facts.
certificates() {
    side=$1
    config="$bundle/cat-config-journal-$side.conf"
    cert=$(setting "$config" ServerCertificateFile "/etc/ssl/certs/journal-$side.pem")
    key=$(setting "$config" ServerKeyFile "/etc/ssl/private/journal-$side.pem")
    trust=$(setting "$config" TrustedCertificateFile "/etc/ssl/ca/trusted.pem")
    for pair in "cert:$cert" "ca:$trust"; do
        kind=${pair%%:*}
        path=${pair#*:}
        [ -r "$path" ] || continue
        # Only the CERTIFICATE blocks: a key pasted into the same file stays behind.
        sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$path" \
            | head -c "$limit" >"$bundle/certs/$side-$kind.pem"
        printf '%s %s %s\n' "$side" "$kind" "$path" >>"$bundle/certs/paths"
    done
    if [ -r "$key" ]; then
        type=$(grep -m 1 -- '-----BEGIN' "$key" | sed 's/-----BEGIN \(.*\)-----/\1/')
        size=$(wc -c <"$key" | tr -d ' ')
        detail=""
        if command -v openssl >/dev/null 2>&1; then
            detail=$(openssl pkey -in "$key" -noout -text 2>/dev/null | head -n 1)
        fi
        printf '%s key %s type=%s bytes=%s %s\n' "$side" "$key" "$type" "$size" "$detail" \
            >>"$bundle/certs/paths"
    fi
}
certificates upload
certificates remote

tar -czf "$out" -C "$work" bundle || exit 1
echo "journal-lab: wrote $out" >&2
echo "journal-lab: no private key was copied; of each key only its path, type and size are recorded (bundle/certs/paths)" >&2
