"""`meson install` lays tapstack out as a Debian package would.

Theory of operation
-------------------
1. The build under test is installed with `meson install --destdir D`
   (nothing outside D is touched), and the files under D must be exactly
   the expected list, computed from the build's own directory options and
   the systemd directories Meson resolved: nothing missing, nothing extra.
   Then what those files say is checked: the unit's ExecStart, --config and
   Documentation=, libtapstack's soname and its exported symbols (only the
   C interface and tapstack::client), the pkg-config file resolved into D,
   and the config path compiled into tapstackd (`--help`).
2. A second, throw-away configuration of the same sources with
   `--prefix=/usr --sysconfdir=/etc` (configured only, not compiled:
   `meson introspect --installed` and the generated files say everything)
   must put the config in /etc/tapstack, compile in that path, and point
   the unit at /usr/sbin/tapstackd and /etc/tapstack/tapstack.yaml.

A file another part adds to the installation must be added to EXPECTED
below, so the layout stays deliberate.

Usage: check_install.py MESON SOURCE_ROOT BUILD_ROOT UNIT_DIR SYSUSERS_DIR
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

MESON, SOURCE, BUILD, UNIT_DIR, SYSUSERS_DIR = sys.argv[1:6]

# (directory option or absolute directory, file name); "{soversion}" and
# "{version}" are the library's.
EXPECTED = [
    ("sbindir", "tapstackd"),
    ("bindir", "tapstack"),
    ("libdir", "libtapstack.so.{version}"),
    ("libdir", "libtapstack.so.0"),
    ("libdir", "libtapstack.so"),
    ("libdir", "libtapstack.a"),
    ("libdir", "pkgconfig/tapstack.pc"),
    ("includedir", "tapstack.h"),
    ("includedir", "tapstack/client.hpp"),
    ("includedir", "tapstack/protocol.hpp"),
    ("mandir", "man8/tapstackd.8"),
    ("mandir", "man1/tapstack.1"),
    ("mandir", "man5/tapstack.yaml.5"),
    ("mandir", "man7/tapstack-api.7"),
    ("sysconfdir", "tapstack/tapstack.yaml"),
    (UNIT_DIR, "tapstackd.service"),
    (UNIT_DIR, "tapstackd.socket"),
    (SYSUSERS_DIR, "tapstack.conf"),
]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def options(build):
    out = {}
    for o in json.loads(run([MESON, "introspect", build, "--buildoptions"])):
        out[o["name"]] = o["value"]
    return out


def absolute(opts, where):
    if where.startswith("/"):
        return where
    value = opts[where]
    return value if value.startswith("/") else os.path.join(opts["prefix"], value)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def check_installed_tree():
    opts = options(BUILD)
    version = run([MESON, "introspect", BUILD, "--projectinfo"])
    version = json.loads(version)["version"]
    dest = tempfile.mkdtemp(prefix="tapstack-install-")
    try:
        run([MESON, "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"])
        expected = {os.path.normpath(absolute(opts, d) + "/" + f.format(version=version)) for d, f in EXPECTED}
        found = set()
        for root, dirs, files in os.walk(dest):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                found.add("/" + os.path.relpath(os.path.join(root, name), dest))
        check(found == expected, "installed files differ from the expected layout:\n"
                                 f"  missing: {sorted(expected - found)}\n  unexpected: {sorted(found - expected)}")
        print(f"layout: {len(found)} files as expected")

        libdir = dest + absolute(opts, "libdir")
        check(os.readlink(libdir + "/libtapstack.so") == "libtapstack.so.0", "libtapstack.so -> libtapstack.so.0")
        soname = re.search(r"\(SONAME\)\s+Library soname: \[(.*)\]", run(["readelf", "-d", libdir + "/libtapstack.so.0"]))
        check(soname and soname.group(1) == "libtapstack.so.0", f"soname: {soname and soname.group(1)}")
        symbols = run(["nm", "-D", "--defined-only", "--demangle", libdir + "/libtapstack.so.0"]).splitlines()
        # Strong definitions only: weak ones (W, V) are the standard library's
        # templates instantiated for the C++ interface (vague linkage).
        exported = [line.split(" ", 2)[2] for line in symbols if line.split(" ")[1] in ("T", "D", "B", "R")]
        foreign = [s for s in exported if not (s.startswith("tapstack_") or "tapstack::client::" in s)]
        check(not foreign, f"libtapstack exports more than its interface: {foreign[:10]}")
        for name in ("tapstack_connect", "tapstack_listen", "tapstack_accept", "tapstack_stats", "tapstack_status",
                     "tapstack_hello", "tapstack_version", "tapstack_code_name"):
            check(name in exported, f"libtapstack does not export {name}")
        for name in ("connect", "listen", "accept", "status", "stats", "info", "connections", "hello", "Hello::has",
                     "find_field", "parse_stream_reply"):
            check(any(s.startswith(f"tapstack::client::{name}(") or s.startswith(f"tapstack::client::{name}[")
                      for s in exported), f"libtapstack does not export tapstack::client::{name}")
        print(f"libtapstack: soname libtapstack.so.0, {len(exported)} exported symbols, all tapstack_* or "
              "tapstack::client")

        env = dict(os.environ, PKG_CONFIG_PATH=libdir + "/pkgconfig", PKG_CONFIG_SYSROOT_DIR=dest)
        flags = run(["pkg-config", "--cflags", "--libs", "tapstack"], env=env).split()
        check("-I" + dest + absolute(opts, "includedir") in flags or absolute(opts, "includedir") == "/usr/include",
              f"pkg-config --cflags: {flags}")
        check("-L" + libdir in flags and "-ltapstack" in flags, f"pkg-config --libs: {flags}")

        unit = open(dest + UNIT_DIR + "/tapstackd.service").read()
        config = absolute(opts, "sysconfdir") + "/tapstack/tapstack.yaml"
        check(f"ExecStart={absolute(opts, 'sbindir')}/tapstackd --config {config}\n" in unit, "unit ExecStart")
        check("Documentation=man:tapstackd(8) man:tapstack.yaml(5)\n" in unit, "unit Documentation=")
        installed_config = open(dest + config).read()
        check(installed_config == open(SOURCE + "/config/tapstack.yaml").read(), "installed config differs")
        help_text = run([dest + absolute(opts, "sbindir") + "/tapstackd", "--help"])
        check(f"(default {config})" in help_text, f"tapstackd --help does not name {config}")
        print(f"unit, config and tapstackd --help name {config}")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def check_distribution_paths():
    build = tempfile.mkdtemp(prefix="tapstack-setup-usr-")
    try:
        run([MESON, "setup", build, SOURCE, "--prefix=/usr", "--sysconfdir=/etc"],
            env=dict(os.environ, CC="cc", CXX="c++"))
        installed = json.loads(run([MESON, "introspect", build, "--installed"]))
        targets = set(installed.values())
        for path in ("/usr/sbin/tapstackd", "/usr/bin/tapstack", "/usr/share/man/man8/tapstackd.8",
                     "/usr/include/tapstack.h", UNIT_DIR + "/tapstackd.service"):
            check(path in targets, f"--prefix=/usr: {path} not installed ({sorted(targets)})")
        header = open(build + "/tapstack_version.hpp").read()
        check('#define TAPSTACK_DEFAULT_CONFIG "/etc/tapstack/tapstack.yaml"' in header,
              "--sysconfdir=/etc: the compiled-in default config is not /etc/tapstack/tapstack.yaml")
        unit = open(build + "/systemd/tapstackd.service").read()
        check("ExecStart=/usr/sbin/tapstackd --config /etc/tapstack/tapstack.yaml\n" in unit, "unit under /usr")
        # The config goes through the install script: its target is the argument.
        check("/etc/tapstack/tapstack.yaml" in open(build + "/meson-private/install.dat", "rb").read().decode(
            "latin-1"), "--sysconfdir=/etc: the config is not installed to /etc/tapstack/tapstack.yaml")
        print("--prefix=/usr --sysconfdir=/etc: /usr/sbin/tapstackd, config /etc/tapstack/tapstack.yaml")
    finally:
        shutil.rmtree(build, ignore_errors=True)


if __name__ == "__main__":
    check_installed_tree()
    check_distribution_paths()
