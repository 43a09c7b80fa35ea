"""The Debian programs and data packages corpus synthesis needs, and running them.

tokgen installs nothing itself: :func:`require` names every missing package and the
``apt-get`` line that installs them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tokgen.errors import MissingDependencyError

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FREEDESKTOP_SOUNDS = Path("/usr/share/sounds/freedesktop/stereo")
FESTIVAL_VOICES = Path("/usr/share/festival/voices")

# Debian package -> what proves it is installed (a program on PATH or a file).
PACKAGES: dict[str, str | Path] = {
    "sox": "sox",
    "flite": "flite",
    "festival": "text2wave",
    "festvox-kallpc16k": FESTIVAL_VOICES / "english/kal_diphone",
    "festvox-us-slt-hts": FESTIVAL_VOICES / "us/cmu_us_slt_arctic_hts",
    "espeak-ng": "espeak-ng",
    "fluidsynth": "fluidsynth",
    "fluid-soundfont-gm": SOUNDFONT,
    "sound-theme-freedesktop": FREEDESKTOP_SOUNDS,
    "chromium": "chromium",  # the demo's headless-browser test
}


def missing_packages(packages: list[str] | None = None) -> list[str]:
    """The packages among ``packages`` (default: all of :data:`PACKAGES`) not installed."""
    missing = []
    for package in packages or list(PACKAGES):
        probe = PACKAGES[package]
        found = probe.exists() if isinstance(probe, Path) else shutil.which(probe) is not None
        if not found:
            missing.append(package)
    return missing


def require(packages: list[str] | None = None) -> None:
    """Raise :class:`MissingDependencyError` naming missing packages and the apt line."""
    missing = missing_packages(packages)
    if missing:
        raise MissingDependencyError(
            f"corpus synthesis needs the Debian package(s) {', '.join(missing)}, which are not "
            f"installed. Install them with:\n  sudo apt-get update && sudo apt-get install -y "
            f"{' '.join(missing)}"
        )


def run(command: list[str], *, stdin: str | None = None) -> None:
    """Run a synthesis command; a failure raises with its stderr."""
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, check=False, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])}... failed ({result.returncode}): {result.stderr[-500:]}"
        )
