/**
 * The container images (functions/bybit-holder, functions/backtest-shard): their Dockerfiles linted
 * stage by stage, their Cloud Build configs checked against a manual `gcloud builds submit` (no
 * $COMMIT_SHA), and the holder's production install RUN for real: the deps stage's own commands
 * (read from the Dockerfile) in a clean folder holding only what the Dockerfile copied before them.
 * When a Docker engine answers (`docker info`), the holder image is also built and its modules loaded.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { RUNTIME } from '../../scripts/deploy.js';
import { satisfies } from '../../infra/security/lockfile-audit.js';
import {
  ancestry,
  baseImage,
  dockerIgnores,
  execForm,
  gcloudIgnores,
  parseCopy,
  parseDockerfile,
  parseEnv,
  stageByName,
  type Stage,
} from './artefacts-dockerfile.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const DOCKERIGNORE = read('.dockerignore');
const GCLOUDIGNORE = read('.gcloudignore');
const RUNTIME_MAJOR = Number(/^nodejs(\d+)$/.exec(RUNTIME)?.[1]);

interface Image {
  name: string;
  dockerfile: string;
  entry: string;
  healthz: boolean;
}
const IMAGES: Image[] = [
  { name: 'bybit-holder', dockerfile: 'functions/bybit-holder/Dockerfile', entry: 'functions/bybit-holder/server.ts', healthz: true },
  { name: 'backtest-shard', dockerfile: 'functions/backtest-shard/Dockerfile', entry: 'functions/backtest-shard/job.ts', healthz: false },
];

const TOOLCHAIN = ['python3', 'make', 'g++'];
const runs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
const installsToolchain = (s: Stage) => runs(s).some((r) => /apt-get\s+install/.test(r) && TOOLCHAIN.every((t) => new RegExp(`(^|\\s)${t.replace('+', '\\+')}(\\s|$)`).test(r)));
const npmCi = (s: Stage) => runs(s).filter((r) => /\bnpm\s+ci\b/.test(r));
const nodeMajor = (image: string) => Number(/^node:(\d+)(?:[.-]|$)/.exec(image)?.[1] ?? NaN);
/** Whether a range of engines.node admits the latest release line of `major` (its .99 minor stands for it). */
const admitsMajor = (range: string, major: number) => satisfies(`${major}.99.0`, range);

/** The stage whose /app/node_modules the runtime stage copies. */
function depsStage(stages: Stage[], runtime: Stage): Stage {
  const copy = runtime.instructions.filter((i) => i.op === 'COPY').map(parseCopy).find((c) => c.from && c.sources.some((s) => /node_modules\/?$/.test(s)));
  if (!copy?.from) throw new Error('the runtime stage copies no node_modules from another stage');
  const s = stageByName(stages, copy.from);
  if (!s) throw new Error(`no stage '${copy.from}'`);
  return s;
}

/** Lockfile entries linked to a folder of the repository (`"link": true`): `npm ci` needs them present. */
function linkedFolders(): string[] {
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { link?: boolean; resolved?: string }> };
  return Object.values(lock.packages).filter((p) => p.link && p.resolved).map((p) => p.resolved as string);
}

