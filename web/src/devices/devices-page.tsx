import { useState } from 'preact/hooks';
import type { DailyActivityInfo, DeviceList, SyncNow } from '../../../src/protocol/devices.js';
import { api } from '../api.js';
import { StatusMessage } from '../ui/status.js';
import { useAction } from '../ui/use-action.js';
import { AccountEmail } from './account-email.js';
import { AppPasswords } from './app-passwords.js';
import { ChangePassword } from './change-password.js';
import { DailyChart } from './daily-chart.js';
import { DeviceTable } from './device-table.js';
import { useResource } from '../ui/use-resource.js';
import './devices.css';

/** How often the sync health is re-read: often enough to watch a device come online. */
const refreshMs = 10_000;

/** #/devices: every sync point of the account and its health, the priority order, the daily chart, app passwords, the password. */
export function DevicesPage() {
  const devices = useResource(() => api<DeviceList>('GET', '/api/v1/devices').then((a) => a.devices), refreshMs);
  const stats = useResource(() => api<DailyActivityInfo>('GET', '/api/v1/stats/daily?days=30'), refreshMs);
  const syncNow = useAction();
  const [asked, setAsked] = useState<string | null>(null);

  const reload = async () => {
    await Promise.all([devices.reload(), stats.reload()]);
  };

  const askToSync = () => {
    if (syncNow.busy) return;
    setAsked(null);
    void syncNow.run(async () => {
      const answer = await api<SyncNow>('POST', '/api/v1/sync-now');
      const { online, offline } = answer.serverDriven;
      const points = online.length + offline.length === 0 ? '' : `; synced ${online.length} server-driven ${online.length === 1 ? 'point' : 'points'}${offline.length > 0 ? ` (${offline.length} unreachable)` : ''}`;
      setAsked(`Asked ${answer.asked} ${answer.asked === 1 ? 'device' : 'devices'} to sync${points}`);
      await reload();
    });
  };

  return (
    <section class="page devices-page" aria-labelledby="devices-heading">
      <div class="page-head">
        <h1 id="devices-heading">Devices</h1>
        <button type="button" class="button primary" onClick={askToSync} aria-disabled={syncNow.busy}>
          Sync now
        </button>
      </div>
      <StatusMessage error={syncNow.error && `Could not ask the devices to sync: ${syncNow.error}`} message={syncNow.busy ? 'Asking…' : asked} />
      <section aria-labelledby="sync-points-heading">
        <h2 id="sync-points-heading">Sync points</h2>
        {devices.error && (
          <p class="error" role="alert">
            Could not load the devices: {devices.error}
          </p>
        )}
        {devices.data ? <DeviceTable devices={devices.data} onSaved={devices.set} reload={reload} /> : !devices.error && <p>Loading…</p>}
      </section>
      {stats.error && (
        <p class="error" role="alert">
          Could not load the daily figures: {stats.error}
        </p>
      )}
      {stats.data && <DailyChart stats={stats.data} />}
      <AppPasswords />
      <AccountEmail />
      <ChangePassword />
    </section>
  );
}
