import { createHash } from 'node:crypto';

/**
 * The name of a new upstream resource: its UID, when that is a plain name (letters, digits, `-`, `_`,
 * `.`, `@`; not a dot name; not too long), else a hash of the UID. Percent-encoding arbitrary UIDs would
 * also be valid, but `/`, `%2F` and `..` in paths are exactly what proxies and servers disagree on; a
 * hash is the same for the same UID, so a retried create still meets the resource it made.
 */
const plainName = /^[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,99}$/;

export function memberUrl(collectionUrl: string, uid: string, type: 'addressbook' | 'calendar'): string {
  const name = plainName.test(uid) ? uid : createHash('sha256').update(uid, 'utf8').digest('hex').slice(0, 40);
  const base = collectionUrl.endsWith('/') ? collectionUrl : `${collectionUrl}/`;
  return new URL(`${name}${type === 'addressbook' ? '.vcf' : '.ics'}`, base).href;
}
