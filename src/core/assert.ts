/**
 * Invariant checks for our own bugs. They stay on in production: a broken invariant must stop the
 * exchange (and roll back its transaction) rather than corrupt the truth store. Bad client input never
 * reaches an assert; it gets a protocol status instead.
 */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
