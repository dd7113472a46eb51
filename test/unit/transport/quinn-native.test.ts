// The typed adapter over the QUIC engine: key and peer id encodings against known values, and a
// real loopback connection whose peer ids match the ones derived from the configured keys.
import { describe, expect, it } from 'vitest';
import { generateNodeKey, identityFromPem } from '../../../src/transport/identity.js';
import {
  StreamSource, base58btc, loadQuinnEngine, peerIdOfMultiaddr, peerIdOfPublicKey, privateKeyProto,
  type QuinnConfigOptions,
} from '../../../src/transport/quinn-native.js';
import { raceAbort } from '../../../src/transport/race-abort.js';

function newIdentity() {
  return identityFromPem(generateNodeKey().privateKeyPem);
}

function configOptions(identity: ReturnType<typeof newIdentity>): QuinnConfigOptions {
  return {
    privateKeyProto: privateKeyProto(identity), handshakeTimeout: 2000, maxIdleTimeout: 5000, keepAliveInterval: 1000,
    maxConcurrentStreamLimit: 16, maxStreamData: 1 << 20, maxConnectionData: 4 << 20, receiveBufferSize: 1 << 20, sendBufferSize: 1 << 20,
  };
}

describe('key and peer id encoding', () => {
  it('base58btc matches the Bitcoin alphabet, leading zeros as 1', () => {
    expect(base58btc(Buffer.from('hello world'))).toBe('StV1DL6CwTryKyV');
    expect(base58btc(Buffer.from([0, 0, 1]))).toBe('112');
    expect(base58btc(Buffer.alloc(0))).toBe('');
  });

  it('derives the libp2p peer id of an Ed25519 key (libp2p spec test vector)', () => {
    // The Ed25519 key of the libp2p peer-ids spec; the id was checked against @libp2p/peer-id 6.0.15.
    const key = Buffer.from('1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e', 'hex');
    expect(peerIdOfPublicKey(key)).toBe('12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq');
    expect(() => peerIdOfPublicKey(key.subarray(1))).toThrow(/32 bytes/);
  });

  it('encodes the private key protobuf as type Ed25519 with seed || public', () => {
    const identity = newIdentity();
    const proto = privateKeyProto(identity);
    expect(proto.length).toBe(68);
    expect([...proto.subarray(0, 4)]).toEqual([0x08, 0x01, 0x12, 0x40]);
    expect(proto.subarray(4, 36).equals(identity.seed)).toBe(true);
    expect(proto.subarray(36).equals(identity.publicKeyRaw)).toBe(true);
  });

  it('reads the peer id of a multiaddr', () => {
    expect(peerIdOfMultiaddr('/ip4/127.0.0.1/udp/5/quic-v1/p2p/12D3KooWabc')).toBe('12D3KooWabc');
    expect(peerIdOfMultiaddr('/ip4/127.0.0.1/udp/5/quic-v1')).toBeUndefined();
  });
});

describe('native engine on loopback', () => {
  it('connects, authenticates both sides by derived peer id, and carries a stream both ways', async () => {
    const engine = await loadQuinnEngine();
    const serverId = newIdentity();
    const clientId = newIdentity();
    const server = engine.createServer(engine.createConfig(configOptions(serverId)), '127.0.0.1', 0);
    const client = engine.createClient(engine.createConfig(configOptions(clientId)), 4);
    try {
      const accepted = server.inboundConnection();
      const outbound = await client.outboundConnection('127.0.0.1', server.port());
      const inbound = await accepted;
      expect(peerIdOfMultiaddr(outbound.remoteMultiaddr())).toBe(peerIdOfPublicKey(serverId.publicKeyRaw));
      expect(peerIdOfMultiaddr(inbound.remoteMultiaddr())).toBe(peerIdOfPublicKey(clientId.publicKeyRaw));

      const heardBefore = outbound.stats().udpRxDatagrams;
      expect(heardBefore).toBeGreaterThan(0); // the handshake's datagrams
      const stream = await outbound.outboundStream();
      await stream.write(Buffer.from('ping'));
      await stream.finishWrite();
      const peerStream = await inbound.inboundStream();
      const signal = new AbortController().signal;
      const received: Buffer[] = [];
      for await (const chunk of new StreamSource(peerStream, 2, 1024, signal, (e) => e as Error)) received.push(Buffer.from(chunk));
      expect(Buffer.concat(received).toString()).toBe('ping');
      await peerStream.write(Buffer.from('pong'));
      await peerStream.finishWrite();
      const reply = new StreamSource(stream, 2, 1024, signal, (e) => e as Error);
      const replied: Buffer[] = [];
      for await (const chunk of reply) replied.push(Buffer.from(chunk));
      expect(Buffer.concat(replied).toString()).toBe('pong');
      expect(reply.finished).toBe(true);
      expect(outbound.stats().udpRxDatagrams).toBeGreaterThan(heardBefore); // 'pong' came in datagrams
      outbound.abort();
    } finally {
      client.abort();
      await server.abort();
    }
  });

  it('raceAbort rejects with the abort reason while the native read stays pending', async () => {
    const controller = new AbortController();
    const never = new Promise<number>(() => {});
    const raced = raceAbort(never, controller.signal);
    controller.abort(new Error('deadline'));
    await expect(raced).rejects.toThrow('deadline');
    let late = 0;
    const settled = raceAbort(Promise.resolve(7), AbortSignal.abort(new Error('already')), (value) => (late = value));
    await expect(settled).rejects.toThrow('already');
    await new Promise((resolve) => setImmediate(resolve));
    expect(late).toBe(7);
  });
});
