import { reportedAddress } from '../../../protocol/account.js';
import type { EasContext } from '../context.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * Settings (MS-ASCMD 2.2.1.18): the device tells us about itself (DeviceInformation Set; its friendly
 * name or model becomes the device's name on the devices page), and asks who the user is
 * (UserInformation Get). Out-of-office, device passwords and rights management are not held here
 * (docs/eas.md "Commands"): no mail is served, so no automatic reply is ever sent.
 */
const s = namespace('Settings');

export const settingsStatus = { success: 1, protocolError: 2, deniedByPolicy: 7 } as const;

const deviceFields = ['Model', 'IMEI', 'FriendlyName', 'OS', 'OSLanguage', 'PhoneNumber', 'UserAgent', 'EnableOutboundSMS', 'MobileOperator'];

/** Device fields are kept this long at most; they are for people to read on the devices page. */
const fieldCharsMax = 200;

/**
 * Stores what a device says about itself (a Settings or Provision DeviceInformation element) and names
 * the device after it; returns the DeviceInformation answer.
 */
export async function noteDeviceInformation(ctx: EasContext, information: WbxmlElement | undefined): Promise<WbxmlElement | undefined> {
  const set = child(information, 'Set');
  if (!set) return undefined;
  const info = Object.fromEntries(deviceFields.flatMap((f) => (text(child(set, f)) !== undefined ? [[f, (text(child(set, f)) as string).slice(0, fieldCharsMax)]] : [])));
  const name = info.FriendlyName || info.Model || undefined;
  await ctx.hub.withFaceState({ ...ctx.point, device: { ...ctx.point.device, name } }, 'eas.deviceInformation', () => ({ state: JSON.stringify(info), result: undefined }));
  return s('DeviceInformation', s('Status', String(settingsStatus.success)));
}

export async function settings(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const parts: WbxmlElement[] = [];
  const device = await noteDeviceInformation(ctx, child(body, 'DeviceInformation'));
  if (device) parts.push(device);
  if (child(child(body, 'UserInformation'), 'Get')) {
    // Phones take this for the account's SMTP address (iOS will not send without one): the address set
    // for the account, else its name (docs/eas.md § Setting up a phone).
    const account = await ctx.hub.accounts.get(ctx.point.accountId);
    const address = account ? reportedAddress(account) : ctx.principal.accountName;
    // 14.1 reshaped the answer into accounts (MS-ASCMD 2.2.3.4, 2.2.3.145); 14.0 has the flat list.
    const get =
      ctx.request.version === '14.0'
        ? s('Get', s('EmailAddresses', s('SMTPAddress', address)))
        : s('Get', s('Accounts', s('Account', s('UserDisplayName', address), s('EmailAddresses', s('PrimarySmtpAddress', address)))));
    parts.push(s('UserInformation', s('Status', String(settingsStatus.success)), get));
  }
  const oof = child(body, 'Oof');
  if (oof) parts.push(outOfOffice(oof));
  for (const unsupported of ['DevicePassword', 'RightsManagementInformation']) {
    if (child(body, unsupported)) parts.push(s(unsupported, s('Status', String(settingsStatus.protocolError))));
  }
  return s('Settings', s('Status', String(settingsStatus.success)), ...parts);
}

/**
 * Out of office (MS-ASCMD 2.2.3.122): a Get is told the truth, that it is off (OofState 0); a Set that
 * turns it off succeeds, as there is nothing to turn off; a Set that turns it on is refused with Status 7
 * (denied by policy: this server sends no automatic replies), so the device does not show it as on.
 */
function outOfOffice(oof: WbxmlElement): WbxmlElement {
  if (child(oof, 'Get')) return s('Oof', s('Status', String(settingsStatus.success)), s('Get', s('OofState', '0')));
  const set = child(oof, 'Set');
  if (!set) return s('Oof', s('Status', String(settingsStatus.protocolError)));
  const state = text(child(set, 'OofState'));
  return s('Oof', s('Status', String(state === undefined || state === '0' ? settingsStatus.success : settingsStatus.deniedByPolicy)));
}
