import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Marionette } from './marionette.js';

/**
 * Debian's Thunderbird, headless, with a fresh profile and Marionette on a port of its own, for the real
 * ActiveSync client test (TbSync and EAS-4-TbSync, which .ci/setup installs into
 * /usr/lib/thunderbird/extensions). The process is spawned, never waited for synchronously: the server
 * under test lives in the same Node process.
 */

export const thunderbirdPath = process.env.SYNCPOINT_THUNDERBIRD ?? findThunderbird();

function findThunderbird(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'thunderbird');
    if (dir && existsSync(candidate)) return candidate;
  }
  return existsSync('/usr/bin/thunderbird') ? '/usr/bin/thunderbird' : undefined;
}

/** The extensions directory Debian's webext-* packages install into. */
export const systemExtensionsDir = '/usr/lib/thunderbird/extensions';

/** Preferences for a quiet, unattended profile: no first-run dialogs, telemetry, update or network checks. */
function userJs(extra: Record<string, string | number | boolean>): string {
  const prefs: Record<string, string | number | boolean> = {
    // The system-wide add-ons (app scope) load without a prompt, unsigned if need be.
    'extensions.autoDisableScopes': 0,
    'extensions.enabledScopes': 15,
    'xpinstall.signatures.required': false,
    'extensions.update.enabled': false,
    'extensions.update.autoUpdateDefault': false,
    'extensions.getAddons.cache.enabled': false,
    'extensions.systemAddon.update.enabled': false,
    // Marionette on a port the OS picks (written to MarionetteActivePort in the profile).
    'marionette.port': 0,
    // First-run, default client and account setup screens.
    'mail.shell.checkDefaultClient': false,
    'mail.shell.checkDefaultMail': false,
    'mail.provider.enabled': false,
    'mail.provider.suppress_dialog_on_startup': true,
    'mail.accounthub.enabled': false,
    'mailnews.start_page.enabled': false,
    'mailnews.start_page_override.mstone': 'ignore',
    'mail.rights.override': true,
    'mail.startup.enabledMailCheckOnce': true,
    'mail.biff.show_alert': false,
    'browser.shell.checkDefaultBrowser': false,
    'browser.aboutwelcome.enabled': false,
    'calendar.timezone.useSystemTimezone': false,
    'calendar.timezone.local': 'UTC',
    'calendar.alarms.show': false,
    'calendar.alarms.playsound': false,
    // Updates, telemetry and background network traffic.
    'app.update.enabled': false,
    'app.update.auto': false,
    'app.update.checkInstallTime': false,
    'app.update.disabledForTesting': true,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.unified': false,
    'toolkit.telemetry.server': '',
    'toolkit.telemetry.reportingpolicy.firstRun': false,
    'toolkit.startup.max_resumed_crashes': -1,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'browser.safebrowsing.downloads.enabled': false,
    'browser.safebrowsing.provider.mozilla.updateURL': '',
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'network.dns.disablePrefetch': true,
    'network.prefetch-next': false,
    'network.proxy.type': 0,
    'services.settings.server': 'http://127.0.0.1:1/',
    'media.gmp-manager.url': '',
    'messaging-system.rsexperimentloader.enabled': false,
    ...extra,
  };
  return Object.entries(prefs)
    .map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});`)
    .join('\n')
    .concat('\n');
}

export interface Thunderbird {
  profile: string;
  marionette: Marionette;
  /** Everything Thunderbird printed, for diagnostics. */
  output(): string;
  /** Ends the session, kills the process and removes the profile. */
  stop(): Promise<void>;
}

/** Starts Thunderbird headless on a fresh profile and connects to its Marionette in chrome context. */
export async function launchThunderbird(options: { prefs?: Record<string, string | number | boolean>; startTimeoutMs?: number } = {}): Promise<Thunderbird> {
  if (!thunderbirdPath) throw new Error('thunderbird is not installed; .ci/setup installs it');
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const profile = mkdtempSync(join(tmpdir(), 'syncpoint-thunderbird-'));
  writeFileSync(join(profile, 'user.js'), userJs(options.prefs ?? {}));
  let output = '';
  const child: ChildProcess = spawn(thunderbirdPath, ['--headless', '--marionette', '-remote-allow-system-access', '--no-remote', '--profile', profile], {
    env: { ...process.env, MOZ_HEADLESS: '1', TZ: 'UTC', MOZ_CRASHREPORTER_DISABLE: '1', MOZ_DISABLE_AUTO_SAFE_MODE: '1', LANG: 'en_US.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  child.once('error', (err) => append(Buffer.from(`spawn error: ${err.message}\n`)));

  // If the test process dies first, Thunderbird (its own process group) goes with it.
  const killOnExit = () => {
    try {
      if (child.pid !== undefined && !exited) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);

  const kill = async () => {
    process.removeListener('exit', killOnExit);
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, 5000);
      await exit;
      clearTimeout(timer);
    }
  };

  try {
    const port = await waitForPort(profile, () => exited, startTimeoutMs, () => output);
    const marionette = await connectWithRetry(port, Date.now() + startTimeoutMs);
    await marionette.startChromeSession();
    return {
      profile,
      marionette,
      output: () => output,
      async stop() {
        await marionette.close();
        await kill();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await kill();
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`Thunderbird did not start: ${(err as Error).message}\n--- output ---\n${output.slice(-5000)}`);
  }
}

/** Marionette writes the port it listens on to MarionetteActivePort in the profile once it is up. */
async function waitForPort(profile: string, exited: () => unknown, timeoutMs: number, output: () => string): Promise<number> {
  const file = join(profile, 'MarionetteActivePort');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      const port = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(port) && port > 0) return port;
    }
    // Older builds print the port rather than write the file.
    const printed = /Listening on port (\d+)/.exec(output());
    if (printed) return Number(printed[1]);
    if (exited()) throw new Error(`thunderbird exited early (${JSON.stringify(exited())})`);
    if (Date.now() > deadline) throw new Error(`no Marionette port within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function connectWithRetry(port: number, deadline: number): Promise<Marionette> {
  for (;;) {
    try {
      return await Marionette.connect(port);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
