/**
 * ML threshold suggestions the owner decides in Telegram; the decision travels as a
 * `suggestion_decided` owner command on `trade-commands` (the catalog's `tradeCommandSchema`,
 * shared/messages.ts).
 */
import { z } from 'zod';

/** An `ml_suggestions/{id}` item as stored (validated on every read: shared/telegram/suggestions.ts decideSuggestion). */
export const suggestionSchema = z.object({
  id: z.string().min(1),
  strategy: z.string(),
  parameter: z.string(),
  current: z.number(),
  suggested: z.number(),
  /** `superseded`: a newer suggestion of the same key replaced it (shared/learning/suggestions.ts). */
  status: z.enum(['pending', 'approved', 'rejected', 'superseded']),
  createdAt: z.number(),
  summary: z.string().optional(),
  decidedBy: z.number().nullable().optional(),
  decidedAt: z.number().nullable().optional(),
  /** The trade command that carried the decision (`tg:{update_id}` or `dash:{id}`): a retry of that command publishes it again. */
  commandId: z.string().optional(),
});
export type Suggestion = z.infer<typeof suggestionSchema>;
