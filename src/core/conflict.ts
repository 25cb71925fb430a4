/**
 * Conflict resolution (docs/design.md § Device priority): when two sync points changed the same record since
 * they last agreed, the account's device priority decides whose state the truth takes. Priorities are
 * small integers, lower first; the user orders them. A version the server wrote itself (a merge or a
 * restore) ranks below every device, so a device's later edit wins over it; the server's version is
 * then kept as a conflict record like any other loser.
 * The losing version is never discarded: the hub keeps it as a conflict record.
 */
export interface Contender {
  deviceId: string | null;
  priority: number | undefined;
}

export type Winner = 'incoming' | 'truth';

export function resolveByPriority(incoming: Contender, truth: Contender): Winner {
  const rank = (c: Contender) => (c.deviceId === null || c.priority === undefined ? Number.POSITIVE_INFINITY : c.priority);
  // Equal ranks (the same device, or two unknown writers): the later change, the incoming one, wins.
  return rank(incoming) <= rank(truth) ? 'incoming' : 'truth';
}
