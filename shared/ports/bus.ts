/**
 * Messaging port: Pub/Sub semantics. At-least-once delivery, retries with back-off, dead-lettering
 * after N attempts. The envelope a subscriber receives (a Pub/Sub push request, read into the
 * messagePublished CloudEvent form) is infra's business (infra/bus/envelope.ts): the domain publishes payloads
 * and handles validated messages (shared/messages.ts).
 *
 * Adapters: Google Pub/Sub (`infra/bus/pubsub.ts`, also against PUBSUB_EMULATOR_HOST) and an
 * in-process bus (`infra/bus/memory.ts`) for the embedded default.
 */

export interface PublishOptions {
  attributes?: Record<string, string>;
  /** Messages with the same ordering key are delivered in publish order. */
  orderingKey?: string;
}

export interface Bus {
  /** Publishes a JSON payload; returns the message id. */
  publish(topic: string, data: unknown, opts?: PublishOptions): Promise<string>;
  close(): Promise<void>;
}

/** Thrown for payloads that can never be processed; buses dead-letter these at once. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
}
