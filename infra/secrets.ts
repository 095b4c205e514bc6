/**
 * SecretSource adapters: Secret Manager (`projects/P/secrets/NAME/versions/latest`) in the cloud,
 * environment variables (`CST_TELEGRAM_BOT_TOKEN`, ...) locally. Values are cached per process and
 * registered with the logger's masking before anyone can log them. Which one a process uses is decided
 * once, by the composition root (infra/runtime/root.ts: Secret Manager on the gcp backend). The Secret
 * Manager client library loads on the first read.
 */
import { registerSecret } from '../shared/log.js';
import { secretEnvVar, type SecretName, type SecretSource } from '../shared/ports/secrets.js';

/** gRPC NOT_FOUND: the secret or its version does not exist (= not configured). */
const GRPC_NOT_FOUND = 5;

export function envSecrets(env: NodeJS.ProcessEnv = process.env): SecretSource {
  return {
    async get(name) {
      const v = env[secretEnvVar(name)];
      const value = v && v.length > 0 ? v : undefined;
      registerSecret(value);
      return value;
    },
  };
}

/** The one method of the Secret Manager client used here (a fake in tests). */
export interface SecretAccessClient {
  accessSecretVersion(req: { name: string }): Promise<[{ payload?: { data?: Uint8Array | string | null } | null }, ...unknown[]]>;
}

async function secretManagerClient(): Promise<SecretAccessClient> {
  const { SecretManagerServiceClient } = await import('@google-cloud/secret-manager');
  return new SecretManagerServiceClient();
}

/**
 * How long a read Secret Manager value is kept before `latest` is read again: a rotated secret (npm run
 * deploy -- --rotate-secret NAME) reaches running instances within this time, without a redeploy.
 */
export const SECRET_REFRESH_MS = 5 * 60_000;

interface SecretManagerOptions {
  /** Milliseconds a value is kept (default SECRET_REFRESH_MS). */
  refreshMs?: number;
  /** Epoch ms (default Date.now). */
  now?: () => number;
}

export function secretManagerSecrets(project: string, client?: SecretAccessClient, o: SecretManagerOptions = {}): SecretSource {
  const refreshMs = o.refreshMs ?? SECRET_REFRESH_MS;
  const now = o.now ?? Date.now;
  const cache = new Map<SecretName, { value: Promise<string | undefined>; at: number }>();
  let accessor: Promise<SecretAccessClient> | undefined = client ? Promise.resolve(client) : undefined;
  const load = async (name: SecretName): Promise<string | undefined> => {
    try {
      accessor ??= secretManagerClient().catch((e: unknown) => {
        accessor = undefined;
        throw e;
      });
      const [version] = await (await accessor).accessSecretVersion({ name: `projects/${project}/secrets/${name}/versions/latest` });
      const data = version.payload?.data;
      const value = data == null ? undefined : typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
      registerSecret(value);
      return value && value.length > 0 ? value : undefined;
    } catch (e) {
      if ((e as { code?: unknown }).code === GRPC_NOT_FOUND) return undefined;
      cache.delete(name);
      throw new Error(`Secret Manager: cannot read secret '${name}' in project ${project}: ${(e as Error).message}`);
    }
  };
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit && now() - hit.at < refreshMs) return hit.value;
      const value = load(name);
      cache.set(name, { value, at: now() });
      // a failed refresh keeps serving the value read before (a rotation must not take the bot down)
      if (hit) return value.catch(() => hit.value);
      return value;
    },
  };
}