describe.each(IMAGES)('$name Dockerfile', (img) => {
  const stages = parseDockerfile(read(img.dockerfile));
  const runtime = stages.at(-1) as Stage;

  it('is multi-stage; every registry image is node at the deploy RUNTIME major', () => {
    expect(stages.length).toBeGreaterThan(2);
    const images = stages.filter((s) => !stageByName(stages.slice(0, s.index), s.from)).map((s) => s.from);
    expect(images.length).toBeGreaterThan(0);
    for (const i of images) expect(nodeMajor(i), i).toBe(RUNTIME_MAJOR);
  });

  it('every stage that runs npm ci has python3, make and g++ (native addons build from source without a prebuilt) and the linked folders of the lockfile', () => {
    const installing = stages.filter((s) => npmCi(s).length > 0);
    expect(installing.length).toBeGreaterThan(0);
    for (const s of installing) {
      const chain = ancestry(stages, s);
      expect(chain.some(installsToolchain), `stage ${s.name}`).toBe(true);
      const copied = chain.flatMap((c) => c.instructions.filter((i) => i.op === 'COPY').map(parseCopy).filter((c) => !c.from).flatMap((c) => c.sources));
      for (const f of ['package.json', 'package-lock.json', ...linkedFolders()]) expect(copied, `stage ${s.name} copies ${f}`).toContain(f);
    }
  });

  it('the runtime stage carries production dependencies only and no compiler', () => {
    expect(ancestry(stages, runtime).some(installsToolchain)).toBe(false);
    for (const r of npmCi(runtime)) expect(r).toMatch(/--omit=dev/);
    const deps = depsStage(stages, runtime);
    expect(npmCi(deps).length).toBeGreaterThan(0);
    for (const r of npmCi(deps)) expect(r).toMatch(/--omit=dev/);
    // Native addons compiled in the deps stage must match the runtime's libc and Node ABI.
    expect(baseImage(stages, deps)).toBe(baseImage(stages, runtime));
    const env = Object.assign({}, ...runtime.instructions.filter((i) => i.op === 'ENV').map(parseEnv)) as Record<string, string>;
    expect(env.NODE_ENV).toBe('production');
  });

  it('runs as a non-root user', () => {
    const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
  });

  it('starts node with source maps on an entry the build stage compiles', () => {
    const cmd = execForm(runtime.instructions.filter((i) => i.op === 'CMD').at(-1)?.args ?? '');
    expect(cmd.slice(0, 2)).toEqual(['node', '--enable-source-maps']);
    const entry = cmd[2] as string;
    expect(entry).toBe(`dist/${img.entry.replace(/\.ts$/, '.js')}`);
    // The build stage compiles the entry's tsconfig, which lists the entry.
    const compile = stages.flatMap(runs).find((r) => /tsc\s+-p\s+\S+/.test(r)) as string;
    const tsconfig = /tsc\s+-p\s+(\S+)/.exec(compile)?.[1] as string;
    const files = (JSON.parse(read(tsconfig)) as { files: string[] }).files.map((f) => posix.join(posix.dirname(tsconfig), f));
    expect(files).toContain(img.entry);
    expect(existsSync(join(ROOT, img.entry))).toBe(true);
  });

  it(img.healthz ? 'has a HEALTHCHECK on /healthz at PORT, probed with node (no curl in a slim image)' : 'has no HEALTHCHECK (a job serves no HTTP)', () => {
    const hc = runtime.instructions.find((i) => i.op === 'HEALTHCHECK')?.args;
    if (!img.healthz) {
      expect(hc).toBeUndefined();
      return;
    }
    const argv = execForm((hc ?? '').slice((hc ?? '').indexOf('CMD')));
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).toMatch(/\/healthz/);
    expect(argv.join(' ')).toMatch(/process\.env\.PORT/);
    // The holder serves /healthz on PORT (infra/bybit/holder-service.ts).
    expect(read('infra/bybit/holder-service.ts')).toMatch(/HEALTH_PATH = '\/healthz'/);
    expect(read('infra/bybit/holder-service.ts')).toMatch(/process\.env\.PORT/);
  });

  it('every COPY source exists and is in the build context (.dockerignore) and the upload (.gcloudignore)', () => {
    const sources = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'COPY').map(parseCopy).filter((c) => !c.from).flatMap((c) => c.sources));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const p = src.replace(/^\.\//, '').replace(/\/$/, '');
      expect(existsSync(join(ROOT, p)), p).toBe(true);
      expect(dockerIgnores(DOCKERIGNORE, p), `${p} excluded by .dockerignore`).toBe(false);
      expect(gcloudIgnores(GCLOUDIGNORE, p), `${p} excluded by .gcloudignore`).toBe(false);
    }
  });
});

