import type { Command } from 'commander';
import { hostname } from 'node:os';
import { HttpTransport } from '../sdk/transport.js';
import { obtainPassword } from './password.js';

/** `syncpoint watch`: prints every push message as one JSON line, for people and scripts. */
export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('print each push notification as one JSON line (Ctrl-C stops)')
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--user <name>', 'account name')
    .option('--device <id>', 'the sync point id to listen as', `watch-${hostname()}`)
    .option('--collections <ids>', 'comma-separated collection ids (default: all)')
    .option('--password-stdin', 'read the password or app token from standard input (else SYNCPOINT_PASSWORD or a prompt)')
    .action(async (opts: { server: string; user: string; device: string; collections?: string; passwordStdin?: boolean }) => {
      const [{ openNodeSocket }, { PushSubscriber }] = await Promise.all([import('../sdk/node/websocket.js'), import('../sdk/push.js')]);
      const password = await obtainPassword(opts, process.env, false);
      const subscriber = new PushSubscriber({
        transport: new HttpTransport({ baseUrl: opts.server, credentials: { user: opts.user, password } }),
        deviceId: opts.device,
        ...(opts.collections ? { collections: opts.collections.split(',') } : {}),
        openSocket: openNodeSocket,
        onMessage: (message) => process.stdout.write(`${JSON.stringify(message)}\n`),
        onError: (err) => process.stderr.write(`watch: ${err instanceof Error ? err.message : String(err)}\n`),
      });
      subscriber.start();
      await new Promise<void>((resolve) => {
        const stop = () => void subscriber.stop().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
