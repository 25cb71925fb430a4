import { createHash } from 'node:crypto';

/**
 * The name of a new upstream resource, made of a stable name of its item (the sync point uses the
 * item's id): the name itself when it is a plain one (letters, digits, `-`, `_`, `.`, `@`; not a dot
 * name; not too long), else a hash of it. Percent-encoding arbitrary names would also be valid, but `/`,
 * `%2F` and `..` in paths are exactly what proxies and servers disagree on; a hash is the same for the
 * same name, so a retried create still meets the resource it made.
 */
const plainName = /^[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,99}$/;

export function memberUrl(collectionUrl: string, stableName: string, type: 'addressbook' | 'calendar'): string {
  const name = plainName.test(stableName) ? stableName : createHash('sha256').update(stableName, 'utf8').digest('hex').slice(0, 40);
  const base = collectionUrl.endsWith('/') ? collectionUrl : `${collectionUrl}/`;
  return new URL(`${name}${type === 'addressbook' ? '.vcf' : '.ics'}`, base).href;
}
