#!/usr/bin/env bash
# Fetches OpenStack Swift 2.30.1's source tree, whose test/functional is the compatibility suite
# the storage proxy must pass, from Debian bookworm's source package `swift`. The deb-src entries
# are made from this machine's own apt sources in a temporary folder: the system's apt setup is
# left as it was. Usage: fetch-swift-source.sh [DIR] (default $TEND_SWIFT_SOURCE, else
# /var/cache/tend/swift-2.30.1); does nothing if DIR already holds the tree. Needs root (apt).
set -euo pipefail
dest=${1:-${TEND_SWIFT_SOURCE:-/var/cache/tend/swift-2.30.1}}
if [[ -f $dest/test/functional/tests.py ]]; then exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/download"
shopt -s nullglob
for f in /etc/apt/sources.list.d/*.sources; do
  sed 's/^Types:.*/Types: deb-src/' "$f" >"$work/parts/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f $f ]] && sed -n 's/^deb[[:space:]]/deb-src /p' "$f" >>"$work/parts/deb-src.list"
done
apt_opts=(-o "APT::Sandbox::User=root" -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/parts" -o "Dir::State::Lists=$work/lists")
apt-get "${apt_opts[@]}" update -qq
# Any Debian revision of 2.30.1 carries the same upstream tarball; its .dsc or patch may be
# missing on a security mirror, which does not matter here.
(cd "$work/download" && apt-get "${apt_opts[@]}" source --download-only swift >/dev/null 2>&1) || true
orig="$work/download/swift_2.30.1.orig.tar.xz"
if [[ ! -f $orig ]]; then
  echo "fetch-swift-source: Debian's source package swift 2.30.1 could not be downloaded" >&2
  exit 1
fi
mkdir -p "$(dirname "$dest")"
tar -xJf "$orig" -C "$work"
rm -rf "$dest"
mv "$work/swift-2.30.1" "$dest"
echo "fetch-swift-source: Swift 2.30.1 source in $dest"
