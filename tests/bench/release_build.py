"""Release binaries for the benchmarks: `meson setup --buildtype=release`
once in a build directory of their own, then ninja for just the targets a
benchmark needs. Shared by goodput.py and throughput.py."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(build_dir, targets):
    """Builds `targets` (paths relative to the build dir) and returns their full paths."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["meson", "setup", "--buildtype=release", build_dir, ROOT], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build_dir, "-j2", *targets], check=True, stdout=subprocess.DEVNULL)
    return [os.path.join(build_dir, t) for t in targets]