describe('build context ignore files', () => {
  it('.dockerignore and .gcloudignore keep out installed modules, git, local data, build output, tests and secrets', () => {
    for (const p of ['node_modules/x', 'infra/node_modules/y', '.git/HEAD', '.data/warehouse.duckdb', 'dist/functions/index.js', 'test/kit.ts', 'bench/run.ts', '.env', '.env.local', '.deploy/functions/package.json', 'sa-key.json', 'keys/deploy.pem', 'infra/x-key.json']) {
      expect(dockerIgnores(DOCKERIGNORE, p), `.dockerignore ${p}`).toBe(true);
      expect(gcloudIgnores(GCLOUDIGNORE, p), `.gcloudignore ${p}`).toBe(true);
    }
    for (const p of ['shared/log.ts', 'functions/bybit-holder/server.ts', 'scripts/no-re2/index.js', 'assets/fonts/fonts.conf', 'package-lock.json']) {
      expect(dockerIgnores(DOCKERIGNORE, p), p).toBe(false);
      expect(gcloudIgnores(GCLOUDIGNORE, p), p).toBe(false);
    }
  });

  it('the matchers follow Docker and gitignore rules', () => {
    expect(dockerIgnores('**/node_modules\n', 'a/b/node_modules/c')).toBe(true);
    expect(dockerIgnores('**/node_modules\n', 'a/my_node_modules')).toBe(false);
    expect(dockerIgnores('test\n', 'functions/test')).toBe(false);
    expect(dockerIgnores('*.log\n!keep.log\n', 'keep.log')).toBe(false);
    expect(gcloudIgnores('test/\n', 'functions/test/x.ts')).toBe(true);
    expect(gcloudIgnores('/test/\n', 'functions/test/x.ts')).toBe(false);
  });
});

describe.each(IMAGES)('$name cloudbuild.yaml', (img) => {
  const file = `functions/${img.name}/cloudbuild.yaml`;
  const config = parseYaml(read(file)) as {
    steps: { name: string; args: string[] }[];
    images: string[];
    substitutions?: Record<string, string>;
    options?: { dynamicSubstitutions?: boolean };
  };

  /** Cloud Build's substitution as a manual `gcloud builds submit` does it: no COMMIT_SHA / SHORT_SHA. */
  function expand(text: string, given: Record<string, string>): string {
    const builtins: Record<string, string> = { PROJECT_ID: 'p1', BUILD_ID: 'b7c1e0f2-1111-2222-3333-444455556666', COMMIT_SHA: '', SHORT_SHA: '', REVISION_ID: '' };
    const user = { ...(config.substitutions ?? {}), ...given };
    const sub = (s: string, vars: Record<string, string>) => s.replace(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (_, k: string) => vars[k] ?? (k.startsWith('_') ? `<undefined ${k}>` : ''));
    // Dynamic substitutions: a user value may name a built-in (expanded first).
    const resolved = Object.fromEntries(Object.entries(user).map(([k, v]) => [k, config.options?.dynamicSubstitutions ? sub(v, builtins) : v]));
    return sub(text, { ...builtins, ...resolved });
  }
  const IMAGE = `europe-west1-docker.pkg.dev/p1/cst/${img.name}`;
  const TAG_RE = /^[\w][\w.-]{0,127}$/;

  it('builds its Dockerfile and pushes ${_IMAGE}:${_TAG}, never a commit substitution', () => {
    const step = config.steps.find((s) => s.name === 'gcr.io/cloud-builders/docker');
    expect(step?.args.slice(0, 3)).toEqual(['build', '-f', img.dockerfile]);
    expect(step?.args).toContain('${_IMAGE}:${_TAG}');
    expect(step?.args.at(-1)).toBe('.');
    expect(config.images).toEqual(['${_IMAGE}:${_TAG}']);
    const code = read(file).replace(/#.*$/gm, '');
    expect(code).not.toMatch(/COMMIT_SHA|SHORT_SHA|REVISION_ID/);
    expect(existsSync(join(ROOT, img.dockerfile))).toBe(true);
  });

  it('a manual build without _TAG still gets a valid, unique tag (the seed\'s empty $COMMIT_SHA failure)', () => {
    expect(config.substitutions?._TAG).toMatch(/\$\{?BUILD_ID\}?/);
    // A default naming another variable needs dynamic substitutions, off by default for manual builds.
    expect(config.options?.dynamicSubstitutions).toBe(true);
    const pushed = expand(config.images[0] as string, { _IMAGE: IMAGE });
    expect(pushed).toBe(`${IMAGE}:manual-b7c1e0f2-1111-2222-3333-444455556666`);
    expect(pushed.slice(IMAGE.length + 1)).toMatch(TAG_RE);
  });

  it('the deploy\'s _TAG wins over the default', () => {
    expect(expand(config.images[0] as string, { _IMAGE: IMAGE, _TAG: 'src-0123abcd' })).toBe(`${IMAGE}:src-0123abcd`);
  });
});

describe('Node versions agree', () => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  it('package.json engines.node admits the deploy RUNTIME major and every Dockerfile\'s Node major', () => {
    expect(admitsMajor(engines, RUNTIME_MAJOR)).toBe(true);
    for (const img of IMAGES) {
      for (const s of parseDockerfile(read(img.dockerfile))) if (s.from.startsWith('node:')) expect(admitsMajor(engines, nodeMajor(s.from)), s.from).toBe(true);
    }
    // The check itself: a major outside the range is refused.
    expect(admitsMajor(engines, 18)).toBe(false);
  });
});

