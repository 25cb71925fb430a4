import { z } from 'zod';

/**
 * The account's own settings (docs/protocol.md §19.1): its email address, which ActiveSync reports
 * to phones as the account's SMTP address (Settings UserInformation, docs/eas.md).
 */

/** RFC 5321 bounds an address at 254 characters, its local part at 64. */
export const emailAddressCharsMax = 254;

/** A plain addr-spec (dot-atom local part, host name): what phones accept as an SMTP address. */
const emailAddressPattern = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Why `address` is not an email address this server keeps, or undefined when it is one. */
export function emailAddressProblem(address: string): string | undefined {
  if (address.length > emailAddressCharsMax) return `an email address has at most ${emailAddressCharsMax} characters`;
  if (!emailAddressPattern.test(address) || address.indexOf('@') > 64) return `${JSON.stringify(address.slice(0, 80))} is not an email address like name@example.com`;
  return undefined;
}

/** What ActiveSync reports when no address is set: the account name (which may itself be an address). */
export function reportedAddress(account: { name: string; email: string | null }): string {
  return account.email ?? account.name;
}

export const accountInfoSchema = z.object({
  name: z.string(),
  /** Absent when none is set. */
  email: z.string().optional(),
  /** The address ActiveSync reports: `email`, or the account name when none is set. */
  reportedEmail: z.string(),
});
export type AccountInfo = z.infer<typeof accountInfoSchema>;

/** An empty string clears the address. */
export const setEmailSchema = z.object({ email: z.string().max(emailAddressCharsMax) });
