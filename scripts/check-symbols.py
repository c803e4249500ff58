#!/usr/bin/env python3
"""Fails when the engine library exports a symbol that is neither public
API (a dyce_* name declared in src/dyce.h) nor internal (dyce__*).

Usage: scripts/check-symbols.py LIBRARY.a [NM]
Run by ctest (CMakeLists.txt, test `symbols`) on every native build;
NM defaults to `nm`. Sanitizer and compiler-runtime symbols (names that
start with an underscore) are not the engine's and are skipped.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..'))


def public_api():
    with open(os.path.join(ROOT, 'src/dyce.h'), encoding='utf-8') as fh:
        text = fh.read()
    # Declarations: a dyce_ name followed by "(" (functions) or a
    # variable declaration; dyce.h declares only functions today.
    return set(re.findall(r'\b(dyce_[a-z0-9_]+)\s*\(', text))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    lib, nm = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else 'nm')
    out = subprocess.run([nm, '-g', '--defined-only', lib], check=True,
                         capture_output=True, text=True).stdout
    api = public_api()
    exported, bad = 0, []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) != 3:  # "file.o:" headers and blank lines
            continue
        name = fields[2]
        if name.startswith('_'):
            continue
        exported += 1
        if name.startswith('dyce__') or name in api:
            continue
        bad.append(name)
    for name in sorted(set(bad)):
        hint = ('a dyce_ name not declared in src/dyce.h'
                if name.startswith('dyce_') else 'needs the dyce__ prefix')
        print(f'{lib}: exports {name}: {hint}', file=sys.stderr)
    if bad:
        return 1
    if exported == 0:
        print(f'{lib}: no symbols read (is {nm} the right nm?)',
              file=sys.stderr)
        return 1
    print(f'check-symbols: {exported} symbols, each public API or dyce__')
    return 0


if __name__ == '__main__':
    sys.exit(main())
