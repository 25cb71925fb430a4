/**
 * The push benchmark's floor, run as its own process (bench/push.bench.ts forks it) as the server it is
 * compared with runs in one: a bare `ws` server that broadcasts the body of each HTTP POST, as a string,
 * to every connected socket, then answers the POST. It tells the bench its port over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const http = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    for (const client of wss.clients) client.send(body);
    res.end('ok');
  });
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
http.listen(0, '127.0.0.1', () => process.send?.({ port: (http.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
