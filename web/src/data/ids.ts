/**
 * Random identifiers. crypto.getRandomValues works on plain-HTTP origins too, where randomUUID does not
 * exist (a server reached by its LAN address).
 */
function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A local item id or device id suffix. */
export function newId(): string {
  return randomHex(16);
}

/** A version-4 UUID, for the UID of a new vCard or iCalendar object. */
export function newUid(): string {
  const hex = randomHex(16).split('');
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
