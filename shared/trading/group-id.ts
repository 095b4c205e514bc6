/**
 * The id of the trade group a signal opens (its entry orders are `${groupId}:e${k}`). On its own, with
 * no imports, so a reader of ids (the notifier) does not load the book.
 */
export function groupIdOf(signalId: string): string {
  return `tg:${signalId}`;
}
