/**
 * Polite REST clients: one request limiter per (time source, host) for the whole process, the
 * jittered back-off and the `Retry-After` reading, shared by the Kraken client and the Bybit REST
 * pagers.
 *
 * Why one limiter per host and not per pair or per client: the exchanges count public requests per
 * client IP, and every request of a process leaves from the same IP whichever pair, symbol or client
 * object sent it. So `hostLimiter(clock, url)` hands every client of a process the same limiter for
 * a host: the Kraken pull's concurrently pulled pairs, and every client the runtime builds for
 * different settings, queue on one line. A rate-limit answer (429 / 503 with Retry-After, Kraken's
 * `EAPI:Rate limit exceeded`, Bybit's retCode 10006) `hold`s that line, so the back-off also holds
 * back the other pairs' requests.
 *
 * Why keyed by the clock as well: spacing is measured on a clock, so requests timed by two clocks
 * cannot be spaced against each other. In production every client uses the one system clock (one
 * limiter per host per process); each test's ManualClock gets its own limiters, so tests neither
 * share state nor need a reset hook, and no test has to inject a registry (the registry is
 * module-level, held in a WeakMap so a dropped clock frees its limiters).
 */
import type { Clock } from '../../shared/ports/clock.js';

/** The host is held (Retry-After, a rate limit) past what the request may wait. */
export class HostHeldError extends Error {
  override readonly name = 'HostHeldError';
  constructor(
    readonly host: string,
    /** Clock ms until which the host is held. */
    readonly heldUntil: number,
    readonly waitMs: number,
    readonly maxHoldMs: number,
  ) {
    super(`${host} is held for ${waitMs} ms more (a rate-limit answer), past the ${maxHoldMs} ms this request may wait`);
  }
}

/**
 * FIFO line of requests to one host. A request starts no sooner than `minIntervalMs` after the
 * previous start (the larger of the two requests' intervals, so a 1 s client is never crowded by a
 * faster one) and no sooner than the end of a hold. Requests queued before a hold arrives wait for
 * it too: the head of the line re-checks the hold after each sleep.
 */
export class HostLimiter {
  private readonly line: Array<{ intervalMs: number; maxHoldMs: number; grant: (at: number) => void; refuse: (e: Error) => void }> = [];
  private pumping = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private lastIntervalMs = 0;
  private heldUntil = Number.NEGATIVE_INFINITY;
  private holdVersion = 0;
  /** Requests granted, and how many holds extended the line (rate-limit answers). */
  readonly stats = { granted: 0, holds: 0 };

  constructor(
    readonly host: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Resolves with the start time (clock ms) when this request may be sent. Rejects with
   * HostHeldError, without waiting, when its turn comes while the host is held for longer than
   * `maxHoldMs` (a caller with a deadline gives up rather than sitting out a long Retry-After).
   */
  acquire(minIntervalMs: number, maxHoldMs = Number.POSITIVE_INFINITY): Promise<number> {
    return new Promise<number>((grant, refuse) => {
      this.line.push({ intervalMs: Math.max(0, minIntervalMs), maxHoldMs, grant, refuse });
      if (!this.pumping) void this.pump();
    });
  }

  /** Holds every request to this host until `untilMs` (clock ms); a later hold extends, an earlier one is ignored. */
  hold(untilMs: number): void {
    if (untilMs <= this.heldUntil) return;
    this.heldUntil = untilMs;
    this.holdVersion++;
    this.stats.holds++;
  }

  /** Clock ms until which requests are held (or -Infinity). */
  get holdUntil(): number {
    return this.heldUntil;
  }

  /** Requests waiting in line. */
  get waiting(): number {
    return this.line.length;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.line.length > 0) {
        const head = this.line[0]!;
        const version = this.holdVersion;
        const now = this.clock.now();
        if (this.heldUntil - now > head.maxHoldMs) {
          this.line.shift();
          head.refuse(new HostHeldError(this.host, this.heldUntil, this.heldUntil - now, head.maxHoldMs));
          continue;
        }
        const at = Math.max(now, this.lastStart + Math.max(this.lastIntervalMs, head.intervalMs), this.heldUntil);
        if (at > now) {
          await this.clock.sleep(at - now);
          // a hold that arrived while we slept applies to this request too
          if (this.holdVersion !== version && this.heldUntil > this.clock.now()) continue;
        }
        this.line.shift();
        const start = Math.max(this.clock.now(), at);
        this.lastStart = start;
        this.lastIntervalMs = head.intervalMs;
        this.stats.granted++;
        head.grant(start);
      }
    } finally {
      this.pumping = false;
    }
  }
}

const registry = new WeakMap<Clock, Map<string, HostLimiter>>();

/** The process's limiter for the host of `url` (scheme + host + port) on `clock`. */
export function hostLimiter(clock: Clock, url: string): HostLimiter {
  const host = new URL(url).host.toLowerCase();
  let byHost = registry.get(clock);
  if (!byHost) {
    byHost = new Map();
    registry.set(clock, byHost);
  }
  let limiter = byHost.get(host);
  if (!limiter) {
    limiter = new HostLimiter(host, clock);
    byHost.set(host, limiter);
  }
  return limiter;
}

export interface BackoffPolicy {
  /** Ceiling of retry 0; doubles per retry. */
  baseMs: number;
  /** Largest ceiling. */
  maxMs: number;
  /**
   * Share of the ceiling that is random: retry n waits a uniform draw in [(1 - jitter) c, c],
   * c = min(baseMs x 2^n, maxMs). 1 = "full jitter" (uniform in [0, c]), 0 = no jitter.
   */
  jitter: number;
}

/** Retry `attempt`'s back-off (ms); `random` in [0, 1) from the injected source. */
export function backoffDelayMs(attempt: number, p: BackoffPolicy, random: number): number {
  const ceiling = Math.min(p.baseMs * 2 ** attempt, p.maxMs);
  const r = Math.min(Math.max(random, 0), 1);
  return Math.max(0, Math.round(ceiling * (1 - p.jitter * r)));
}

/**
 * The wait a `Retry-After` header asks for (ms from `nowMs`): delta-seconds ("7") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", RFC 9110 10.2.3). Undefined when absent or unreadable; a date
 * in the past is 0.
 */
export function retryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - nowMs);
}
