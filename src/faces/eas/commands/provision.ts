import { randomInt } from 'node:crypto';
import type { EasContext } from '../context.js';
import { child, namespace, text, type WbxmlElement } from '../wbxml/element.js';
import { noteDeviceInformation } from './settings.js';

/**
 * Provision (MS-ASPROV): for clients that will not sync before they are provisioned. We hand out a
 * permissive policy (no device password, nothing disabled) in the usual two steps: the policy with a
 * temporary key, then, once the client acknowledges it, the final key. Requests without a policy key
 * are served anyway: the policy asks nothing of the device, so there is nothing to enforce.
 */
const p = namespace('Provision');

export const provisionStatus = { success: 1, protocolError: 2 } as const;
const policyType = 'MS-EAS-Provisioning-WBXML';

export async function provision(ctx: EasContext, body: WbxmlElement | undefined): Promise<WbxmlElement> {
  const policy = child(child(body, 'Policies'), 'Policy');
  const remoteWipe = child(body, 'RemoteWipe');
  if (remoteWipe) return p('Provision', p('Status', String(provisionStatus.success)), p('RemoteWipe', p('Status', '1')));
  // From 14.1 the device tells about itself here rather than in Settings (MS-ASPROV 2.2.2.52); its
  // answer comes first in the response.
  const device = await noteDeviceInformation(ctx, child(body, 'DeviceInformation', 'Settings'));
  if (!policy || text(child(policy, 'PolicyType')) !== policyType) {
    // The unknown type is named back, cut to a type name's length: the answer never echoes a large body.
    const asked = (text(child(policy, 'PolicyType')) ?? '').slice(0, policyType.length * 2);
    return p('Provision', device, p('Status', String(provisionStatus.success)), p('Policies', p('Policy', p('PolicyType', asked), p('Status', '3'))));
  }
  const key = String(randomInt(1, 2 ** 31));
  const acknowledged = text(child(policy, 'PolicyKey')) !== undefined;
  return p(
    'Provision',
    device,
    p('Status', String(provisionStatus.success)),
    p('Policies', p('Policy', p('PolicyType', policyType), p('Status', '1'), p('PolicyKey', key), !acknowledged && p('Data', provisionDoc()))),
  );
}

function provisionDoc(): WbxmlElement {
  const settings: Array<[string, string]> = [
    ['DevicePasswordEnabled', '0'],
    ['AlphanumericDevicePasswordRequired', '0'],
    ['PasswordRecoveryEnabled', '0'],
    ['RequireStorageCardEncryption', '0'],
    ['AttachmentsEnabled', '1'],
    ['AllowSimpleDevicePassword', '1'],
    ['AllowStorageCard', '1'],
    ['AllowCamera', '1'],
    ['RequireDeviceEncryption', '0'],
    ['AllowUnsignedApplications', '1'],
    ['AllowUnsignedInstallationPackages', '1'],
    ['AllowWiFi', '1'],
    ['AllowTextMessaging', '1'],
    ['AllowPOPIMAPEmail', '1'],
    ['AllowBrowser', '1'],
    ['AllowConsumerEmail', '1'],
    ['AllowInternetSharing', '1'],
  ];
  return p('EASProvisionDoc', ...settings.map(([name, value]) => p(name, value)));
}
