/** The TypeScript files below a folder, for the tests that read the source tree (architecture, state paths). */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFilesUnder(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}
