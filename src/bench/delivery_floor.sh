#!/usr/bin/env bash
# The delivery floor `cargo xtask bench` measures the lab against: the least any tool can do to
# show that journals are centralized, done as a careful engineer would by hand, everything that
# can run at once at once. The same image and container settings as the lab; a CA and a key and
# certificate per host (P-256, as the lab's); each host's certificates and its one configuration
# file copied in before it boots; all hosts booted together; on each, once systemd runs, the
# files handed to the journal's users and journal-remote's socket (the server) or journal-upload
# (a client) started, and a client's marker logged; one read on the server, a loop inside it
# until every marker is there; the hosts removed. No checks, no reports, no evidence.
#
#   delivery_floor.sh IMAGE CLIENTS
#
# Exits 0 when every marker arrived within 60 s. Everything it creates carries the label
# journal-lab.floor=<id> and is removed on exit, whatever happens.
set -euo pipefail

# Where the time goes: `floor-phase NAME SECONDS-SINCE-START` on stderr at each mark.
start=$(date +%s.%N)
mark() {
  echo "floor-phase $1 $(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n - s }')" >&2
}

image=$1
clients=$2
id="floor-$$-$RANDOM"
work=$(mktemp -d)
cleanup() {
  docker ps -aq --filter "label=journal-lab.floor=$id" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network rm "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

hosts=(server)
for i in $(seq 1 "$clients"); do hosts+=("client$i"); done

# Waits for every background job; fails if any did.
wait_all() {
  local failed=0
  for pid in "$@"; do wait "$pid" || failed=1; done
  return $failed
}

# Certificates: the CA, then every host's key and certificate at once.
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
  -subj "/CN=floor CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
pids=()
for host in "${hosts[@]}"; do
  (
    d="$work/$host"
    mkdir -p "$d/etc/ssl/systemd-journal" "$d/etc/systemd"
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$host" \
      -keyout "$d/etc/ssl/systemd-journal/$host.key" -out "$work/$host.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$host" >"$work/$host.ext"
    openssl x509 -req -in "$work/$host.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
      -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 2 \
      -extfile "$work/$host.ext" -out "$d/etc/ssl/systemd-journal/$host.pem" 2>/dev/null
    cp "$work/ca.pem" "$d/etc/ssl/systemd-journal/ca.pem"
    keys="ServerKeyFile=/etc/ssl/systemd-journal/$host.key
ServerCertificateFile=/etc/ssl/systemd-journal/$host.pem
TrustedCertificateFile=/etc/ssl/systemd-journal/ca.pem"
    if [ "$host" = server ]; then
      printf '[Remote]\n%s\n' "$keys" >"$d/etc/systemd/journal-remote.conf"
    else
      printf '[Upload]\nURL=https://server:19532\n%s\n' "$keys" >"$d/etc/systemd/journal-upload.conf"
    fi
  ) &
  pids+=($!)
done
wait_all "${pids[@]}"
mark certificates

# Every host created, its files copied in, and started, all at once: systemd as PID 1 without
# --privileged, as the lab runs them (see src/lab/container.rs).
cgroup=()
entry=()
if [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
  cgroup=(--tmpfs /sys/fs/cgroup)
  entry=(--entrypoint sh)
fi
docker network create --label "journal-lab.floor=$id" "$id" >/dev/null
pids=()
for host in "${hosts[@]}"; do
  (
    c="$host.$id"
    args=(--name "$c" --hostname "$host" --network "$id" --network-alias "$host"
      --label "journal-lab.floor=$id" --cap-add SYS_ADMIN --security-opt seccomp=unconfined
      --security-opt apparmor=unconfined --tmpfs /run --tmpfs /run/lock --cgroupns=private
      "${cgroup[@]}" "${entry[@]}" "$image")
    if [ ${#entry[@]} -gt 0 ]; then
      args+=(-c 'mount -t cgroup2 cgroup2 /sys/fs/cgroup; exec /lib/systemd/systemd')
    fi
    docker create "${args[@]}" >/dev/null
    docker cp "$work/$host/." "$c:/"
    docker start "$c" >/dev/null
  ) &
  pids+=($!)
done
wait_all "${pids[@]}"
mark started

# On every host at once, once systemd answers: the files to the journal's users, the unit started,
# and on a client its marker logged.
pids=()
for host in "${hosts[@]}"; do
  if [ "$host" = server ]; then
    unit="systemctl start systemd-journal-remote.socket"
  else
    unit="systemctl start systemd-journal-upload.service && logger -t floor 'floor marker $id $host'"
  fi
  docker exec "$host.$id" sh -c "
    set -e
    # PID 1 takes systemctl's requests once its private socket is there; the start job then
    # waits for what it needs of the boot, as a hand at the keyboard would not.
    end=\$((\$(date +%s) + 60))
    until [ -S /run/systemd/private ]; do
      [ \$(date +%s) -lt \$end ] || { echo 'systemd did not come up within 60 s' >&2; exit 1; }
      sleep 0.02
    done
    d=/etc/ssl/systemd-journal
    chown -R systemd-journal-remote:systemd-journal \$d && chmod 0750 \$d && chmod 0640 \$d/*
    $unit" &
  pids+=($!)
done
wait_all "${pids[@]}"
mark configured

# One read on the server: a loop inside it until every marker is there.
if docker exec "server.$id" sh -c "
  end=\$((\$(date +%s) + 60))
  until [ \"\$(journalctl -D /var/log/journal/remote -o cat --no-pager 2>/dev/null | grep -c 'floor marker $id')\" -ge $clients ]; do
    [ \$(date +%s) -lt \$end ] || exit 1
    sleep 0.05
  done"; then
  mark delivered
  echo "delivery floor: $clients of $clients markers arrived"
else
  echo "delivery floor: not every marker arrived within 60 s" >&2
  exit 1
fi
