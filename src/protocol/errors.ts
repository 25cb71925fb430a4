/**
 * The status catalogue of the native protocol. Codes are stable strings; docs/protocol.md lists them
 * with their meaning and the HTTP status that carries them when they apply to a whole request.
 */
export const statusCodes = [
  'ok',
  'invalidSyncKey',
  'notFound',
  'invalidItem',
  'wrongKind',
  'uidConflict',
  'itemTooLarge',
  'invalidRequest',
  'unsupportedVersion',
  'unsupportedMediaType',
  'bodyTooLarge',
  'unauthorized',
  'forbidden',
  'conflict',
  'rateLimited',
  'serverError',
  'unavailable',
  'requestTimeout',
  'limitReached',
  'deferred',
  'upstreamFailed',
] as const;

export type StatusCode = (typeof statusCodes)[number];

/** HTTP status for a request-level failure. */
export const httpStatusOf: Record<StatusCode, number> = {
  ok: 200,
  invalidSyncKey: 200,
  notFound: 404,
  invalidItem: 422,
  wrongKind: 422,
  uidConflict: 409,
  itemTooLarge: 413,
  invalidRequest: 400,
  unsupportedVersion: 400,
  unsupportedMediaType: 415,
  bodyTooLarge: 413,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  rateLimited: 429,
  serverError: 500,
  unavailable: 503,
  requestTimeout: 408,
  limitReached: 409,
  // Only ever a command result (docs/protocol.md §12.1).
  deferred: 200,
  upstreamFailed: 502,
};

/** A request-level failure that a face turns into an error body with its HTTP status. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly status: StatusCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The account already holds as many of something as its limit allows (docs/configuration.md §
 * Per-account limits): `limit` names the setting, `max` is its value.
 */
export function limitReached(limit: string, max: number, message: string): ProtocolError {
  return new ProtocolError('limitReached', `${message} (the limit is ${max}; see ${limit})`, { limit, max });
}
