import type { SystemConfig } from './system.js';

/** Where running code reads the validated, last-valid config from (see ConfigService). */
export interface ConfigSource {
  system(): Promise<SystemConfig>;
}

/** A fixed config (tests, CLIs that take no live edits). */
export function staticConfig(system: SystemConfig): ConfigSource {
  return { system: async () => system };
}
