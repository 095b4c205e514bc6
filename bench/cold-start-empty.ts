/** The cold-start bench's baseline: a module with nothing to load (bench/cold-start.ts). */
export {};
