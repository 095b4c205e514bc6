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

export function secretManagerSecrets(project: string, client?: SecretAccessClient): SecretSource {
  const cache = new Map<SecretName, Promise<string | undefined>>();
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
      let p = cache.get(name);
      if (!p) {
        p = load(name);
        cache.set(name, p);
      }
      return p;
    },
  };
}
