/**
 * The tag of a container image the deploy builds: a hash of exactly what its Dockerfile reads from the
 * build context (the sources of its `COPY` lines without `--from`, files and whole folders), plus the
 * Dockerfile, its Cloud Build config and .dockerignore. A change elsewhere (the dashboard's page, the
 * schedule) leaves the tag, so the always-on holder is not rebuilt and restarted for it; a change to
 * anything the image is built from gives a new tag, so a stale image is never kept.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The build-context sources of a Dockerfile's `COPY` lines (not `COPY --from=stage`). */
export function copySources(dockerfile: string): string[] {
  const out: string[] = [];
  // one instruction per logical line: a trailing backslash continues it on the next
  for (const raw of dockerfile.replace(/\\\r?\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!/^COPY\s/i.test(line)) continue;
    const args = line.split(/\s+/).slice(1).filter((a) => !a.startsWith('--chown') && !a.startsWith('--chmod'));
    if (args.some((a) => a.startsWith('--from'))) continue;
    out.push(...args.slice(0, -1).map((a) => a.replace(/^\.\//, '').replace(/\/$/, '')));
  }
  return [...new Set(out)];
}

function filesUnder(root: string, rel: string): string[] {
  const p = join(root, rel);
  if (!existsSync(p)) throw new Error(`the Dockerfile copies ${rel}, which does not exist`);
  if (!statSync(p).isDirectory()) return [rel];
  return readdirSync(p)
    .filter((n) => n !== 'node_modules')
    .flatMap((n) => filesUnder(root, relative(root, join(p, n))));
}

/** `prefix` + 20 hex of the hash of the Dockerfile's inputs (paths and bytes, in path order). */
export function imageTag(root: string, o: { dockerfile: string; cloudbuild: string; prefix: string }): string {
  const files = [...new Set([o.dockerfile, o.cloudbuild, '.dockerignore', ...copySources(readFileSync(join(root, o.dockerfile), 'utf8')).flatMap((s) => filesUnder(root, s))])]
    .filter((f) => existsSync(join(root, f)))
    .sort();
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\0').update(readFileSync(join(root, f))).update('\0');
  return `${o.prefix}${h.digest('hex').slice(0, 20)}`;
}
