import { it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { objectPath, rawRequest, signRequest, tlsSocket } from './raw-request.js';
import { startServer } from './server.js';
it('probe', async () => {
  const server = await startServer();
  await rawRequest(server, { method: 'PUT', path: '/p' });
  const signed = await signRequest(server, { method: 'PUT', path: objectPath('p', 'k'), payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(1 << 20) } });
  const socket = await tlsSocket(server);
  let data = '';
  socket.on('data', (d) => (data += d));
  socket.on('error', (e) => console.log('sock error', e.message));
  const t = Date.now();
  socket.write([`PUT ${signed.path} HTTP/1.1`, ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n'));
  socket.write(randomBytes(100 * 1024));
  socket.end();
  socket.on('end', () => console.log('server FIN after', Date.now() - t));
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 30000))]);
  console.log('closed after', Date.now() - t, 'response:', JSON.stringify(data.slice(0, 300)));
  const headers: Record<string, string> = {};
  for (let i = 0; i < 64; i++) headers[`x-amz-meta-h${i}`] = 'v'.repeat(1000);
  try { const r = await rawRequest(server, { method: 'PUT', path: objectPath('p', 'h'), body: 'x', headers }); console.log('big headers', r.status, r.headers, r.body.toString().slice(0, 300)); } catch (e) { console.log('big headers error', (e as Error).message); }
  await server.dispose();
}, 60000);
