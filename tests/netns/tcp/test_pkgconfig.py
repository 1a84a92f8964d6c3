"""A C program built against the installed libtapstack streams through a
running daemon, byte-exact.

As a user of the library would: `meson install --destdir D`, then
`cc prog.c $(pkg-config --cflags --libs tapstack)` with PKG_CONFIG_PATH and
PKG_CONFIG_SYSROOT_DIR pointing into D, run with LD_LIBRARY_PATH=D/libdir
(ldd must resolve libtapstack.so.0 there). The program asks HELLO, connects
to a server on the host side of the TAP with tapstack_connect(), sends 1 MiB
and half-closes, reads the server's answer to EOF, and asks tapstack_status()
how the stream ended; the test checks every byte both ways.

Environment: MESON (the meson program), MESON_BUILD_ROOT (the build under
test), TAPSTACKD.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import harness
import tcp_util

PROGRAM = r"""
#include <tapstack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *socket_path = argv[1];
    const char *address = argv[2];
    uint16_t port = (uint16_t)atoi(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    struct tapstack_error error;
    struct tapstack_stream stream;
    enum tapstack_outcome outcome;
    char features[256];
    char buf[65536];
    size_t i, sent = 0;
    int version = tapstack_hello(socket_path, features, sizeof features, &error);
    if (version < 1) {
        fprintf(stderr, "hello: %s\n", error.message);
        return 2;
    }
    fprintf(stderr, "hello: version %d features %s library %s\n", version, features, tapstack_version());
    int fd = tapstack_connect(socket_path, address, port, NULL, &stream, &error);
    if (fd < 0) {
        fprintf(stderr, "connect: %s (%s)\n", error.message, tapstack_code_name(error.code));
        return 3;
    }
    fprintf(stderr, "stream %llu %s -> %s\n", (unsigned long long)stream.id, stream.local, stream.remote);
    while (sent < size) {
        size_t n = size - sent < sizeof buf ? size - sent : sizeof buf;
        for (i = 0; i < n; ++i) buf[i] = (char)((sent + i) * 7 % 251);
        ssize_t w = write(fd, buf, n);
        if (w <= 0) return 4;
        sent += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) return 5;
        if (n == 0) break;
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) return 6;
    }
    close(fd);
    if (tapstack_status(socket_path, stream.id, &outcome, &error) != 0) return 7;
    fprintf(stderr, "outcome %d\n", (int)outcome);
    return outcome == TAPSTACK_OUTCOME_ORDERLY || outcome == TAPSTACK_OUTCOME_OPEN ? 0 : 8;
}
"""

SERVER = r'''
import hashlib, socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(1)
print("ready", flush=True)
c, _ = srv.accept()
c.settimeout(60)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
reply = (f"{n} {h.hexdigest()}\n".encode()) + bytes((i * 13) % 256 for i in range(300001))
c.sendall(reply)
c.close()
'''


def test_a_c_program_built_with_pkg_config_streams_through_the_daemon():
    meson = os.environ["MESON"]
    build = os.environ["MESON_BUILD_ROOT"]
    opts = {o["name"]: o["value"] for o in json.loads(subprocess.run(
        [meson, "introspect", build, "--buildoptions"], check=True, capture_output=True, text=True).stdout)}
    dest = tempfile.mkdtemp(prefix="tapstack-pkgconfig-")
    try:
        subprocess.run([meson, "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"],
                       check=True, capture_output=True)
        libdir = dest + os.path.join(opts["prefix"], opts["libdir"])
        env = dict(os.environ, PKG_CONFIG_PATH=libdir + "/pkgconfig", PKG_CONFIG_SYSROOT_DIR=dest)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "tapstack"], env=env, check=True,
                               capture_output=True, text=True).stdout.split()
        source = os.path.join(dest, "prog.c")
        program = os.path.join(dest, "prog")
        with open(source, "w") as f:
            f.write(PROGRAM)
        cc = subprocess.run(["cc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Werror", source, "-o",
                             program, *flags], capture_output=True, text=True)
        assert cc.returncode == 0, f"cc {flags}: {cc.stderr}"
        run_env = {"LD_LIBRARY_PATH": libdir}
        ldd = subprocess.run(["ldd", program], env=dict(os.environ, **run_env), capture_output=True, text=True)
        assert f"libtapstack.so.0 => {libdir}/libtapstack.so.0" in ldd.stdout, ldd.stdout

        with tcp_util.ApiDaemon() as d:
            server = tcp_util.popen_python(d, SERVER, d.host_address, 7100)
            assert server.stdout.readline().strip() == b"ready"
            size = 1 << 20
            r = d.run(["env", f"LD_LIBRARY_PATH={libdir}", program, d.socket_path, d.host_address, "7100", str(size)],
                      check=False, timeout=120)
            err = r.stderr.decode(errors="replace")
            assert r.returncode == 0, f"prog exited {r.returncode}: {err}"
            assert "features connect,listen,accept,status,info,connections,stats,daemon,capture,prometheus,hello,socks" in err, err
            sent = bytes((i * 7) % 251 for i in range(size))
            head, _, body = r.stdout.partition(b"\n")
            assert head.decode() == f"{size} {hashlib.sha256(sent).hexdigest()}", head
            assert body == bytes((i * 13) % 256 for i in range(300001)), len(body)
            server.wait(timeout=10)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    harness.run_tests([test_a_c_program_built_with_pkg_config_streams_through_the_daemon])
