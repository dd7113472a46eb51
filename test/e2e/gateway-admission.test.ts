// The gateway's admission rules against a real s3d over HTTPS: anonymous requests that never send
// their body hold no request slot, an admitted request that never sends its body is cut after
// requestBodyStartTimeoutMs, an oversized Content-Length is refused before any body byte,
// `Expect: 100-continue` is answered only after authentication, and pipelined responses leave in
// request order even when a later request on the connection is garbage.
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestBodyStartTimeoutMs, unauthenticatedDrainTimeoutMs } from '../../src/util/limits.js';
import { objectPath, rawRequest, signRequest, startServerWithBucket, tlsSocket } from '../helpers/raw-request.js';
import type { S3dServer } from '../helpers/server.js';

const bucket = 'admission';

/** Every status line in a raw HTTP/1.1 response stream, in order (100 Continue included). */
function statuses(text: string): number[] {
  return [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
}

/** Collects what the server sends on `socket` until it closes the connection or `timeoutMs` passes. */
function readUntilClose(socket: TLSSocket, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { text += chunk; });
    socket.once('close', done);
    socket.once('error', done);
  });
}

/** Resolves with the text received once `pattern` appears in it (or rejects after `timeoutMs`). */
function waitForText(socket: TLSSocket, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      if (pattern.test(text)) finish();
    };
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(text);
    };
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error(`no ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(text)}`));
    }, timeoutMs);
    socket.on('data', onData);
  });
}

function head(method: string, path: string, headers: Record<string, string>): string {
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
}

describe('gateway admission', () => {
  let server: S3dServer;

  beforeAll(async () => {
    server = await startServerWithBucket(bucket);
  });

  afterAll(async () => {
    await server?.dispose();
  });

  it('300 anonymous connections that never send their body do not stop an authenticated client', async () => {
    const attackers = new Set<TLSSocket>();
    let attacking = true;
    const attack = async (): Promise<void> => {
      while (attacking) {
        const socket = await tlsSocket(server).catch(() => undefined);
        if (socket === undefined) continue;
        attackers.add(socket);
        socket.on('error', () => undefined);
        socket.write(head('PUT', `/${bucket}/slow`, { host: `127.0.0.1:${server.port}`, 'content-length': '100000' }));
        socket.resume();
        await new Promise<void>((resolve) => socket.once('close', () => resolve()));
        attackers.delete(socket);
      }
    };
    const running = Array.from({ length: 300 }, () => attack());
    try {
      // Every attacker connected and sent its request head before the client starts.
      const deadline = Date.now() + 30_000;
      while (attackers.size < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(attackers.size).toBe(300);
      for (let i = 0; i < 10; i++) {
        const startMs = Date.now();
        const put = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, `ok-${i}`), body: `body ${i}` });
        const get = await rawRequest(server, { method: 'GET', path: objectPath(bucket, `ok-${i}`) });
        const elapsedMs = Date.now() - startMs;
        expect(put.status, put.body.toString()).toBe(200);
        expect(get.status, get.body.toString()).toBe(200);
        expect(get.body.toString()).toBe(`body ${i}`);
        expect(elapsedMs, `PUT + GET ${i} took ${elapsedMs} ms`).toBeLessThan(2_000);
      }
    } finally {
      attacking = false;
      for (const socket of attackers) socket.destroy();
      await Promise.all(running);
    }
    const anonymous = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'ok-0'), auth: 'none' });
    expect(anonymous.status).toBe(403);
  });

  it('an admitted request whose body never comes answers 400 RequestTimeout and closes', async () => {
    const signed = await signRequest(server, { method: 'PUT', path: objectPath(bucket, 'never'), headers: { 'content-length': '10' }, payloadHash: 'UNSIGNED-PAYLOAD' });
    const socket = await tlsSocket(server);
    const startMs = Date.now();
    socket.write(head('PUT', signed.path, signed.headers));
    const text = await readUntilClose(socket, requestBodyStartTimeoutMs + 15_000);
    expect(statuses(text)).toEqual([400]);
    expect(text).toContain('<Code>RequestTimeout</Code>');
    expect(Date.now() - startMs).toBeGreaterThanOrEqual(requestBodyStartTimeoutMs - 1_000);
    expect((await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'never') })).status).toBe(404);
  });

  it('a Content-Length over 5 GiB is refused with EntityTooLarge before any body byte', async () => {
    const sixGiB = String(6 * 1024 ** 3);
    for (const expectHeader of [{ expect: '100-continue' }, {}] as Record<string, string>[]) {
      const signed = await signRequest(server, {
        method: 'PUT', path: objectPath(bucket, 'huge'), headers: { 'content-length': sixGiB, ...expectHeader }, payloadHash: 'UNSIGNED-PAYLOAD',
      });
      const socket = await tlsSocket(server);
      socket.write(head('PUT', signed.path, signed.headers));
      const text = await readUntilClose(socket, 10_000);
      expect(statuses(text)).toEqual([400]);
      expect(text).toContain('<Code>EntityTooLarge</Code>');
      expect(text).toContain(`<ProposedSize>${sixGiB}</ProposedSize>`);
    }
  });

  it('Expect: 100-continue gets 100 only after the signature checks out', async () => {
    const bad = await signRequest(server, {
      method: 'PUT', path: objectPath(bucket, 'expect-bad'), headers: { 'content-length': '5', expect: '100-continue' },
      payloadHash: 'UNSIGNED-PAYLOAD', credentials: { accessKeyId: server.accessKey, secretAccessKey: 'wrong' },
    });
    const refused = await tlsSocket(server);
    const refusedAtMs = Date.now();
    refused.write(head('PUT', bad.path, bad.headers));
    const refusal = await readUntilClose(refused, 10_000);
    // Answered and closed at once: the client never sent its body, so there is nothing to wait for.
    expect(Date.now() - refusedAtMs).toBeLessThan(unauthenticatedDrainTimeoutMs);
    expect(statuses(refusal)).toEqual([403]);
    expect(refusal).toContain('<Code>SignatureDoesNotMatch</Code>');

    const good = await signRequest(server, {
      method: 'PUT', path: objectPath(bucket, 'expect-good'), headers: { 'content-length': '5', expect: '100-continue' }, payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const socket = await tlsSocket(server);
    socket.write(head('PUT', good.path, good.headers));
    expect(statuses(await waitForText(socket, /^HTTP\/1\.1 100 /m, 10_000))).toEqual([100]);
    socket.write('hello');
    const answer = await waitForText(socket, /^HTTP\/1\.1 200 /m, 10_000);
    expect(statuses(answer)).toEqual([200]);
    socket.destroy();
    expect((await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'expect-good') })).body.toString()).toBe('hello');
  });

  it('a pipelined PUT followed by garbage gets 200 then 400, in that order', async () => {
    for (let i = 0; i < 5; i++) {
      const key = `pipelined-${i}`;
      const body = `pipelined body ${i}`;
      const signed = await signRequest(server, { method: 'PUT', path: objectPath(bucket, key), headers: { 'content-length': String(body.length) }, body });
      const socket = await tlsSocket(server);
      socket.write(`${head('PUT', signed.path, signed.headers)}${body}GARBAGE / HTTP/9.9 nonsense\r\n\r\n`);
      const text = await readUntilClose(socket, 15_000);
      expect(statuses(text), text).toEqual([200, 400]);
      const get = await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) });
      expect(get.body.toString()).toBe(body);
    }
  });
});
