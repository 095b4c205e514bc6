/**
 * ERROR entries in the shape Error Reporting captures from structured logs (shared/log.ts): the stack
 * at top-level `stack_trace`, `@type` ReportedErrorEvent, `serviceContext`; nothing of that below
 * ERROR; secrets masked in messages and stacks.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, registerSecret, REPORTED_ERROR_EVENT_TYPE, serviceContextFromEnv, LOCAL_SERVICE, type Severity } from '../shared/log.js';
import { bindPubsub, bindScheduled } from '../infra/functions.js';
import { buildPubsubCloudEvent } from '../infra/bus/envelope.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { TOPICS } from '../shared/topics.js';

function capture(opts: { serviceContext?: { service: string; version?: string } } = {}) {
  const entries: Array<Record<string, unknown>> = [];
  const log = createLogger({ component: 'unit' }, { minSeverity: 'DEBUG', sink: (line: string, _s: Severity) => entries.push(JSON.parse(line) as Record<string, unknown>), ...opts });
  return { log, entries };
}

const SC = { service: 'execution', version: 'execution-00042-abc' };

describe('Error Reporting fields on ERROR entries', () => {
  it('an ERROR with an Error has exactly the fields Error Reporting needs, the stack at top-level stack_trace', () => {
    const { log, entries } = capture({ serviceContext: SC });
    const err = new Error('order rejected by venue');
    log.error('execution step failed', { error: err, symbol: 'BTCUSDT' });
    const e = entries[0]!;
    expect(Object.keys(e).sort()).toEqual(['@type', 'component', 'error', 'message', 'serviceContext', 'severity', 'stack_trace', 'symbol', 'time']);
    expect(e['@type']).toBe(REPORTED_ERROR_EVENT_TYPE);
    expect(e.serviceContext).toEqual(SC);
    expect(e.severity).toBe('ERROR');
    expect(e.message).toBe('execution step failed');
    // the V8 stack as error.stack returns it: header line then frames (the format Error Reporting parses)
    expect(e.stack_trace).toBe(err.stack);
    expect(String(e.stack_trace)).toMatch(/^Error: order rejected by venue\n\s+at /);
    // the stack is not duplicated under the field
    expect(e.error).toEqual({ name: 'Error', message: 'order rejected by venue' });
  });

  it('finds the Error under `err` or under any other field', () => {
    const { log, entries } = capture({ serviceContext: SC });
    log.error('a', { err: new TypeError('x') });
    log.error('b', { cause: new RangeError('y') });
    expect(String(entries[0]!.stack_trace)).toMatch(/^TypeError: x\n/);
    expect(String(entries[1]!.stack_trace)).toMatch(/^RangeError: y\n/);
  });

  it('an ERROR without an Error still gets @type and serviceContext and keeps its message (grouped by it)', () => {
    const { log, entries } = capture({ serviceContext: SC });
    log.error('subscription rejected', { topics: ['kline.1.BTCUSDT'], reason: 'invalid topic' });
    const e = entries[0]!;
    expect(e['@type']).toBe(REPORTED_ERROR_EVENT_TYPE);
    expect(e.serviceContext).toEqual(SC);
    expect(e.message).toBe('subscription rejected');
    expect(e).not.toHaveProperty('stack_trace');
  });

  it('WARNING and below never carry @type, serviceContext or stack_trace (the stack stays nested)', () => {
    const { log, entries } = capture({ serviceContext: SC });
    const err = new Error('transient');
    log.warn('telegram send failed; will retry', { error: err });
    log.info('ok', { error: err });
    for (const e of entries) {
      expect(e).not.toHaveProperty('@type');
      expect(e).not.toHaveProperty('serviceContext');
      expect(e).not.toHaveProperty('stack_trace');
    }
    expect((entries[0]!.error as { stack: string }).stack).toBe(err.stack);
  });

  it('masks registered secrets in the message, the error message and the stack', () => {
    const secret = 'bot123456:SECRET-token-value';
    registerSecret(secret);
    const { log, entries } = capture({ serviceContext: SC });
    log.error(`call with ${secret} failed`, { error: new Error(`401 for https://api.telegram.org/${secret}/sendMessage`) });
    const line = JSON.stringify(entries[0]);
    expect(line).not.toContain(secret);
    expect(String(entries[0]!.stack_trace)).toContain('[REDACTED]');
    expect((entries[0]!.error as { message: string }).message).toContain('[REDACTED]');
    expect(entries[0]!.message).toBe('call with [REDACTED] failed');
  });

  it('service context from the environment Cloud Run / Cloud Functions set', () => {
    expect(serviceContextFromEnv({ K_SERVICE: 'health-check', K_REVISION: 'health-check-00003-xyz' })).toEqual({ service: 'health-check', version: 'health-check-00003-xyz' });
    expect(serviceContextFromEnv({ CLOUD_RUN_JOB: 'backtest-shard', CST_BUILD_ID: 'b1' })).toEqual({ service: 'backtest-shard', version: 'b1' });
    expect(serviceContextFromEnv({})).toEqual({ service: LOCAL_SERVICE });
  });

  it('the functions wrapper logs a failing scheduled handler with its stack at stack_trace', async () => {
    const { log, entries } = capture({ serviceContext: SC });
    const fn = bindScheduled(
      'health-check',
      async () => {
        throw new Error('state store unavailable');
      },
      async () => ({ log }),
    );
    let status = 0;
    const res = { headersSent: false, status: (s: number) => ((status = s), res), json: () => res };
    await fn({ headers: {}, body: {} } as never, res as never);
    expect(status).toBe(500);
    const e = entries.find((x) => x.severity === 'ERROR')!;
    expect(e.message).toBe('handler failed');
    expect(e.function).toBe('health-check');
    expect(String(e.stack_trace)).toMatch(/^Error: state store unavailable\n\s+at /);
    expect(e['@type']).toBe(REPORTED_ERROR_EVENT_TYPE);
  });
});

describe('a Pub/Sub function that fails on the last delivery attempt', () => {
  // On Google Cloud, Pub/Sub dead-letters the message itself after maxAttempts: the function's log is
  // the only place its cause is written, so the last failure is an ERROR with the stack.
  const event = (attempt: number) =>
    buildPubsubCloudEvent({
      projectId: 'p1',
      topic: TOPICS.tradeCommands,
      subscription: `execution--${TOPICS.tradeCommands}`,
      data: Buffer.from(JSON.stringify({ type: 'pause', commandId: 'c1', actorId: '1', ts: 1749600000000 })).toString('base64'),
      messageId: 'm1',
      publishTime: '2025-06-11T00:00:00Z',
      deliveryAttempt: attempt,
    });
  const run = async (attempt: number) => {
    const { log, entries } = capture({ serviceContext: SC });
    const fn = bindPubsub('execution', async () => { throw new Error('trading store contention'); }, async () => ({ log }));
    await expect(fn(event(attempt))).rejects.toThrow('trading store contention');
    return entries.filter((x) => x.function === 'execution');
  };

  it('logs a retried failure as a WARNING and the last one as an ERROR Error Reporting captures', async () => {
    const max = DEFAULT_SYSTEM_CONFIG.delivery.maxAttempts;
    const early = await run(max - 1);
    expect(early.map((e) => e.severity)).toEqual(['WARNING']);
    const last = await run(max);
    expect(last.map((e) => e.severity)).toEqual(['ERROR']);
    expect(last[0]!.message).toBe(`failed on its last delivery attempt: Pub/Sub dead-letters it to ${TOPICS.tradeCommands}-dlq`);
    expect(String(last[0]!.stack_trace)).toMatch(/^Error: trading store contention\n\s+at /);
    expect(last[0]!['@type']).toBe(REPORTED_ERROR_EVENT_TYPE);
  });
});

describe('every ERROR log call passes the caught Error itself', () => {
  it('no log.error(...) flattens an error to a string (errorReason(e), e.message, String(e)): Error Reporting needs the stack', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tsFilesUnder } = await import('./source-files.js');
    const root = join(import.meta.dirname, '..');
    const offenders: string[] = [];
    for (const dir of ['shared', 'infra', 'functions', 'scripts']) {
      for (const file of tsFilesUnder(join(root, dir))) {
        const src = readFileSync(file, 'utf8');
        // each `.error(` call up to its closing `);` (the calls are short; nested parentheses allowed)
        for (const m of src.matchAll(/\blog\??\.error\(([\s\S]*?)\);/g)) {
          if (/errorReason\(|\(\w+ as Error\)\.message|String\((e|err|error)\)/.test(m[1]!)) offenders.push(`${file.slice(root.length + 1)}: ${m[0].slice(0, 120)}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
