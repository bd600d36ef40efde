#!/usr/bin/python3
"""compare.py DIR: run.sh's checks of one model's runs in DIR: the trained
weights that DIR/host/out.txt and DIR/device/out.txt print (each float's
bits in hex, on lines "w XXXXXXXX") agree within 1e-4 of the largest, the
classes they print (lines "c N") are the same, and the RAM block of
DIR/device/run.elf (its symbol `memory`) is the size that DIR/memory.txt
(sorac --emit=memory) states."""
import re
import struct
import subprocess
import sys


def weights(path):
    return [struct.unpack("<f", struct.pack("<I", int(line.split()[1], 16)))[0]
            for line in open(path) if line.startswith("w ")]


def classes(path):
    return [line for line in open(path) if line.startswith("c ")]


def main():
    d = sys.argv[1]
    host, device = classes(f"{d}/host/out.txt"), classes(f"{d}/device/out.txt")
    if host or device:
        print(f"classes: {sum(a == b for a, b in zip(host, device))} of "
              f"{len(host)} the same")
    if host != device:
        sys.exit("FAIL: the device's classes differ from the host's")
    host, device = weights(f"{d}/host/out.txt"), weights(f"{d}/device/out.txt")
    if len(host) != len(device):
        sys.exit("FAIL: the runs printed different weights")
    if host:
        compare_weights(host, device)
    said = int(re.search(r"RAM[^:]*: (\d+) bytes",
                         open(f"{d}/memory.txt").read()).group(1))
    nm = subprocess.run(["arm-none-eabi-nm", "-S", f"{d}/device/run.elf"],
                        capture_output=True, text=True, check=True).stdout
    size = next(int(line.split()[1], 16) for line in nm.splitlines()
                if line.endswith(" memory"))
    print(f"RAM block: {size} bytes in the program, {said} printed by sorac")
    if size != said:
        sys.exit("FAIL: the block is not the size sorac printed")


def compare_weights(host, device):
    largest = max(abs(w) for w in host)
    worst = max(abs(a - b) for a, b in zip(host, device))
    same = sum(a == b for a, b in zip(host, device))
    print(f"weights: {len(host)} floats, {same} identical; largest difference "
          f"{worst:.3g} ({worst / largest:.3g} of the largest weight)")
    if worst > 1e-4 * largest:
        sys.exit("FAIL: the device's weights differ from the host's")


if __name__ == "__main__":
    main()
