import { connect, type Socket } from 'node:net';

/**
 * A small Marionette client (the remote protocol Firefox and Thunderbird speak with --marionette): one TCP
 * connection carrying length-prefixed JSON frames, `N:{json}`. Commands are `[0, id, name, params]`, and
 * answers `[1, id, error, result]`. Enough to open a session, switch to chrome context and run scripts
 * there; every call has a timeout, and a closed socket fails whatever is pending.
 */

export class MarionetteError extends Error {
  constructor(
    readonly command: string,
    readonly error: string,
    message: string,
    readonly stacktrace?: string,
  ) {
    super(`${command}: ${error}: ${message}${stacktrace ? `\n${stacktrace}` : ''}`);
  }
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class Marionette {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | undefined;
  private hello: ((frame: unknown) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error) => {
      this.closedError ??= err;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        this.pending.delete(id);
        p.reject(new Error(`${p.command}: ${err.message}`));
      }
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('Marionette connection closed')));
  }

  /** Connects, reads the server's greeting and opens a WebDriver session. */
  static async connect(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<Marionette> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no Marionette connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    socket.setNoDelay(true);
    const client = new Marionette(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no Marionette greeting')), timeoutMs);
      client.hello = (frame) => {
        clearTimeout(timer);
        const protocol = (frame as { marionetteProtocol?: number }).marionetteProtocol;
        if (protocol !== 3) reject(new Error(`unexpected Marionette greeting ${JSON.stringify(frame)}`));
        else resolve();
      };
    }).catch((err) => {
      socket.destroy();
      throw err;
    });
    return client;
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const colon = this.buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.buffer.subarray(0, colon).toString('ascii'));
      if (!Number.isInteger(length) || length < 0) {
        this.socket.destroy(new Error(`bad Marionette frame header ${JSON.stringify(this.buffer.subarray(0, colon + 1).toString())}`));
        return;
      }
      if (this.buffer.length < colon + 1 + length) return;
      const body = this.buffer.subarray(colon + 1, colon + 1 + length).toString('utf8');
      this.buffer = this.buffer.subarray(colon + 1 + length);
      this.onFrame(JSON.parse(body) as unknown);
    }
  }

  private onFrame(frame: unknown): void {
    if (!Array.isArray(frame)) {
      const hello = this.hello;
      this.hello = undefined;
      hello?.(frame);
      return;
    }
    const [type, id, error, result] = frame as [number, number, { error: string; message: string; stacktrace?: string } | null, unknown];
    if (type !== 1) return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (error) p.reject(new MarionetteError(p.command, error.error, error.message, error.stacktrace));
    else p.resolve(result);
  }

  /** Sends one command and waits for its answer. */
  send<T = unknown>(command: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.closedError) return Promise.reject(new Error(`${command}: ${this.closedError.message}`));
    const id = this.nextId++;
    const body = Buffer.from(JSON.stringify([0, id, command, params]), 'utf8');
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${command}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(Buffer.concat([Buffer.from(`${body.length}:`, 'ascii'), body]));
    });
  }

  /** Opens the session and switches to chrome context (the privileged one, where add-on modules live). */
  async startChromeSession(scriptTimeoutMs = 120_000): Promise<void> {
    await this.send('WebDriver:NewSession', { capabilities: { alwaysMatch: { 'moz:accessibilityChecks': false } } });
    await this.send('Marionette:SetContext', { value: 'chrome' });
    await this.send('WebDriver:SetTimeouts', { script: scriptTimeoutMs });
  }

  /** Runs `script` as a function body; its return value (awaited if a promise) comes back as JSON. */
  async execute<T = unknown>(script: string, args: unknown[] = [], timeoutMs = 60_000): Promise<T> {
    const result = await this.send<{ value: T }>('WebDriver:ExecuteScript', { script, args, newSandbox: false, sandbox: 'syncpoint' }, timeoutMs);
    return result.value;
  }

  /**
   * Runs `script` as a function body whose last argument is a callback `resolve(value)`; resolves with that
   * value. A script that throws or rejects inside should call resolve({ error }) itself.
   */
  async executeAsync<T = unknown>(script: string, args: unknown[] = [], timeoutMs = 60_000): Promise<T> {
    const result = await this.send<{ value: T }>('WebDriver:ExecuteAsyncScript', { script, args, newSandbox: false, sandbox: 'syncpoint' }, timeoutMs);
    return result.value;
  }

  /**
   * Runs `body` as the body of an async function in chrome context, with `args` as `args`; resolves with
   * what it returns (JSON-serializable) and rejects with the message and stack of what it throws.
   */
  async run<T = unknown>(body: string, args: unknown[] = [], timeoutMs = 60_000): Promise<T> {
    const script = `
      const resolve = arguments[arguments.length - 1];
      const args = Array.prototype.slice.call(arguments, 0, -1);
      (async (args) => {\n${body}\n})(args).then(
        (value) => resolve({ ok: true, value: value === undefined ? null : value }),
        (err) => resolve({ ok: false, error: String(err && err.message || err), stack: String(err && err.stack || '') }),
      );`;
    const answer = await this.executeAsync<{ ok: boolean; value?: T; error?: string; stack?: string }>(script, args, timeoutMs);
    if (!answer.ok) throw new Error(`script failed: ${answer.error}\n${answer.stack}`);
    return answer.value as T;
  }

  /** Ends the session (best effort) and closes the socket. */
  async close(): Promise<void> {
    if (!this.closedError) await this.send('WebDriver:DeleteSession', {}, 5000).catch(() => undefined);
    this.socket.destroy();
  }
}
