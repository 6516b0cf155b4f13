"""Runs Debian's swift-bench 1.2.0 unchanged on Python 3.

The packaged launcher uses `xrange` and its SourceFile yields `str` chunks where
Python 3's http.client needs bytes. Both are patched here at run time; the installed
files are not touched. Usage: python3 swift-bench-py3.py [swift-bench options...]
"""
import builtins
import runpy
import sys

builtins.xrange = range

import swiftbench.bench as bench  # noqa: E402

_read = bench.SourceFile.read
_next = bench.SourceFile.next


def _read_bytes(self, desired_size):
    return _read(self, desired_size).encode('ascii')


def _next_bytes(self):
    return _next(self).encode('ascii')


bench.SourceFile.read = _read_bytes
bench.SourceFile.next = _next_bytes
bench.SourceFile.__next__ = _next_bytes

sys.argv = ['swift-bench'] + sys.argv[1:]
runpy.run_path('/usr/bin/swift-bench', run_name='__main__')
