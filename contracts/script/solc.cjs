#!/usr/bin/env node
// A native-looking `solc` for forge, backed by solc-js (npm `solc`): no native compiler can be
// installed here. forge asks for `--version`, then runs `--standard-json` with the input on stdin.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version().replace('.Emscripten.clang', '')}.Linux.g++\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc.cjs: only --version and --standard-json are supported\n');
  process.exit(2);
}

// Imports resolve under --base-path, --include-path and --allow-paths, as native solc does.
const roots = [];
for (let i = 0; i < args.length; i++) {
  if (['--base-path', '--include-path'].includes(args[i])) roots.push(args[++i]);
  else if (args[i] === '--allow-paths') roots.push(...args[++i].split(','));
}
if (roots.length === 0) roots.push(process.cwd());

function findImports(p) {
  for (const root of [...roots, '']) {
    const full = path.resolve(root, p);
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, 'utf8') };
  }
  return { error: `file not found: ${p}` };
}

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
