#!/usr/bin/env bash
# Install the Debian packages corpus synthesis and its tests need (the list lives in
# tokgen/data/system_tools.py), or only the ones named (`install_system_deps.sh flite`:
# what speaking with tokgen-tts-small needs). Uses sudo when not run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=${*:-$(python3 -c "from tokgen.data.system_tools import PACKAGES; print(' '.join(PACKAGES))")}
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq $packages >/dev/null
echo "installed: $packages"
