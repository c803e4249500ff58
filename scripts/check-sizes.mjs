#!/usr/bin/env node
// scripts/check-sizes.py's rule for JavaScript: fails on a .mjs / .js file
// over 500 lines, or a function over 80 lines whose comment (the comment
// lines just above the statement that holds it) does not say why it is
// long (the word "long"). A callback passed straight to describe() is a
// list of tests, not logic, and is not counted. Parsed with acorn.
// Reads wasm/ (not dist/), web/, scripts/ and tests/.
//   node scripts/check-sizes.mjs [--list N]   (--list: every function over N)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as acorn from 'acorn';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['wasm', 'web', 'scripts', 'tests'];
const SKIP = new Set(['node_modules', 'dist', 'build']);
const MAX_FILE_LINES = 500, MAX_FUNCTION_LINES = 80;
const args = process.argv.slice(2);
const listing = args.includes('--list') ? Number(args[args.indexOf('--list') + 1]) : null;

function* files(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP.has(entry.name)) yield* files(full);
    } else if (/\.(mjs|js)$/.test(entry.name)) yield full;
  }
}

/** Every function node with the line its explaining comment must end on. */
function functions(ast) {
  const found = [];
  const visit = (node, anchor, exempt) => {
    if (!node || typeof node.type !== 'string') return;
    // The statement (or property, or class member) a function belongs to is
    // where a reader looks for the comment.
    if (/Statement$|Declaration$|^Property$|^MethodDefinition$|^PropertyDefinition$/.test(node.type)) anchor = node;
    if (/Function/.test(node.type) && !exempt) found.push({ node, anchor });
    const describeBody = node.type === 'CallExpression' && node.callee.type === 'Identifier' && node.callee.name === 'describe';
    for (const key of Object.keys(node)) {
      const value = node[key];
      const children = Array.isArray(value) ? value : [value];
      for (const child of children)
        if (child && typeof child.type === 'string') visit(child, anchor, describeBody && key === 'arguments');
    }
  };
  visit(ast, ast, false);
  return found;
}

const problems = [];
for (const folder of FOLDERS) {
  for (const file of files(path.join(ROOT, folder))) {
    const rel = path.relative(ROOT, file), text = fs.readFileSync(file, 'utf8');
    const lineCount = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lineCount > MAX_FILE_LINES) problems.push(`${rel}: ${lineCount} lines (at most ${MAX_FILE_LINES}); split it along a seam`);
    const comments = [];
    const ast = acorn.parse(text, { ecmaVersion: 'latest', sourceType: 'module', locations: true, allowHashBang: true, onComment: comments });
    const commentEnding = new Map();
    for (const c of comments) commentEnding.set(c.loc.end.line, c);
    const above = (line) => {
      const texts = [];
      for (let l = line - 1; commentEnding.has(l); l = commentEnding.get(l).loc.start.line - 1) texts.push(commentEnding.get(l).value);
      return texts.join('\n');
    };
    for (const { node, anchor } of functions(ast)) {
      const length = node.loc.end.line - node.loc.start.line + 1;
      const name = node.id?.name ?? anchor.key?.name ?? anchor.id?.name ?? anchor.declarations?.[0]?.id?.name ?? '(anonymous)';
      if (listing !== null && length > listing) console.log(`${rel}:${node.loc.start.line}: ${name}: ${length} lines`);
      // The comment may sit above the statement or open the function's body.
      const inside = comments.filter((c) => c.start > node.start && c.start < node.start + 400 && c.loc.start.line <= node.loc.start.line + 1);
      if (length > MAX_FUNCTION_LINES && !/\blong\b/i.test(above(anchor.loc.start.line) + inside.map((c) => c.value).join('\n')))
        problems.push(`${rel}:${node.loc.start.line}: ${name} is ${length} lines (at most ${MAX_FUNCTION_LINES} without a comment saying why it is long)`);
    }
  }
}
for (const p of problems) console.error(p);
if (problems.length) process.exit(1);
console.log(`check-sizes (JS): files <= ${MAX_FILE_LINES} lines, functions <= ${MAX_FUNCTION_LINES} or explained`);
