import type { Command } from 'commander';
import { loadConfig } from '../server/config.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the sync server (embedded SQLite under --data, or PostgreSQL with --database)')
    .option('--host <host>', 'listen address (default 127.0.0.1, env SYNCPOINT_HOST)')
    .option('--port <port>', 'listen port (default 8080, env SYNCPOINT_PORT)')
    .option('--data <dir>', 'data directory (default ./data, env SYNCPOINT_DATA)')
    .option('--database <url>', 'a postgres:// URL: store everything there instead of SQLite, so several processes can serve it (env SYNCPOINT_DATABASE)')
    .option('--config <file>', 'JSON config file (env SYNCPOINT_CONFIG)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info, env SYNCPOINT_LOG_LEVEL)')
    .option('--push-heartbeat-seconds <s>', 'seconds between push heartbeats (default 30, env SYNCPOINT_PUSH_HEARTBEAT_SECONDS)')
    .option('--public-url <url>', 'the URL clients reach the server at, for Autodiscover (default: the listening address, env SYNCPOINT_PUBLIC_URL)')
    .option('--eas-devices-max <n>', 'ActiveSync devices per account (default 100, env SYNCPOINT_EAS_DEVICES_MAX)')
    .option('--trusted-proxies <list>', 'comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For is believed (env SYNCPOINT_TRUSTED_PROXIES)')
    .option('--metrics-allow <list>', 'comma-separated addresses or CIDR ranges that may read /metrics (default 127.0.0.1,::1; empty: nobody; env SYNCPOINT_METRICS_ALLOW)')
    .option('--secret-key-file <file>', 'the key upstream passwords are sealed with (default on SQLite: DATA.secret-key; required on PostgreSQL for upstreams; env SYNCPOINT_SECRET_KEY_FILE)')
    .option('--upstream-addresses-allow <list>', 'comma-separated loopback, private or link-local addresses or CIDR ranges upstream servers may be at (default none; env SYNCPOINT_UPSTREAM_ADDRESSES_ALLOW)')
    .option('--upstream-run-minutes <m>', 'minutes between runs of each upstream server; 0: only when asked (default 5, env SYNCPOINT_UPSTREAM_RUN_MINUTES)')
    .option('--upstream-watchers-max <n>', 'IMAP upstreams watched for new mail, one connection each; 0: none (default 1000, env SYNCPOINT_UPSTREAM_WATCHERS_MAX)')
    .option('--sync-by-mail <on|off>', 'answer sync requests mailed to the Inbox of watched IMAP upstreams (default on, env SYNCPOINT_SYNC_BY_MAIL)')
    .action(async (opts: { host?: string; port?: string; data?: string; database?: string; config?: string; logLevel?: string; pushHeartbeatSeconds?: string; publicUrl?: string; easDevicesMax?: string; trustedProxies?: string; metricsAllow?: string; secretKeyFile?: string; upstreamRunMinutes?: string; upstreamAddressesAllow?: string; upstreamWatchersMax?: string; syncByMail?: string }) => {
      const config = loadConfig(opts, process.env);
      // Handlers go in before the server starts, so a signal during start-up also ends cleanly.
      // Loaded here, not at the top: every other command would load the whole server to start.
      const starting = import('../server/app.js').then(({ startServer }) => startServer(config));
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`${signal}: shutting down\n`);
        starting
          .then((server) => server.close())
          .then(
            () => process.exit(0),
            (err: unknown) => {
              process.stderr.write(`shutdown failed: ${String(err)}\n`);
              process.exit(1);
            },
          );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      const server = await starting;
      // Logs are JSON on stdout; this one line for people goes to stderr.
      process.stderr.write(`syncpoint serving ${server.url} (${config.database === '' ? `data in ${config.data}` : 'on PostgreSQL'})\n`);
    });
}
