// The S3 gateway of a node as one process serves it: built from the config and credentials, and
// listening on the configured HTTPS (and optional HTTP) port. Used by the node's own process
// (config `workers` 1) and by each gateway worker process (gateway-worker.ts).
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { ObjectLayer } from '../object/object-layer.js';
import { S3Gateway } from '../s3/server.js';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import type { RequestActivity } from '../util/request-activity.js';
import type { Credentials } from './credentials.js';

/** The gateway over `objects` with the node's region, domains and root credentials. */
export function makeGateway(config: Config, objects: ObjectLayer, credentials: Credentials, activity: RequestActivity, log: Logger): S3Gateway {
  const ownerId = createHash('sha256').update(credentials.accessKey).digest('hex');
  return new S3Gateway({
    objects,
    settings: { region: config.region, owner: { id: ownerId, displayName: 'tessera' }, blockSizeBytes: config.blockSizeBytes },
    domains: config.domains,
    credentials: new Map([[credentials.accessKey, credentials.secretKey]]),
    log,
    activity,
  });
}

/** 'localhost' for a wildcard bind address, brackets around IPv6. */
export function endpointHost(address: string): string {
  if (address === '0.0.0.0' || address === '::') return 'localhost';
  return address.includes(':') ? `[${address}]` : address;
}

/** The S3 listeners' protocols. */
export type GatewayProtocol = 'https' | 'http';

/** ListenFailed for a listen error that says the port is taken or not allowed; other errors as they are. */
export function listenFailed(err: unknown, address: string, port: number): unknown {
  if (errorCodeOf(err) !== 'EADDRINUSE' && errorCodeOf(err) !== 'EACCES') return err;
  const where = err as { address?: string; port?: number };
  return new TesseraError('ListenFailed', `cannot listen on ${where.address ?? address}:${where.port ?? port}: ${(err as Error).message}`);
}

/** The listeners config asks for: HTTPS on config.port, and HTTP on config.httpPort when set. */
export function configuredListeners(config: Config): Array<{ protocol: GatewayProtocol; address: string; port: number }> {
  return [
    { protocol: 'https', address: config.address, port: config.port },
    ...(config.httpPort !== undefined ? [{ protocol: 'http' as const, address: config.address, port: config.httpPort }] : []),
  ];
}

/** 'https://127.0.0.1:8443' for each listener, in configuredListeners' order. */
export function endpointsOf(config: Config, ports: readonly number[]): string[] {
  const host = endpointHost(config.address);
  return configuredListeners(config).map((listener, i) => `${listener.protocol}://${host}:${ports[i] ?? listener.port}`);
}

/**
 * Listens on config.port (HTTPS with `tls`, PEM) and config.httpPort when set; resolves with the
 * endpoints, e.g. ['https://127.0.0.1:8443']. Throws ListenFailed (port taken, no permission).
 */
export async function listenGateway(gateway: S3Gateway, config: Config, tls: { cert: Buffer; key: Buffer }): Promise<string[]> {
  const ports: number[] = [];
  for (const listener of configuredListeners(config)) {
    try {
      ports.push(await gateway.listen({ ...listener, ...(listener.protocol === 'https' ? { tls } : {}) }));
    } catch (err) {
      throw listenFailed(err, listener.address, listener.port);
    }
  }
  return endpointsOf(config, ports);
}
