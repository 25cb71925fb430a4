/**
 * The vCards the crash devices write. Each names its item (X-CRASH-ID) and the edit that wrote it
 * (X-CRASH-VERSION, unique across a run), so any row the server holds can be traced to one exact edit.
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
}

export function cardText(card: Card): string {
  const uid = card.withUid ? `UID:crash-${card.crashId}\r\n` : '';
  return (
    `BEGIN:VCARD\r\nVERSION:3.0\r\n${uid}FN:Crash ${card.crashId}\r\n` +
    `X-CRASH-ID:${card.crashId}\r\nX-CRASH-VERSION:${card.version}\r\nX-CRASH-OWNER:${card.owner}\r\nEND:VCARD\r\n`
  );
}

const field = (text: string, name: string): string => {
  const value = new RegExp(`^${name}:(.*)\r$`, 'm').exec(text)?.[1];
  if (value === undefined) throw new Error(`not a crash-test card (no ${name}): ${JSON.stringify(text.slice(0, 200))}`);
  return value;
};

export function parseCard(text: string): Card {
  return {
    crashId: field(text, 'X-CRASH-ID'),
    version: field(text, 'X-CRASH-VERSION'),
    withUid: /^UID:/m.test(text),
    owner: field(text, 'X-CRASH-OWNER'),
  };
}

/** Whether `deviceId` may edit or delete this card (see the rule above). */
export const editableBy = (card: Card, deviceId: string): boolean => card.withUid || card.owner === deviceId;
