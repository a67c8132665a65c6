#!/usr/bin/env bash
# The peer `cargo xtask bench` measures journal-lab against: what a user would write instead, by
# hand, following Netdata's "Passive journal centralization with encryption using self-signed
# certificates" guide, and nothing more. A CA and a certificate per host with openssl, containers
# booted one after another, certificates copied in with `docker cp`, journal-remote.conf and
# journal-upload.conf written, the units enabled and restarted as the guide says, a marker logged
# on each client and grepped for on the server.
#
#   peer.sh IMAGE CLIENTS
#
# It boots the same images with the same container settings as the lab (so the comparison is of
# the two harnesses, not of two container recipes), uses P-256 keys like the lab, and checks only
# that every marker arrived: none of the lab's checks, reports or evidence. Exits 0 when all
# arrived within 60 s. Everything it creates carries the label journal-lab.peer=<id> and is
# removed on exit, whatever happens.
set -euo pipefail

image=$1
clients=$2
id="peer-$$-$RANDOM"
work=$(mktemp -d)
cleanup() {
  docker ps -aq --filter "label=journal-lab.peer=$id" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network rm "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

hosts=(server)
for i in $(seq 1 "$clients"); do hosts+=("client$i"); done

# Certificates, as the guide's certificate script makes them: a CA, then a key and a certificate
# naming each host.
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
  -subj "/CN=peer CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
for host in "${hosts[@]}"; do
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$host" \
    -keyout "$work/$host.key" -out "$work/$host.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$host" >"$work/$host.ext"
  openssl x509 -req -in "$work/$host.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -extfile "$work/$host.ext" -out "$work/$host.pem" 2>/dev/null
done

# The containers, one after another: systemd as PID 1 without --privileged (as the lab runs them: see src/lab/container.rs).
cgroup=()
entry=()
if [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
  cgroup=(--tmpfs /sys/fs/cgroup)
  entry=(--entrypoint sh)
fi
docker network create --label "journal-lab.peer=$id" "$id" >/dev/null
for host in "${hosts[@]}"; do
  args=(-d --name "$host.$id" --hostname "$host" --network "$id" --network-alias "$host"
    --label "journal-lab.peer=$id" --cap-add SYS_ADMIN --security-opt seccomp=unconfined
    --security-opt apparmor=unconfined --tmpfs /run --tmpfs /run/lock --cgroupns=private
    "${cgroup[@]}" "${entry[@]}" "$image")
  if [ ${#entry[@]} -gt 0 ]; then
    args+=(-c 'mount -t cgroup2 cgroup2 /sys/fs/cgroup; exec /lib/systemd/systemd')
  fi
  docker run "${args[@]}" >/dev/null
done

# The guide's steps on each host: install the certificates (owner systemd-journal-remote,
# group systemd-journal), point the configuration at them, enable and (re)start the units.
for host in "${hosts[@]}"; do
  c="$host.$id"
  docker exec "$c" mkdir -p /etc/ssl/systemd-journal
  docker cp "$work/ca.pem" "$c:/etc/ssl/systemd-journal/ca.pem"
  docker cp "$work/$host.pem" "$c:/etc/ssl/systemd-journal/$host.pem"
  docker cp "$work/$host.key" "$c:/etc/ssl/systemd-journal/$host.key"
  docker exec "$c" sh -c "
    set -e
    systemctl is-system-running --wait >/dev/null || true
    d=/etc/ssl/systemd-journal
    chown -R systemd-journal-remote:systemd-journal \$d && chmod 0750 \$d && chmod 0640 \$d/*
    for conf in journal-remote journal-upload; do
      section=Remote; [ \$conf = journal-upload ] && section=Upload
      printf '[%s]\nServerKeyFile=%s\nServerCertificateFile=%s\nTrustedCertificateFile=%s\n' \
        \$section \$d/$host.key \$d/$host.pem \$d/ca.pem > /etc/systemd/\$conf.conf
    done"
  if [ "$host" = server ]; then
    docker exec "$c" systemctl enable --now systemd-journal-remote.socket >/dev/null 2>&1
    docker exec "$c" systemctl enable systemd-journal-remote.service >/dev/null 2>&1
  else
    docker exec "$c" sh -c "
      set -e
      echo 'URL=https://server:19532' >> /etc/systemd/journal-upload.conf
      mkdir -p /etc/systemd/system/systemd-journal-upload.service.d
      printf '[Service]\nRestart=always\n' > /etc/systemd/system/systemd-journal-upload.service.d/override.conf
      systemctl daemon-reload
      systemctl enable systemd-journal-upload.service >/dev/null 2>&1
      systemctl restart systemd-journal-upload.service"
  fi
done

# A marker on every client, then wait until the server has them all.
for host in "${hosts[@]:1}"; do
  docker exec "$host.$id" logger -t peer "peer marker $id $host"
done
deadline=$((SECONDS + 60))
while :; do
  got=$(docker exec "server.$id" sh -c "journalctl -D /var/log/journal/remote -o cat --no-pager 2>/dev/null | grep -c 'peer marker $id'" || true)
  if [ "${got:-0}" -ge "$clients" ]; then
    echo "peer: $clients of $clients markers arrived"
    exit 0
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "peer: only ${got:-0} of $clients markers arrived within 60 s" >&2
    exit 1
  fi
  sleep 0.2
done
