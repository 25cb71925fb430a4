/**
 * A message's remote id (docs/design.md § Mail): `UIDVALIDITY/UID/FOLDER`, FOLDER being the folder's path
 * on the server. UIDVALIDITY and UID name a message only within its folder (RFC 9051 §2.3.1.1): two
 * folders may share a UIDVALIDITY (servers that take it from the clock give one to folders made together),
 * and the hub keeps one record per remote id across all of an upstream's folders (sim --mail --same-uidvalidity).
 */
export const remoteIdOf = (path: string, uidValidity: string, uid: number): string => `${uidValidity}/${uid}/${path}`;

/** The UID a remote id names in the folder at `path` under `uidValidity`; undefined for another folder, another UIDVALIDITY, or no remote id of this form. */
export function uidIn(remoteId: string, path: string, uidValidity: string): number | undefined {
  const first = remoteId.indexOf('/');
  const second = first < 0 ? -1 : remoteId.indexOf('/', first + 1);
  if (second < 0 || remoteId.slice(0, first) !== uidValidity || remoteId.slice(second + 1) !== path) return undefined;
  const text = remoteId.slice(first + 1, second);
  const uid = /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : NaN;
  return uid <= 0xffffffff ? uid : undefined;
}
