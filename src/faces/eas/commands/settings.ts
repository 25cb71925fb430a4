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

export async function settings(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const parts: WbxmlElement[] = [];
  const set = child(child(body, 'DeviceInformation'), 'Set');
  if (set) {
    const info = Object.fromEntries(deviceFields.flatMap((f) => (text(child(set, f)) !== undefined ? [[f, text(child(set, f)) as string]] : [])));
    const name = (info.FriendlyName || info.Model || '').slice(0, 200) || undefined;
    await ctx.hub.withFaceState({ ...ctx.point, device: { ...ctx.point.device, name } }, 'eas.deviceInformation', () => ({ state: JSON.stringify(info), result: undefined }));
    parts.push(s('DeviceInformation', s('Status', String(settingsStatus.success))));
  }
  if (child(child(body, 'UserInformation'), 'Get')) {
    parts.push(s('UserInformation', s('Status', String(settingsStatus.success)), s('Get', s('EmailAddresses', s('SMTPAddress', ctx.principal.accountName)))));
  }
  for (const unsupported of ['Oof', 'DevicePassword', 'RightsManagementInformation']) {
    if (child(body, unsupported)) parts.push(s(unsupported, s('Status', String(settingsStatus.protocolError))));
  }
  return s('Settings', s('Status', String(settingsStatus.success)), ...parts);
}
