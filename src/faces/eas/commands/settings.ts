import type { EasContext } from '../context.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';

/**
 * Settings (MS-ASCMD 2.2.1.18): the device tells us about itself (DeviceInformation Set; its friendly
 * name or model becomes the device's name on the devices page), and asks who the user is
 * (UserInformation Get). Out-of-office, device passwords and rights management are not held here.
 */
const s = namespace('Settings');

export const settingsStatus = { success: 1, protocolError: 2 } as const;

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
    const address = ctx.principal.accountName;
    // 14.1 reshaped the answer into accounts (MS-ASCMD 2.2.3.4, 2.2.3.145); 14.0 has the flat list.
    const get =
      ctx.request.version === '14.0'
        ? s('Get', s('EmailAddresses', s('SMTPAddress', address)))
        : s('Get', s('Accounts', s('Account', s('UserDisplayName', address), s('EmailAddresses', s('PrimarySmtpAddress', address)))));
    parts.push(s('UserInformation', s('Status', String(settingsStatus.success)), get));
  }
  for (const unsupported of ['Oof', 'DevicePassword', 'RightsManagementInformation']) {
    if (child(body, unsupported)) parts.push(s(unsupported, s('Status', String(settingsStatus.protocolError))));
  }
  return s('Settings', s('Status', String(settingsStatus.success)), ...parts);
}
