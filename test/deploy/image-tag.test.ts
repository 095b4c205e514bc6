/**
 * The holder's image tag follows exactly what its Dockerfile copies: the dashboard's page or the
 * schedule changing does not rebuild (and restart) the always-on holder; a source file, the holder's
 * own tsconfig or .dockerignore changing does.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copySources, imageTag } from '../../infra/deploy/image-tag.js';
import { REPO_ROOT } from '../kit.js';

const O = { dockerfile: 'functions/bybit-holder/Dockerfile', cloudbuild: 'functions/bybit-holder/cloudbuild.yaml', prefix: 'h-' };
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cst-image-tag-'));
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', '.dockerignore', 'scheduler.yaml', 'scripts/no-re2', 'shared', 'infra', 'functions', 'assets/fonts', 'web/dashboard']) {
    cpSync(join(REPO_ROOT, p), join(root, p), { recursive: true });
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the holder image tag', () => {
  it('reads the build-context sources of the COPY lines, not the stage copies', () => {
    const src = copySources('COPY package.json package-lock.json ./\nCOPY --from=deps /app/node_modules ./node_modules\nCOPY shared ./shared\ncopy ./assets/fonts/ ./assets/fonts');
    expect(src).toEqual(['package.json', 'package-lock.json', 'shared', 'assets/fonts']);
    expect(copySources('COPY shared \\\n     infra ./src/')).toEqual(['shared', 'infra']);
  });

  it('changes with what the image is built from, and only with that', () => {
    const t0 = imageTag(root, O);
    expect(t0).toMatch(/^h-[0-9a-f]{20}$/);
    expect(imageTag(root, O)).toBe(t0);
    appendFileSync(join(root, 'web/dashboard/style.css'), '\n/* not in the image */\n');
    appendFileSync(join(root, 'scheduler.yaml'), '\n# not in the image\n');
    expect(imageTag(root, O)).toBe(t0);
    appendFileSync(join(root, 'functions/bybit-holder/tsconfig.build.json'), '\n');
    const t1 = imageTag(root, O);
    expect(t1).not.toBe(t0);
    appendFileSync(join(root, 'shared/log.ts'), '\n// changed\n');
    const t2 = imageTag(root, O);
    expect(t2).not.toBe(t1);
    writeFileSync(join(root, '.dockerignore'), 'node_modules\n');
    expect(imageTag(root, O)).not.toBe(t2);
  });
});
