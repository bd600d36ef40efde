"""Runs a command with its stdout on a pseudo-terminal, as a person's
terminal would be, and prints what it wrote with each carriage return shown
as <CR> at the end of a line (so that FileCheck can see the redraws).

  on_terminal.py COMMAND [ARGS...]

Exits with the command's status. stderr is passed through."""
import os
import pty
import subprocess
import sys

main, side = pty.openpty()
proc = subprocess.Popen(sys.argv[1:], stdout=side, stdin=subprocess.DEVNULL)
os.close(side)
out = bytearray()
while True:
    try:
        chunk = os.read(main, 65536)
    except OSError:  # EIO: the command closed its end
        break
    if not chunk:
        break
    out += chunk
os.close(main)
status = proc.wait()
# The terminal's line discipline turns "\n" into "\r\n"; undo that first.
text = out.decode("utf-8", "replace").replace("\r\n", "\n")
sys.stdout.write(text.replace("\r", "<CR>\n"))
sys.exit(status)
