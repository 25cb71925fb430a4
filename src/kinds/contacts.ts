import { areTwins } from '../core/twins.js';
import type { Kind } from './kind.js';
import { vcardFormat } from './vcard-icalendar.js';

/** Contacts: one vCard per item; a twin shares the UID, or the name and an email address or phone number. */
export const contactsKind: Kind = {
  name: 'contacts',
  format: vcardFormat,
  contentType: 'text/vcard; charset=utf-8',
  fileExtension: '.vcf',
  areTwins,
  faces: { dav: { collection: 'addressbook' }, eas: { class: 'Contacts', defaultFolderType: 9, userFolderType: 14 } },
};
