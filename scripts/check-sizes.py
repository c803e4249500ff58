#!/usr/bin/env python3
"""Fails on a C or Python file over 500 lines, or a function over 80 lines
whose comment (C: the block just above it; Python: its docstring or the
comment lines above it) does not say why it is long (it must contain the
word "long", e.g. "Long because the loop shares ...").
scripts/check-sizes.mjs applies the same rule to JavaScript.

Reads src/, wasm/*.c, tests/c/ and tests/fuzz/ (C; a function's lines run
from the first line of its signature to its closing brace) and models/,
scripts/, spec/, tests/ (Python).
Usage: scripts/check-sizes.py [--list N]   (--list: every function over N)
"""
import ast
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..'))
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
FOLDERS = ['src', 'wasm', 'tests/c', 'tests/fuzz']
PY_FOLDERS = ['models', 'scripts', 'spec', 'tests']
SKIP = ('node_modules', os.path.join('wasm', 'dist'), '__pycache__', '.work')


def source_files(folders, suffixes):
    for folder in folders:
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            if any(part in base for part in SKIP):
                continue
            for f in sorted(files):
                if f.endswith(suffixes):
                    yield os.path.relpath(os.path.join(base, f), ROOT)


def python_functions(path):
    """(name, first line, last line, docstring + comment lines above) per
    function or method."""
    with open(os.path.join(ROOT, path), encoding='utf-8') as fh:
        text = fh.read()
    lines = text.split('\n')
    result = []
    for node in ast.walk(ast.parse(text, path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above, i = [], first - 2
            while i >= 0 and lines[i].lstrip().startswith('#'):
                above.append(lines[i])
                i -= 1
            result.append((node.name, first, node.end_lineno,
                           (ast.get_docstring(node) or '') + '\n'.join(above)))
    return result


def blank_out(text):
    """The text with comments, strings and character literals replaced by
    spaces (newlines kept), and the comments as (end line, text) pairs."""
    out, comments, i, n = [], [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            comments.append((text.count('\n', 0, j) + 1, text[i:j]))
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            comments.append((text.count('\n', 0, j) + 1, text[i:j]))
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            j += 1
        elif c == '#' and (i == 0 or text[i - 1] == '\n'):
            j = i  # a preprocessor line, with its continuations
            while True:
                j = text.find('\n', j)
                if j < 0 or text[j - 1] != '\\':
                    break
                j += 1
            j = n if j < 0 else j
        else:
            out.append(c)
            i += 1
            continue
        out.append(''.join(ch if ch == '\n' else ' ' for ch in text[i:j]))
        i = j
    return ''.join(out), comments


def functions(path):
    """(name, first line, last line, comment above or '') per function."""
    with open(os.path.join(ROOT, path), encoding='utf-8') as fh:
        text = fh.read()
    code, comments = blank_out(text)
    comment_ending = {end: body for end, body in comments}
    result, depth, start, head = [], 0, 0, ''
    line = 1
    for i, c in enumerate(code):
        if c == '\n':
            line += 1
        if depth == 0 and c in ';}':
            head, start = '', 0
            continue
        if c == '{':
            if depth == 0:
                sig = head.strip()
                m = re.search(r'(\w+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*$', sig)
                is_function = m and '=' not in sig and not sig.startswith(
                    ('struct', 'typedef', 'enum', 'union', 'extern "C"'))
                fn = (m.group(1) if m else '', start, bool(is_function))
            depth += 1
            continue
        if c == '}':
            depth -= 1
            if depth == 0 and fn[2]:
                result.append((fn[0], fn[1], line,
                               comment_ending.get(fn[1] - 1, '')))
            if depth == 0:
                head, start = '', 0
            continue
        if depth == 0:
            if not start and not c.isspace():
                start = line
            head += c
    return result


def main():
    listing = None
    if '--list' in sys.argv:
        listing = int(sys.argv[sys.argv.index('--list') + 1])
    problems = []
    files = [(p, functions) for p in source_files(FOLDERS, ('.c', '.h'))]
    files += [(p, python_functions) for p in source_files(PY_FOLDERS, ('.py',))]
    for path, functions_of in files:
        with open(os.path.join(ROOT, path), encoding='utf-8') as fh:
            lines = sum(1 for _ in fh)
        if lines > MAX_FILE_LINES:
            problems.append(f'{path}: {lines} lines (at most '
                            f'{MAX_FILE_LINES}); split it along a seam')
        for name, first, last, comment in functions_of(path):
            length = last - first + 1
            if listing is not None and length > listing:
                print(f'{path}:{first}: {name}: {length} lines')
            if (length > MAX_FUNCTION_LINES and
                    not re.search(r'\blong\b', comment, re.I)):
                problems.append(
                    f'{path}:{first}: {name} is {length} lines (at most '
                    f'{MAX_FUNCTION_LINES} without a comment above it saying '
                    'why it is long)')
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f'check-sizes: files <= {MAX_FILE_LINES} lines, functions <= '
          f'{MAX_FUNCTION_LINES} or explained')
    return 0


if __name__ == '__main__':
    sys.exit(main())
