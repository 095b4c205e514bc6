/**
 * The dashboard served by a plain Node HTTP server over a root (tests, the bench, tools): the same
 * functions-framework app of the same handle as the local runtime's `/dashboard` mount and the
 * deployed function, with the whole path kept (`/dashboard/api/paper`).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bindHttp, httpFunctionListener } from '../functions.js';
import { FUNCTION_NAME, handle, type Deps } from '../../shared/pipeline/dashboard.js';
import { DASHBOARD_BASE } from '../../shared/dashboard/api.js';

/** The dashboard's functions-framework app over `deps` (a root's `deps('dashboard')`, possibly adjusted). */
export function dashboardListener(deps: () => Promise<Deps>): RequestListener {
  return httpFunctionListener(FUNCTION_NAME, bindHttp(FUNCTION_NAME, handle, deps));
}

export interface RunningDashboard {
  server: Server;
  /** The page: `http://127.0.0.1:PORT/dashboard`. */
  url: string;
  close(): Promise<void>;
}

/** Serves the dashboard on `127.0.0.1:port` (0: a free port). */
export async function startDashboardServer(deps: () => Promise<Deps>, opts: { port?: number } = {}): Promise<RunningDashboard> {
  const server = createServer(dashboardListener(deps));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${DASHBOARD_BASE}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
