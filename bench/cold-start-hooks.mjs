/**
 * ESM loader hooks for the cold-start bench (bench/cold-start.ts): reports every `file:` module the
 * loader loads to the probe (bench/cold-start-probe.mjs) over the port it was registered with.
 */
let port;

export function initialize(data) {
  port = data.port;
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:')) port.postMessage(url);
  return nextLoad(url, context);
}
