#!/usr/bin/python3
"""tapstackd --check-config on broken configs prints the exact errors.

Usage: check_bad_configs.py TAPSTACKD BAD_DIR GOOD_CONFIG

Every BAD_DIR/*.yaml starts with one or more "# expect: MESSAGE" lines; the
daemon, run in BAD_DIR as `tapstackd --check-config --config NAME.yaml`,
must print exactly those lines on stderr, nothing on stdout, and exit 1.
Also: the good config prints "PATH: ok" and exits 0; a missing file and an
unknown flag fail with their one-line messages.
"""
import glob
import os
import subprocess
import sys


def run(tapstackd, args, cwd=None):
    return subprocess.run([tapstackd, *args], cwd=cwd, capture_output=True, text=True, timeout=10)


def main():
    tapstackd, bad_dir, good = (os.path.abspath(p) for p in sys.argv[1:4])
    failures = []

    def check(name, cond, detail):
        print(f"{'ok  ' if cond else 'FAIL'} {name}")
        if not cond:
            failures.append(name)
            print(detail)

    files = sorted(glob.glob(os.path.join(bad_dir, "*.yaml")))
    check("bad configs exist", len(files) >= 10, f"only {len(files)} files in {bad_dir}")
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            expected = [line[len("# expect: "):].rstrip("\n") for line in f if line.startswith("# expect: ")]
        r = run(tapstackd, ["--check-config", "--config", name], cwd=bad_dir)
        got = r.stderr.splitlines()
        check(name, r.returncode == 1 and got == expected and r.stdout == "",
              f"  exit {r.returncode}\n  expected stderr: {expected}\n  got stderr:      {got}\n  stdout: {r.stdout!r}")

    r = run(tapstackd, ["--check-config", "--config", good])
    check("good config", r.returncode == 0 and r.stdout == f"{good}: ok\n" and r.stderr == "",
          f"  exit {r.returncode}\n  stdout {r.stdout!r}\n  stderr {r.stderr!r}")

    r = run(tapstackd, ["--check-config", "--config", "/nonexistent/tapstack.yaml"])
    check("missing file", r.returncode == 1 and
          r.stderr == "/nonexistent/tapstack.yaml: cannot read: No such file or directory\n",
          f"  exit {r.returncode}\n  stderr {r.stderr!r}")

    r = run(tapstackd, ["--check-config", "--bogus"])
    check("unknown flag", r.returncode == 2 and
          r.stderr.startswith("tapstackd: unknown option \"--bogus\"\nusage: "),
          f"  exit {r.returncode}\n  stderr {r.stderr!r}")

    r = run(tapstackd, ["--version"])
    check("--version", r.returncode == 0 and r.stdout.startswith("tapstackd "), f"  {r!r}")

    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
