/**
 * ML threshold suggestions the owner decides in Telegram; the decision travels as a
 * `suggestion_decided` owner command on `trade-commands` (the catalog's `tradeCommandSchema`,
 * shared/messages.ts).
 */
import { z } from 'zod';

const suggestionSchema = z.object({
  id: z.string().min(1),
  strategy: z.string(),
  parameter: z.string(),
  current: z.number(),
  suggested: z.number(),
  status: z.enum(['pending', 'approved', 'rejected']),
  createdAt: z.number(),
  summary: z.string().optional(),
  decidedBy: z.number().nullable().optional(),
  decidedAt: z.number().nullable().optional(),
});
export type Suggestion = z.infer<typeof suggestionSchema>;
