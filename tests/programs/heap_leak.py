"""A program that leaks through leakyapp.cache and dumps its whole heap
twice: after a warm-up, then after many more requests.

    python heap_leak.py BEFORE.dump AFTER.dump [N]
"""

import sys

from leakyapp import cache

import heapdump

USER = "alice"


def serve(first, count):
    for i in range(first, first + count):
        cache.remember(i, USER)


def main():
    before, after = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 60000
    serve(0, 500)
    heapdump.dump(before, scope="heap")
    serve(500, n)
    heapdump.dump(after, scope="heap")


if __name__ == "__main__":
    main()
