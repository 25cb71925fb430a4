/**
 * The vCards the crash and fault devices write. Each names its item (X-CRASH-ID, and FN `Crash ID`) and
 * the edit that wrote it (NICKNAME, a version unique across a run), so any row the server holds can be
 * traced to one exact edit. The version is a NICKNAME, not an X- property, because ActiveSync carries
 * NickName (and FileAs ⇄ FN) but no X- property: an ActiveSync device of the fault run (eas-device.ts)
 * reads and writes exactly these two fields, and a card it adds has no X-CRASH-ID or X-CRASH-OWNER, so
 * both are read from FN and from the id's device prefix (`DEVICE-LIFE-N`) when absent.
 *
 * Half the items carry a UID. The others have none, so only the sync-key replay (not UID matching) keeps
 * a retried Add from creating a twin. Those are edited and deleted only by the device that created them
 * (X-CRASH-OWNER): a concurrent edit and delete of a UID-less card legitimately ends in two copies (the
 * edit wins and is re-added, and nothing can tell it is the same contact), which would hide a real twin.
 */
export interface Card {
  crashId: string;
  version: string;
  withUid: boolean;
  owner: string;
  /** The UID the card has (another client's, or the server's for an ActiveSync Add); a new card with `withUid` gets `crash-ID`. */
  uid?: string;
}

export function cardText(card: Card): string {
  const uid = card.uid ?? (card.withUid ? `crash-${card.crashId}` : undefined);
  return (
    `BEGIN:VCARD\r\nVERSION:3.0\r\n${uid !== undefined ? `UID:${uid}\r\n` : ''}FN:Crash ${card.crashId}\r\n` +
    `NICKNAME:${card.version}\r\nX-CRASH-ID:${card.crashId}\r\nX-CRASH-OWNER:${card.owner}\r\nEND:VCARD\r\n`
  );
}

const field = (text: string, name: string): string | undefined => new RegExp(`^${name}:(.*)\r$`, 'm').exec(text)?.[1];

const required = (text: string, name: string, value: string | undefined): string => {
  if (value === undefined) throw new Error(`not a crash-test card (no ${name}): ${JSON.stringify(text.slice(0, 200))}`);
  return value;
};

export function parseCard(text: string): Card {
  const crashId = required(text, 'X-CRASH-ID or FN', field(text, 'X-CRASH-ID') ?? /^Crash (.+)$/.exec(field(text, 'FN') ?? '')?.[1]);
  const uid = field(text, 'UID');
  return {
    crashId,
    version: required(text, 'NICKNAME', field(text, 'NICKNAME')),
    withUid: uid !== undefined,
    owner: field(text, 'X-CRASH-OWNER') ?? ownerOf(crashId),
    ...(uid !== undefined ? { uid } : {}),
  };
}

/** The device that created an item: every crash id is `DEVICE-LIFE-N` (or `DEVICE-N`), and device ids have no hyphen. */
export const ownerOf = (crashId: string): string => crashId.split('-')[0] as string;

/** Whether `deviceId` may edit or delete this card (see the rule above). */
export const editableBy = (card: Card, deviceId: string): boolean => card.withUid || card.owner === deviceId;
