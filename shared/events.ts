/**
 * Decoding of Pub/Sub CloudEvents at the edge. A payload that fails validation is a permanent error:
 * the bus dead-letters it at once with the reason (it would fail identically on every retry).
 */
import type { z } from 'zod';
import { PermanentError, type PubsubCloudEvent } from './ports/bus.js';

export interface DecodedMessage<T> {
  messageId: string;
  publishTime: string;
  attributes: Record<string, string>;
  payload: T;
  deliveryAttempt: number;
}

export function decodeEvent<T>(event: PubsubCloudEvent, schema: z.ZodType<T>): DecodedMessage<T> {
  const msg = event?.data?.message;
  if (!msg || typeof msg.data !== 'string') {
    throw new PermanentError('not a Pub/Sub messagePublished CloudEvent (data.message.data missing)');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(msg.data, 'base64').toString('utf8'));
  } catch (e) {
    throw new PermanentError(`payload is not JSON: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PermanentError(`payload failed validation: ${issues.join('; ')}`);
  }
  return {
    messageId: msg.messageId,
    publishTime: msg.publishTime,
    attributes: msg.attributes ?? {},
    payload: parsed.data,
    deliveryAttempt: event.data.deliveryAttempt ?? 1,
  };
}
