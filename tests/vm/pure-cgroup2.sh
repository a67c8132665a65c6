#!/bin/sh
# The lab on a pure cgroup v2 engine, the kind GitHub's hosted runners and current distributions
# have: a Debian trixie virtual machine (kernel 6.12, the unified hierarchy only, Docker 26 from
# Debian), built here from Debian's packages and booted under qemu's software emulation. In it, as
# root: the lab's images loaded (saved from this machine's engine), then `journal-lab` with each
# argument line given (read as a shell command line), its exit status and time written to the
# serial console; then it powers off.
#
#   tests/vm/pure-cgroup2.sh BINARY 'lab' 'run server-outage' ...
#
# Prints what the VM said (`vm: ...` lines: its kernel, hierarchy and engine, then for each
# command `vm: exit CODE in SECONDS s: ARGS`) and exits 0 once the VM finished them all (whether a
# command's code is the one expected is the caller's: tests/vm_e2e.rs). Needs root, qemu-system-x86, mmdebstrap, e2fsprogs and this machine's engine
# holding the lab's bookworm image (`journal-lab images build`). JOURNAL_LAB_VM_DIR (default
# /tmp/journal-lab-vm) keeps the root file system tarball between runs; JOURNAL_LAB_VM_MINUTES
# (default 60) bounds the whole boot; JOURNAL_LAB_VM_DAEMON_JSON, if set, is the VM engine's
# /etc/docker/daemon.json (e.g. '{"userns-remap": "default"}').
set -eu
binary=$(realpath "$1")
shift
work=${JOURNAL_LAB_VM_DIR:-/tmp/journal-lab-vm}
minutes=${JOURNAL_LAB_VM_MINUTES:-60}
for tool in qemu-system-x86_64 mmdebstrap mkfs.ext4 docker; do
    command -v "$tool" >/dev/null || {
        echo "pure-cgroup2.sh: $tool is missing (apt-get install qemu-system-x86 mmdebstrap e2fsprogs docker.io)" >&2
        exit 2
    }
done
mkdir -p "$work"
if [ ! -s "$work/root.tar" ]; then
    echo "vm: building the trixie root file system (mmdebstrap)" >&2
    mmdebstrap --variant=minbase \
        --include=systemd,systemd-sysv,udev,docker.io,docker-cli,linux-image-amd64,iproute2,ca-certificates,kmod,iptables,procps,passwd \
        trixie "$work/root.part.tar" >"$work/mmdebstrap.log" 2>&1
    mv "$work/root.part.tar" "$work/root.tar"
fi
rm -rf "$work/rootfs" "$work/vm.img"
mkdir "$work/rootfs"
tar -C "$work/rootfs" -xf "$work/root.tar"
root=$work/rootfs
install -m 0755 "$binary" "$root/usr/local/bin/journal-lab"
image=$("$binary" images hash | grep '^journal-lab/bookworm:')
docker image inspect "$image" >/dev/null 2>&1 || {
    echo "pure-cgroup2.sh: $image is not on this machine's engine: run \`$binary images build\` first" >&2
    exit 2
}
docker save "$image" -o "$root/root/images.tar"
: >"$root/root/commands"
for line in "$@"; do
    printf '%s\n' "$line" >>"$root/root/commands"
done
cat >"$root/root/vm-test.sh" <<'SCRIPT'
#!/bin/sh
exec >/dev/ttyS0 2>&1
echo "vm: kernel $(uname -r), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup), docker $(docker version --format '{{.Server.Version}}'), security options: $(docker info --format '{{.SecurityOptions}}')"
start=$(date +%s)
docker load -i /root/images.tar >/dev/null && echo "vm: images loaded in $(( $(date +%s) - start )) s"
cd /root
while IFS= read -r args; do
    echo "vm: start: $args"
    start=$(date +%s)
    # Each line is a command line of ours, quotes included.
    eval "journal-lab $args" </dev/null >/root/out.txt 2>&1
    code=$?
    cat /root/out.txt
    grep -E 'phase final: ' /root/out.txt | tail -n1 | sed 's/^.*phase final: /vm: final checks: /'
    echo "vm: exit $code in $(( $(date +%s) - start )) s: $args"
done </root/commands
echo "vm: done"
poweroff -f
SCRIPT
chmod 0755 "$root/root/vm-test.sh"
cat >"$root/etc/systemd/system/vm-test.service" <<'UNIT'
[Unit]
Description=journal-lab on a pure cgroup v2 engine
After=docker.service
Wants=docker.service

[Service]
Type=oneshot
ExecStart=/root/vm-test.sh
UNIT
ln -s /etc/systemd/system/vm-test.service "$root/etc/systemd/system/multi-user.target.wants/vm-test.service"
echo journal-lab-vm >"$root/etc/hostname"
if [ -n "${JOURNAL_LAB_VM_DAEMON_JSON:-}" ]; then
    mkdir -p "$root/etc/docker"
    printf '%s\n' "$JOURNAL_LAB_VM_DAEMON_JSON" >"$root/etc/docker/daemon.json"
fi
# The lab's own hosts count toward root's inotify instances (the default 128 holds 17).
echo "fs.inotify.max_user_instances = 8192" >"$root/etc/sysctl.d/90-journal-lab.conf"
mkfs.ext4 -q -d "$root" "$work/vm.img" 12G
kernel=$(find "$root/boot" -name 'vmlinuz-*' | head -n1)
initrd=$(find "$root/boot" -name 'initrd.img-*' | head -n1)
echo "vm: booting (software emulation; minutes)" >&2
timeout "$((minutes * 60))" qemu-system-x86_64 -accel tcg -m 6144 -smp 2 -nographic -no-reboot \
    -drive "file=$work/vm.img,format=raw,if=virtio" -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 root=/dev/vda rw quiet" >"$work/serial.log" 2>&1 || true
# The console's login prompt may share a line with the first of them.
tr -d '\r' <"$work/serial.log" | grep -o 'vm: .*'
grep -q 'vm: done' "$work/serial.log" || { echo "vm: did not finish (see $work/serial.log)"; exit 1; }
