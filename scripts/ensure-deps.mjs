#!/usr/bin/env node
// Runs before `npm start` / `npm test`: on a fresh clone (no node_modules, or a dependency missing)
// it installs exactly what package-lock.json pins, so the README's two commands work as typed.
// Plain JavaScript with no dependencies, on purpose.
import { existsSync, readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const wanted = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];
const missing = wanted.filter((name) => !existsSync(join(root, 'node_modules', name, 'package.json')));

if (missing.length > 0) {
  console.log(`Installing dependencies (missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`);
  console.log('This happens once and takes a few minutes: ~470 MB of packages, and where GitHub is unreachable');
  console.log('the native addons better-sqlite3 and tulind compile from source (README: First install).');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
