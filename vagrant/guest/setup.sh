#!/bin/sh
# setup.sh - make a Debian 12 system a fleet test host: user "fleet" (docker group, sudo only
# for HAProxy, see sudoers-fleet), the boot unit that prints host keys to the serial console.
#
#   setup.sh chroot              inside build-box's chroot (packages already there; nothing runs)
#   setup.sh provision BLOB      as a Vagrant provisioner on the public debian/bookworm64 box
#                                (VirtualBox): installs the packages, authorises the controller's
#                                ed25519 key (base64 BLOB), prints the host keys right away
set -eu
MODE=${1:?usage: setup.sh chroot | setup.sh provision PUBKEY_BLOB}
HERE=$(cd "$(dirname "$0")" && pwd)
PACKAGES="openssh-server sudo docker.io haproxy"

if [ "$MODE" = provision ]; then
  missing=
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
  fi
fi

id fleet >/dev/null 2>&1 || useradd -m -s /bin/bash fleet
usermod -a -G docker,systemd-journal fleet
install -d -m 700 -o fleet -g fleet /home/fleet/.ssh
install -m 440 "$HERE/sudoers-fleet" /etc/sudoers.d/fleet
visudo -cq -f /etc/sudoers.d/fleet
install -m 755 "$HERE/fleet-guest-boot" /usr/local/sbin/fleet-guest-boot
install -m 644 "$HERE/fleet-guest-boot.service" /etc/systemd/system/fleet-guest-boot.service
systemctl enable fleet-guest-boot.service ssh.service docker.service haproxy.service >/dev/null 2>&1

if [ "$MODE" = provision ]; then
  BLOB=${2:?provision needs the controller public key (base64 blob)}
  printf 'ssh-ed25519 %s fleet-controller\n' "$BLOB" > /home/fleet/.ssh/authorized_keys
  chown fleet:fleet /home/fleet/.ssh/authorized_keys
  chmod 600 /home/fleet/.ssh/authorized_keys
  systemctl start docker.service haproxy.service
  /usr/local/sbin/fleet-guest-boot --print-keys
fi
