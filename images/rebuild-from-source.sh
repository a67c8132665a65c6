#!/bin/sh
# Rebuilds targets of a Debian source package with extra meson options, inside a buildd chroot of
# the release (made by mmdebstrap for `cargo xtask images build`, see src/images/layer.rs).
#
#   rebuild-from-source.sh SOURCE "EXTRA-BUILD-DEPENDS" "MESON-OPTIONS" TARGET=PATH...
#
# Debian's own configure flags are used (debian/rules override_dh_auto_configure); the extra meson
# options are appended through CONFFLAGS_UPSTREAM, so they win. Only the named ninja targets are
# built, through dh_auto_build in the context of debian/rules (its exported build environment).
# Each target lands at /out/root/PATH; the shared libraries it needs from the build tree go to
# /out/root/usr/lib/journal-lab/SOURCE, and its RUNPATH points there, so the rebuilt binary does
# not use (or replace) the libraries the release ships. /out/provenance (also in the image, /usr/share/journal-lab) says what was built.
set -eu
exec 1>&2
source_package=$1
extra_depends=$2
meson_options=$3
shift 3

say() { echo "journal-lab: $*"; }
fail() { say "$*"; exit 1; }
export DEBIAN_FRONTEND=noninteractive

say "installing the build dependencies of $source_package (apt-get build-dep)"
apt-get -q update >/dev/null
apt-get -q -y build-dep "$source_package" >/build-dep.log 2>&1 || { tail -30 /build-dep.log; fail "apt-get build-dep $source_package failed"; }
# shellcheck disable=SC2086 # a list of package names
apt-get -q -y install --no-install-recommends patchelf $extra_depends >>/build-dep.log 2>&1 || { tail -30 /build-dep.log; fail "installing $extra_depends failed"; }

mkdir -p /build && cd /build
say "fetching the source of $source_package (apt-get source)"
apt-get -q source "$source_package" >/source.log 2>&1 || { tail -30 /source.log; fail "apt-get source $source_package failed"; }
srcdir=$(find . -mindepth 1 -maxdepth 1 -type d | head -1)
cd "$srcdir"
version=$(dpkg-parsechangelog -S Version)

say "configuring $source_package $version with Debian's flags plus: $meson_options"
DH_INTERNAL_OPTIONS="-O--buildsystem=meson" fakeroot debian/rules override_dh_auto_configure \
  CONFFLAGS_UPSTREAM="$meson_options" >/configure.log 2>&1 || { tail -40 /configure.log; fail "configure failed"; }
builddir=$(dirname "$(find . -maxdepth 2 -name build.ninja | head -1)")
[ -f "$builddir/build.ninja" ] || { tail -40 /configure.log; fail "configure made no build.ninja"; }

targets=""
for pair in "$@"; do targets="$targets ${pair%%=*}"; done
say "building$targets (ninja; the progress lines below are ninja's)"
make -f debian/rules --eval "journal-lab-build: ; dh_auto_build -O--buildsystem=meson -- $targets" journal-lab-build 2>&1 \
  | tee /ninja.log | sed -u -n 's|^\(\[[0-9]*/[0-9]*\]\).*|\1|p'
for target in $targets; do
  [ -x "$builddir/$target" ] || { grep -v '^\[' /ninja.log | tail -30; fail "ninja did not produce $target"; }
done

libdir=/usr/lib/journal-lab/$source_package
mkdir -p "/out/root$libdir"
for pair in "$@"; do
  target=${pair%%=*}
  path=${pair#*=}
  built="$builddir/$target"
  mkdir -p "/out/root$(dirname "$path")"
  cp "$built" "/out/root$path"
  origin=$(cd "$(dirname "$built")" && pwd)
  for needed in $(patchelf --print-needed "$built"); do
    for dir in $(patchelf --print-rpath "$built" | tr ':' ' '); do
      dir=$(echo "$dir" | sed "s|\\\$ORIGIN|$origin|")
      if [ -f "$dir/$needed" ]; then
        cp "$dir/$needed" "/out/root$libdir/"
        strip --strip-unneeded "/out/root$libdir/$needed"
      fi
    done
  done
  strip --strip-unneeded "/out/root$path"
  patchelf --set-rpath "$libdir" "/out/root$path"
  "$built" --version >/dev/null 2>&1 || fail "the rebuilt $target does not run in the build tree"
done

{
  echo "source=$source_package"
  echo "version=$version"
  echo "meson_options=$meson_options"
  echo "targets=$*"
} >/out/provenance
mkdir -p /out/root/usr/share/journal-lab
cp /out/provenance "/out/root/usr/share/journal-lab/rebuilt-$source_package"
say "rebuilt$targets from $source_package $version"
