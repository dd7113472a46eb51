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

/**
 * Listens on config.port (HTTPS with `tls`, PEM) and config.httpPort when set; resolves with the
 * endpoints, e.g. ['https://127.0.0.1:8443']. Throws ListenFailed (port taken, no permission).
 */
export async function listenGateway(gateway: S3Gateway, config: Config, tls: { cert: Buffer; key: Buffer }): Promise<string[]> {
  const endpoints: string[] = [];
  const host = endpointHost(config.address);
  try {
    const httpsPort = await gateway.listen({ protocol: 'https', address: config.address, port: config.port, tls });
    endpoints.push(`https://${host}:${httpsPort}`);
    if (config.httpPort !== undefined) {
      const httpPort = await gateway.listen({ protocol: 'http', address: config.address, port: config.httpPort });
      endpoints.push(`http://${host}:${httpPort}`);
    }
    return endpoints;
  } catch (err) {
    if (errorCodeOf(err) === 'EADDRINUSE' || errorCodeOf(err) === 'EACCES') {
      const { address, port } = err as { address?: string; port?: number };
      throw new TesseraError('ListenFailed', `cannot listen on ${address ?? config.address}:${port ?? config.port}: ${(err as Error).message}`);
    }
    throw err;
  }
}
