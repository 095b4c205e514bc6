/**
 * Owner commands the bot publishes on `trade-commands` (TOPICS.tradeCommands) for the execution side
 * to apply: pause / resume new trades, move a trade group's take profit, a decided ML suggestion.
 * `commandId` is deterministic (`tg:{update_id}`), so a redelivered command is recognisable.
 */
import { z } from 'zod';

const common = {
  commandId: z.string().min(1),
  actorId: z.string().min(1),
  ts: z.number().int(),
};

export const tradeCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pause'), ...common }),
  z.object({ type: z.literal('resume'), ...common }),
  z.object({ type: z.literal('move_tp'), ...common, groupId: z.string().min(1), symbol: z.string().min(1), takeProfit: z.number().finite().positive() }),
  z.object({ type: z.literal('suggestion_decided'), ...common, suggestionId: z.string().min(1), approved: z.boolean() }),
]);
export type TradeCommand = z.infer<typeof tradeCommandSchema>;

export const suggestionSchema = z.object({
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
