/**
 * Duplicate detection ("twins", docs/design.md § Duplicates). A record added by a
 * sync point duplicates an existing one when:
 *   - both carry the same UID (for calendars one object holds a series and its overrides, so UID plus
 *     RECURRENCE-ID match whenever UID does);
 *   - or, for contacts, the normalized names are equal and they share an email address or a phone number.
 * Pure: the content layer extracts the keys, the store finds candidates, this decides.
 */

export interface MatchKeys {
  uid: string | null;
  /** Normalized full name (contacts only), or null. */
  name: string | null;
  /** Normalized `email:` and `tel:` keys (contacts only). */
  contactKeys: readonly string[];
}

/** Case, accents, punctuation and spacing do not make two names different people. */
export function normalizeName(name: string): string | null {
  const n = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
  return n === '' ? null : n;
}

export function normalizeEmail(email: string): string | null {
  const e = email.trim().replace(/^mailto:/i, '').toLowerCase();
  return e.includes('@') ? `email:${e}` : null;
}

/**
 * Phone numbers compare on their last nine digits, so "+44 20 7946 0958" and "020 7946 0958" match
 * while short extensions do not collide.
 */
export function normalizePhone(phone: string): string | null {
  const digits = phone.replace(/^tel:/i, '').replace(/\D/g, '');
  return digits.length >= 6 ? `tel:${digits.slice(-9)}` : null;
}

export function areTwins(a: MatchKeys, b: MatchKeys): boolean {
  if (a.uid !== null && a.uid === b.uid) return true;
  if (a.name === null || a.name !== b.name) return false;
  const keys = new Set(a.contactKeys);
  return b.contactKeys.some((k) => keys.has(k));
}
