#!/usr/bin/python3
"""What systemd does for a socket unit, by hand: bind and listen on a Unix
stream socket, put it at descriptor 3, set LISTEN_FDS=1 and LISTEN_PID to
this process (which the exec keeps), and exec the daemon.

    listen_fds_exec.py [--mode OCTAL] [--not-listening] PATH COMMAND...

--not-listening passes a bound socket that is not listening (an error the
daemon must refuse clearly)."""
import os
import socket
import sys


def main(argv):
    mode = 0o660
    listening = True
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--mode":
            mode = int(argv.pop(0), 8)
        elif opt == "--not-listening":
            listening = False
        else:
            sys.exit(f"listen_fds_exec.py: unknown option {opt}")
    path, command = argv[0], argv[1:]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, mode)
    if listening:
        s.listen(128)
    if s.fileno() != 3:
        os.dup2(s.fileno(), 3)
        s.close()
    os.set_inheritable(3, True)
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDNAMES"] = "tapstackd.socket"
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
