/**
 * Test wiring shared by test/config, test/health and test/schedule: the embedded SQLite StateStore
 * (in memory), the in-process bus with a subscriber that collects every alert, and a logger whose
 * lines are captured.
 */
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { decodeEnvelope } from '../../infra/bus/envelope.js';
import { TOPICS } from '../../shared/topics.js';
import { createLogger, type Logger, type Severity } from '../../shared/log.js';
import type { Clock } from '../../shared/ports/clock.js';
import { type Alert } from '../../shared/messages.js';

export function memoryStore(clock?: Clock): SqliteStateStore {
  return new SqliteStateStore({ file: ':memory:', ...(clock ? { clock } : {}) });
}

export interface AlertBus {
  bus: InMemoryBus;
  /** Every alert delivered so far (call `settle()` first). */
  alerts: Alert[];
  settle(): Promise<void>;
}

export function alertBus(): AlertBus {
  const bus = new InMemoryBus({ fast: true });
  const alerts: Alert[] = [];
  bus.subscribe({
    name: 'test-alerts',
    topic: TOPICS.alerts,
    handler: (event) => {
      alerts.push(decodeEnvelope(event, TOPICS.alerts).payload);
    },
  });
  return { bus, alerts, settle: () => bus.drain() };
}

export interface CapturedLog {
  log: Logger;
  lines: Array<{ severity: Severity; entry: Record<string, unknown> }>;
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const log = createLogger({}, { minSeverity: 'DEBUG', sink: (line, severity) => lines.push({ severity, entry: JSON.parse(line) as Record<string, unknown> }) });
  return { log, lines };
}
