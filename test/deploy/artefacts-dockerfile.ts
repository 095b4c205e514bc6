/**
 * A small Dockerfile reader for the artefact tests (test/deploy/artefacts-docker.test.ts): stages,
 * their instructions (line continuations joined, comments dropped), COPY sources and flags, ENV, CMD /
 * HEALTHCHECK in exec form; and the ignore-file matchers of .dockerignore (Docker's rules) and
 * .gcloudignore (gitignore's rules, what `gcloud builds submit` uploads).
 */

export interface Instruction {
  op: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  line: number;
}

export interface Stage {
  index: number;
  name: string | null;
  /** The image or the earlier stage this stage starts from. */
  from: string;
  instructions: Instruction[];
}

export interface Copy {
  from: string | null;
  chown: string | null;
  sources: string[];
  dest: string;
}

export function parseDockerfile(text: string): Stage[] {
  const logical: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line)) return;
    if (buf === '' && line.trim() === '') return;
    if (buf === '') start = i + 1;
    const cont = /\\\s*$/.test(line);
    buf += (buf ? ' ' : '') + (cont ? line.replace(/\\\s*$/, '') : line).trim();
    if (!cont) {
      const m = /^(\S+)\s*(.*)$/.exec(buf) as RegExpExecArray;
      logical.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start });
      buf = '';
    }
  });
  const stages: Stage[] = [];
  for (const ins of logical) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: unreadable FROM '${ins.args}'`);
      stages.push({ index: stages.length, name: m[2] ?? null, from: m[1] as string, instructions: [] });
    } else {
      const s = stages.at(-1);
      if (!s) throw new Error(`line ${ins.line}: ${ins.op} before the first FROM`);
      s.instructions.push(ins);
    }
  }
  return stages;
}

export function stageByName(stages: Stage[], name: string): Stage | undefined {
  return stages.find((s) => s.name === name || String(s.index) === name);
}

/** The stage and the earlier stages it builds on, oldest first. */
export function ancestry(stages: Stage[], stage: Stage): Stage[] {
  const parent = stageByName(stages.slice(0, stage.index), stage.from);
  return parent ? [...ancestry(stages, parent), stage] : [stage];
}

/** The registry image a stage finally starts from. */
export function baseImage(stages: Stage[], stage: Stage): string {
  return (ancestry(stages, stage)[0] as Stage).from;
}

export function parseCopy(ins: Instruction): Copy {
  const words = ins.args.startsWith('[') ? (JSON.parse(ins.args) as string[]) : ins.args.split(/\s+/);
  let from: string | null = null;
  let chown: string | null = null;
  const rest: string[] = [];
  for (const w of words) {
    const f = /^--([a-z-]+)=(.*)$/.exec(w);
    if (f?.[1] === 'from') from = f[2] as string;
    else if (f?.[1] === 'chown') chown = f[2] as string;
    else if (!f) rest.push(w);
  }
  if (rest.length < 2) throw new Error(`line ${ins.line}: COPY needs a source and a destination`);
  return { from, chown, sources: rest.slice(0, -1), dest: rest.at(-1) as string };
}

/** ENV of one instruction (`K=V ...` or the legacy `K V`). */
export function parseEnv(ins: Instruction): Record<string, string> {
  if (!ins.args.includes('=')) {
    const [k, ...v] = ins.args.split(/\s+/);
    return { [k as string]: v.join(' ') };
  }
  const out: Record<string, string> = {};
  for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) out[m[1] as string] = (m[2] as string).replace(/^"(.*)"$/, '$1');
  return out;
}

/** CMD / ENTRYPOINT / HEALTHCHECK ... CMD in exec form as its argv (throws on the shell form). */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  if (!json.startsWith('[')) throw new Error(`not in exec form: ${args}`);
  return JSON.parse(json) as string[];
}

const escapeRe = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&');

/** A glob (`*`, `?`, `**`) as a regular expression over a whole slash-separated path. */
function globRe(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*' && glob[i + 2] === '/') {
      re += '(?:.*/)?';
      i += 2;
    } else if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

const prefixes = (path: string) => path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));

/** Whether .dockerignore excludes `path` (repo-relative): a pattern matching the path or a parent folder; `!` re-includes. */
export function dockerIgnores(ignoreFile: string, path: string): boolean {
  let out = false;
  for (const raw of ignoreFile.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const re = globRe((negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, ''));
    if (prefixes(path).some((p) => re.test(p))) out = !negate;
  }
  return out;
}

/** Whether .gcloudignore (gitignore syntax) excludes `path`: unanchored patterns match at any depth. */
export function gcloudIgnores(ignoreFile: string, path: string): boolean {
  let out = false;
  for (const raw of ignoreFile.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    let pat = negate ? line.slice(1) : line;
    pat = pat.replace(/\/+$/, '');
    const anchored = pat.includes('/');
    const re = globRe(anchored ? pat.replace(/^\/+/, '') : `**/${pat}`);
    if (prefixes(path).some((p) => re.test(p))) out = !negate;
  }
  return out;
}
