#!/usr/bin/env python3
"""Fails when a C file in src/ includes a header from a layer above its own.

The engine's layers (docs/ARCHITECTURE.md), each a folder of src/; an
arrow means "may include", and the arrows are followed transitively:

    core      src/core/, src/dyce.h (public API), src/format.h (file format)
    kernels   -> core
    ops       -> kernels
    model     -> ops
    runtime   -> model
    cascade   -> runtime
    records   -> core
    search    -> cascade, records
    codec     -> core
    cli       -> search, codec
    binding   wasm/*.c, wasm/*.h -> core (the public header only)

A header named in PRIVATE may only be included from its own folder.
Only quoted includes (#include "...") are read; <system> headers are free.
Usage: scripts/check-layers.py [--print]   (--print: the table, then check)
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..'))

LAYERS = {
    'core': [],
    'kernels': ['core'],
    'ops': ['kernels'],
    'model': ['ops'],
    'runtime': ['model'],
    'cascade': ['runtime'],
    'records': ['core'],
    'search': ['cascade', 'records'],
    'codec': ['core'],
    'cli': ['search', 'codec'],
    'binding': ['core'],
}

# Headers whose contents are one folder's business.
PRIVATE = {
    'src/runtime/session_state.h',  # the session's fields: runtime only
    'src/model/loader.h',           # the loader's working state
}


def layer_of(path):
    """Layer of a repository-relative path, or None outside the engine."""
    if path.startswith('wasm/') and path.endswith(('.c', '.h')):
        return 'binding'  # binding.c and its own headers
    parts = path.split('/')
    if parts[0] != 'src':
        return None
    if len(parts) == 2:  # src/dyce.h, src/format.h
        return 'core'
    return parts[1]


def reachable(layer):
    seen, todo = {layer}, [layer]
    while todo:
        for dep in LAYERS[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def sources():
    for base, _, files in os.walk(os.path.join(ROOT, 'src')):
        for f in sorted(files):
            if f.endswith(('.c', '.h')):
                yield os.path.relpath(os.path.join(base, f), ROOT)
    for f in sorted(os.listdir(os.path.join(ROOT, 'wasm'))):
        if f.endswith(('.c', '.h')):
            yield os.path.join('wasm', f)


def main():
    if '--print' in sys.argv:
        for layer, deps in LAYERS.items():
            print(f'{layer:8} -> {", ".join(deps) or "-"}')
    include = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
    problems = []
    for src in sources():
        layer = layer_of(src)
        if layer not in LAYERS:
            problems.append(f'{src}: folder is in no layer (add it to '
                            'LAYERS in scripts/check-layers.py)')
            continue
        allowed = reachable(layer)
        with open(os.path.join(ROOT, src), encoding='utf-8') as fh:
            for number, line in enumerate(fh, 1):
                m = include.match(line)
                if not m:
                    continue
                target = os.path.normpath(
                    os.path.join(os.path.dirname(src), m.group(1)))
                if not os.path.exists(os.path.join(ROOT, target)):
                    target = os.path.normpath(os.path.join('src', m.group(1)))
                where = f'{src}:{number}: includes {m.group(1)}'
                to = layer_of(target)
                if to is None or to not in LAYERS:
                    problems.append(f'{where}, outside the engine\'s layers')
                elif to not in allowed:
                    problems.append(f'{where}: {layer} may not depend on {to} '
                                    f'(it may use {", ".join(sorted(allowed))})')
                elif (target in PRIVATE and
                      os.path.dirname(target) != os.path.dirname(src)):
                    problems.append(f'{where}, private to '
                                    f'{os.path.dirname(target)}/')
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f'check-layers: {len(problems)} include(s) against the layers',
              file=sys.stderr)
        return 1
    print('check-layers: every include points down a layer')
    return 0


if __name__ == '__main__':
    sys.exit(main())
