/**
 * Starts the npm stand-in Firestore server (`@firestore-emulator/server`) in-process on a loopback
 * port. Its own `start(port)` binds 0.0.0.0 and does not report the port, so this binds the same gRPC
 * server on 127.0.0.1:0 (with the gRPC library the stand-in itself depends on) and returns the port.
 */
import { createRequire } from 'node:module';
import { FirestoreServer } from '@firestore-emulator/server';

interface GrpcServerLike {
  bindAsync(address: string, creds: unknown, cb: (err: Error | null, port: number) => void): void;
}

export interface StandinServer {
  server: FirestoreServer;
  /** `127.0.0.1:<port>` */
  host: string;
  stop(): void;
}

export async function startStandinFirestore(): Promise<StandinServer> {
  const require = createRequire(import.meta.url);
  const standinRequire = createRequire(require.resolve('@firestore-emulator/server'));
  const grpc = standinRequire('@grpc/grpc-js') as { ServerCredentials: { createInsecure(): unknown } };
  const server = new FirestoreServer();
  const inner = (server as unknown as { server: GrpcServerLike }).server;
  const port = await new Promise<number>((resolve, reject) => {
    inner.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  return { server, host: `127.0.0.1:${port}`, stop: () => server.stop() };
}