describe('bybit-holder production install (the Dockerfile\'s own commands, in a clean folder)', () => {
  const img = IMAGES[0] as Image;
  const stages = parseDockerfile(read(img.dockerfile));
  const runtime = stages.at(-1) as Stage;
  const tmp = mkdtempSync(join(tmpdir(), 'cst-holder-image-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** Copies a COPY's sources (repository paths) to `dir` under its destination (relative to WORKDIR /app). */
  function applyCopy(dir: string, sources: string[], dest: string): void {
    const base = join(dir, dest.replace(/^\/app\/?/, '').replace(/^\.\/?/, ''));
    for (const src of sources) {
      const p = src.replace(/^\.\//, '').replace(/\/$/, '');
      const from = join(ROOT, p);
      // Docker: a folder's contents go into the destination; a file into it when it ends with '/'.
      const isDir = statSync(from).isDirectory();
      const to = isDir || !dest.endsWith('/') ? base : join(base, posix.basename(p));
      mkdirSync(isDir ? to : dirname(to), { recursive: true });
      cpSync(from, to, { recursive: true });
    }
  }

  it(
    'installs production dependencies only, with tulind and better-sqlite3 loading, and the compiled entry loads with the runtime stage\'s files',
    async () => {
      const deps = depsStage(stages, runtime);
      const chain = ancestry(stages, deps);
      const app = join(tmp, 'deps');
      mkdirSync(app);
      const env: Record<string, string> = {};
      const commands: string[] = [];
      for (const s of chain) {
        for (const ins of s.instructions) {
          if (ins.op === 'WORKDIR') expect(ins.args).toBe('/app');
          else if (ins.op === 'ENV') Object.assign(env, parseEnv(ins));
          else if (ins.op === 'COPY') {
            const c = parseCopy(ins);
            expect(c.from, 'the deps stage copies from the build context only').toBeNull();
            applyCopy(app, c.sources, c.dest);
          } else if (ins.op === 'RUN') {
            // The OS toolchain is this machine's (python3, make, g++); the stage's own commands run as written.
            if (s === deps) commands.push(ins.args);
            else expect(ins.args, 'a parent stage only installs OS packages').toMatch(/^apt-get /);
          }
        }
      }
      expect(commands.length).toBeGreaterThan(0);
      for (const cmd of commands) {
        await promisify(execFile)('sh', ['-c', cmd], {
          cwd: app,
          env: { ...process.env, ...env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
          maxBuffer: 64 * 1024 * 1024,
          timeout: 900_000,
        });
      }

      // No dev dependency (every lockfile entry npm marks dev-only is absent), the native addons load.
      const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
      const devOnly = Object.entries(lock.packages).filter(([k, v]) => k.startsWith('node_modules/') && v.dev).map(([k]) => k);
      expect(devOnly).toEqual(expect.arrayContaining(['node_modules/vitest', 'node_modules/firebase-tools', 'node_modules/typescript']));
      const present = devOnly.filter((k) => existsSync(join(app, k)));
      expect(present).toEqual([]);
      const probe = `const t = require('tulind'); const Db = require('better-sqlite3');
        const db = new Db(':memory:'); const row = db.prepare('select 2 + 3 as x').get();
        t.indicators.sma.indicator([[1, 2, 3, 4]], [2], (err, res) => { if (err) throw err; process.stdout.write(JSON.stringify({ x: row.x, sma: res[0] })); });`;
      const loaded = execFileSync(process.execPath, ['-e', probe], { cwd: app, encoding: 'utf8' });
      expect(JSON.parse(loaded)).toEqual({ x: 5, sma: [1.5, 2.5, 3.5] });

      // The runtime stage: its build-context COPYs, the deps' node_modules, the build stage's dist/.
      const run = join(tmp, 'runtime');
      mkdirSync(run);
      for (const ins of runtime.instructions.filter((i) => i.op === 'COPY')) {
        const c = parseCopy(ins);
        if (c.from === deps.name) cpSync(join(app, 'node_modules'), join(run, 'node_modules'), { recursive: true, verbatimSymlinks: true });
        else if (c.from === null) applyCopy(run, c.sources, c.dest);
      }
      const compile = stages.flatMap(runs).find((r) => /tsc\s+-p\s+\S+/.test(r)) as string;
      const tsconfig = /tsc\s+-p\s+(\S+)/.exec(compile)?.[1] as string;
      await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig, '--outDir', join(run, 'dist')], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
      const cmd = execForm(runtime.instructions.filter((i) => i.op === 'CMD').at(-1)?.args ?? '');
      const entry = cmd.at(-1) as string;
      expect(existsSync(join(run, entry))).toBe(true);
      // Importing the entry loads the whole holder (composition root, charts with the bundled fonts) without starting it.
      writeFileSync(join(run, 'probe.mjs'), `const m = await import('./${entry}'); process.stdout.write(typeof m.main);`);
      const out = execFileSync(process.execPath, [...cmd.slice(1, -1), 'probe.mjs'], { cwd: run, encoding: 'utf8', env: { ...process.env, ...env } });
      expect(out).toBe('function');
    },
    1_200_000,
  );
});

/** Whether a Docker engine answers here (the CI machine may have one; this one has the client only). */
function dockerEngine(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

describe('images built by a Docker engine', () => {
  it.runIf(dockerEngine())(
    'the holder image builds and its runtime loads the native addons as the non-root user',
    () => {
      const tag = `cst-bybit-holder-test:${process.pid}`;
      execFileSync('docker', ['build', '-f', 'functions/bybit-holder/Dockerfile', '-t', tag, '.'], { cwd: ROOT, stdio: 'inherit', timeout: 1_500_000 });
      try {
        const out = execFileSync('docker', ['run', '--rm', '--entrypoint', 'node', tag, '-e', "require('tulind'); require('better-sqlite3'); process.stdout.write(String(process.getuid()))"], { encoding: 'utf8' });
        expect(out).not.toBe('0');
        const user = execFileSync('docker', ['image', 'inspect', tag, '--format', '{{.Config.User}}|{{json .Config.Healthcheck.Test}}'], { encoding: 'utf8' });
        expect(user).toMatch(/^node\|.*healthz/);
      } finally {
        execFileSync('docker', ['image', 'rm', '-f', tag], { stdio: 'ignore' });
      }
    },
    1_800_000,
  );
});
