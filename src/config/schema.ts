// The one schema of an `s3d` node's configuration: every field with its unit, default and bounds.
// configs/single-node.yaml shows the same fields annotated; keep the two in step. Unknown fields
// are rejected at every level (strict objects) so a typo never silently falls back to a default.

import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  blockSizeDefaultBytes, blockSizeMaxBytes, blockSizeMinBytes, drivesMax, gatewayWorkersMax, inlineObjectLimitBytes, inlineObjectMaxBytesDefault,
  scanIntervalHoursDefault, scanIntervalHoursMax, scrubIntervalHoursDefault, scrubIntervalHoursMax,
} from '../util/limits.js';

/** Lowest and highest TCP port numbers accepted for listeners. */
export const portMin = 1;
export const portMax = 65_535;
/** Block sizes must be whole 4 KiB pages (O_DIRECT-friendly shard I/O). */
export const blockSizeAlignmentBytes = 4096;
/** AWS access key ids are 16..128 characters; we also accept short local ones from 3. */
export const accessKeyLengthMin = 3;
export const accessKeyLengthMax = 128;
export const secretKeyLengthMin = 8;
export const secretKeyLengthMax = 128;

/**
 * Node-to-node transports. quic: QUIC over UDP with mutual TLS 1.3 (the default). tls: HTTP/2 over
 * mutually authenticated TLS 1.3 on TCP, for networks that block UDP. tcp: no encryption, for
 * trusted networks; peers still prove their Ed25519 identity and every frame is checksummed.
 */
export const transportKinds = ['quic', 'tls', 'tcp'] as const;
export type TransportKind = (typeof transportKinds)[number];

/** Log levels, most to least verbose (pino level names). */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];

const portRange = `must be between ${portMin} and ${portMax}`;

function port() {
  return z.number().int('must be an integer').min(portMin, portRange).max(portMax, portRange);
}

// DNS host name or suffix: dot-separated labels of letters, digits and '-', no leading/trailing '-'.
const hostNamePattern = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

const tlsSchema = z
  .strictObject({
    /** PEM certificate chain file path (relative paths: from the working directory). Default: none. */
    certFile: z.string().min(1, 'must not be empty').optional().describe('PEM certificate (chain) file; default: self-signed DATA/tls/cert.pem'),
    /** PEM private key file path matching certFile. Default: none. */
    keyFile: z.string().min(1, 'must not be empty').optional().describe('PEM private key file; default: DATA/tls/key.pem'),
  })
  .superRefine((tls, ctx) => {
    // A certificate without its key (or the reverse) is always a mistake; name the missing one.
    if (tls.certFile !== undefined && tls.keyFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'is required when tls.certFile is set' });
    }
    if (tls.keyFile !== undefined && tls.certFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'is required when tls.keyFile is set' });
    }
  });

const credentialsSchema = z
  .strictObject({
    /** SigV4 access key id, 3..128 characters. Default: generated and saved in DATA/credentials.json. */
    accessKey: z
      .string()
      .min(accessKeyLengthMin, `must be ${accessKeyLengthMin} to ${accessKeyLengthMax} characters`)
      .max(accessKeyLengthMax, `must be ${accessKeyLengthMin} to ${accessKeyLengthMax} characters`)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional()
      .describe('access key id (3..128 chars); env S3D_ACCESS_KEY overrides'),
    /** SigV4 secret access key, 8..128 characters. Default: generated with accessKey. */
    secretKey: z
      .string()
      .min(secretKeyLengthMin, `must be ${secretKeyLengthMin} to ${secretKeyLengthMax} characters`)
      .max(secretKeyLengthMax, `must be ${secretKeyLengthMin} to ${secretKeyLengthMax} characters`)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional()
      .describe('secret access key (8..128 chars); env S3D_SECRET_KEY overrides'),
  })
  .superRefine((credentials, ctx) => {
    if (credentials.accessKey !== undefined && credentials.secretKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secretKey'], message: 'is required when credentials.accessKey is set' });
    }
    if (credentials.secretKey !== undefined && credentials.accessKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['accessKey'], message: 'is required when credentials.secretKey is set' });
    }
  });

const logSchema = z.strictObject({
  /** Minimum level written. Default 'info'. */
  level: z
    .enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` })
    .default('info')
    .describe('minimum log level: trace | debug | info | warn | error; default info'),
  /** Human-readable (pino-pretty) output instead of JSON lines. Default: true when stdout is a TTY. */
  pretty: z.boolean().optional().describe('pretty-print logs; default: stdout is a TTY'),
});

/** Node ids: 1..64 of letters, digits, '.', '_' and '-' (they name shard placements in metadata). */
export const nodeIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
/** Most nodes in one cluster config. */
export const clusterNodesMax = 256;

const clusterNodeSchema = z.strictObject({
  /** Stable node id, unique in the cluster; recorded in object metadata, so never reuse one. */
  id: z.string().regex(nodeIdPattern, 'must be 1 to 64 letters, digits, ".", "_" or "-"').describe('node id'),
  /** Host name or IP address peers use to reach the node's shard server. */
  host: z.string().min(1, 'must not be empty').describe('host or IP of the shard server'),
  /** The node's shard server port (UDP for QUIC, TCP for TLS and TCP), 1..65535. */
  port: port().describe('shard server port'),
  /** The node's S3 HTTPS port, shown to users (informational). */
  s3Port: port().optional().describe('S3 HTTPS port of the node (informational)'),
  /** The node's Ed25519 public key: base64url of 32 bytes (43 characters), from `s3d cluster init`. */
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 43 base64url characters (an Ed25519 public key)').describe('Ed25519 public key'),
  /** Failure domain (rack, room, site): shards of one stripe go to distinct zones when zones are set. */
  zone: z.string().min(1, 'must not be empty').optional().describe('failure zone'),
  /**
   * Relative capacity: a node of weight 2 receives about twice the shards of weight 1. Default 1.
   * 0: a member that holds no data yet, as `s3d cluster add-node` writes a joining node until
   * `s3d admin layout add-node` and `apply` give it a weight.
   */
  weight: z.number().min(0, 'must be between 0 and 16').max(16, 'must be between 0 and 16').default(1).describe('placement weight, 0 = holds no data; default 1'),
});

const clusterSchema = z
  .strictObject({
    /** This node's id: one of nodes[].id. */
    nodeId: z.string().regex(nodeIdPattern, 'must be 1 to 64 letters, digits, ".", "_" or "-"').describe("this node's id"),
    /** PEM PKCS#8 Ed25519 private key of this node (mode 0600), made by `s3d cluster init`. */
    keyFile: z.string().min(1, 'must not be empty').describe("this node's Ed25519 private key file"),
    /**
     * Node-to-node transport: quic (default); tls (TLS over TCP, for networks that block UDP); tcp: no
     * encryption, for trusted networks; peers still prove their Ed25519 identity and every frame is
     * checksummed (CRC-32C). Every node of a cluster must use the same one.
     */
    transport: z.enum(transportKinds, { error: 'must be quic, tls or tcp' }).default('quic').describe('quic | tls | tcp; default quic'),
    /** Address the shard server binds to. Default: this node's host from nodes[]. */
    listenAddress: z.string().min(1, 'must not be empty').optional().describe("shard server bind address; default: this node's host"),
    /** Parity shards per stripe (m): reads and writes survive m nodes down. */
    parityShards: z.number().int('must be an integer').min(0, 'must be 0 or more').describe('parity shards per stripe'),
    /** Data shards per stripe (k). Default: nodes - parityShards. k + m must not exceed the nodes. */
    dataShards: z.number().int('must be an integer').min(1, 'must be 1 or more').optional().describe('data shards per stripe; default nodes - parityShards'),
    /** Version of this node list and weights; raise it when nodes are added, removed or re-weighted. */
    layoutVersion: z.number().int('must be an integer').min(1, 'must be 1 or more').default(1).describe('layout version; default 1'),
    /** Every node of the cluster, this one included. */
    nodes: z.array(clusterNodeSchema).min(1, 'must list at least one node').max(clusterNodesMax, `must list at most ${clusterNodesMax} nodes`),
  })
  .superRefine((cluster, ctx) => {
    const ids = new Set<string>();
    const endpoints = new Set<string>();
    cluster.nodes.forEach((node, i) => {
      if (ids.has(node.id)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'id'], message: `node id "${node.id}" is listed twice` });
      ids.add(node.id);
      const endpoint = `${node.host}:${node.port}`;
      if (endpoints.has(endpoint)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'port'], message: `${endpoint} is used by two nodes` });
      endpoints.add(endpoint);
    });
    if (!ids.has(cluster.nodeId)) ctx.addIssue({ code: 'custom', path: ['nodeId'], message: `must be one of nodes[].id (${[...ids].join(', ')})` });
    const holding = cluster.nodes.filter((n) => n.weight > 0).length;
    const data = cluster.dataShards ?? holding - cluster.parityShards;
    if (data < 1 || data + cluster.parityShards > holding || cluster.parityShards > data) {
      ctx.addIssue({ code: 'custom', path: ['parityShards'], message: `data (${data}) + parity (${cluster.parityShards}) shards must fit on the ${holding} nodes of weight > 0 with parity <= data` });
    }
  });

const blockSizeMessage = `must be a multiple of ${blockSizeAlignmentBytes} between ${blockSizeMinBytes} and ${blockSizeMaxBytes}`;

/** Schema of the configuration as written (YAML file + CLI overrides + environment). */
export const configSchema = z
  .strictObject({
    /** Directory holding metadata, shards, TLS material and credentials. Default './data'. */
    dataDir: z.string().min(1, 'must not be empty').default('./data').describe('data directory; default ./data'),
    /** Interface the listeners bind to (IP address or host name). Default '0.0.0.0' (all IPv4). */
    address: z.string().min(1, 'must not be empty').default('0.0.0.0').describe('listen address; default 0.0.0.0'),
    /** HTTPS (S3 API) TCP port, 1..65535. Default 8443. */
    port: port().default(8443).describe('HTTPS port; default 8443'),
    /** Optional plain-HTTP S3 listener port, 1..65535. Default: none (HTTPS only). */
    httpPort: port().optional().describe('plain HTTP port; default none'),
    /** TLS certificate; both files or neither. Default: self-signed, generated under DATA/tls. */
    tls: tlsSchema.default({}).describe('TLS certificate and key files'),
    /** Root credentials; both or neither. Default: DATA/credentials.json, generated on first start. */
    credentials: credentialsSchema.default({}).describe('root SigV4 credentials'),
    /** Region reported by GetBucketLocation and required in SigV4 scopes. Default 'us-east-1'. */
    region: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/, 'must be 1 to 64 lower-case letters, digits or "-"')
      .default('us-east-1')
      .describe('region name; default us-east-1'),
    /**
     * Host suffixes for virtual-host-style requests: a request to `<bucket>.<domain>` addresses
     * `<bucket>`; other hosts use path style. Default ['localhost', 's3.localhost']: TLS clients
     * refuse a wildcard right above a single label (*.localhost), so over HTTPS virtual-host
     * buckets are `<bucket>.s3.localhost`, matched by the certificate's *.s3.localhost.
     */
    domains: z
      .array(z.string().toLowerCase().regex(hostNamePattern, 'must be a DNS host name such as s3.example.com'))
      .default(['localhost', 's3.localhost'])
      .describe('virtual-host-style domain suffixes; default [localhost, s3.localhost]'),
    /** Stripe block size in bytes: multiple of 4096 within 64 KiB..16 MiB. Default 1 MiB (1048576). */
    blockSizeBytes: z
      .number()
      .int(blockSizeMessage)
      .min(blockSizeMinBytes, blockSizeMessage)
      .max(blockSizeMaxBytes, blockSizeMessage)
      .multipleOf(blockSizeAlignmentBytes, blockSizeMessage)
      .default(blockSizeDefaultBytes)
      .describe('stripe block size in bytes; default 1048576'),
    /**
     * Drive directories of this node's erasure set (k + m = number of drives). Default: one
     * drive at DATA/drive-1 (no erasure coding). Order does not matter after the first start:
     * drives are recognised by DRIVE/drive.json.
     */
    drives: z
      .array(z.string().min(1, 'must not be empty'))
      .min(1, 'must list at least one drive')
      .max(drivesMax, `must list at most ${drivesMax} drives`)
      .optional()
      .describe('drive directories; default [DATA/drive-1]'),
    /**
     * Parity shards per stripe (m), fixed when the drives are first formatted. Default by drive
     * count: 1 drive 0; 2-3 drives 1; 4-5 drives 2; 6-7 drives 3; 8 or more 4.
     */
    parityShards: z.number().int('must be an integer').min(0, 'must be 0 or more').optional().describe('parity shards; default by drive count'),
    /**
     * Objects (and parts) up to this many bytes are stored inline in their metadata record
     * instead of k + m shard files: no shard files, no data fsyncs. 0 disables. Default 131072.
     */
    inlineObjectMaxBytes: z
      .number()
      .int('must be an integer')
      .min(0, `must be between 0 and ${inlineObjectLimitBytes}`)
      .max(inlineObjectLimitBytes, `must be between 0 and ${inlineObjectLimitBytes}`)
      .default(inlineObjectMaxBytesDefault)
      .describe('inline object threshold in bytes; default 131072'),
    /**
     * Scrub: every this many hours the node re-reads every shard file on its drives and verifies
     * every block, queueing bad ones for repair. 0 disables it. Default 24; fractions allowed.
     */
    scrubIntervalHours: z
      .number()
      .min(0, `must be between 0 and ${scrubIntervalHoursMax}`)
      .max(scrubIntervalHoursMax, `must be between 0 and ${scrubIntervalHoursMax}`)
      .default(scrubIntervalHoursDefault)
      .describe('hours between scrub cycles, 0 = off; default 24'),
    /**
     * Scanner: every this many hours the node walks its object records and checks that every
     * shard exists, with its full size, where the record's placement says; missing ones are
     * queued for repair. Cheap (a stat per shard), so more often than scrub. 0 disables it
     * (`s3d admin heal` still runs one). Default 6; fractions allowed.
     */
    scanIntervalHours: z
      .number()
      .min(0, `must be between 0 and ${scanIntervalHoursMax}`)
      .max(scanIntervalHoursMax, `must be between 0 and ${scanIntervalHoursMax}`)
      .default(scanIntervalHoursDefault)
      .describe('hours between scanner cycles, 0 = off; default 6'),
    /**
     * S3 gateway processes: requests are spread over this many event loops, each in its own
     * process sharing the listening sockets (node:cluster, round-robin by connection), so MD5,
     * signatures, checksums and the codec of different requests run on different cores. The
     * node's own process keeps the background workers (repair, scrub, scanner, rebalancer) and
     * the shard and replica servers. 1: one process serves everything. Default: one per core
     * (os.availableParallelism()); `s3d cluster init` writes 1 for nodes that share one host.
     */
    workers: z
      .number()
      .int('must be an integer')
      .min(1, `must be between 1 and ${gatewayWorkersMax}`)
      .max(gatewayWorkersMax, `must be between 1 and ${gatewayWorkersMax}`)
      .default(() => Math.min(availableParallelism(), gatewayWorkersMax))
      .describe('S3 gateway processes; default one per core'),
    /** Logging. */
    log: logSchema.prefault({}).describe('logging'),
    /**
     * Cluster membership. Absent: a single node erasure-coding over its own drives. Present: this
     * node is one of `nodes`; each object's k + m shards and its metadata go to k + m distinct
     * nodes chosen on a consistent hash ring. Made by `s3d cluster init`.
     */
    cluster: clusterSchema.optional().describe('cluster membership; default: single node'),
  })
  .superRefine((config, ctx) => {
    if (config.cluster !== undefined && config.drives !== undefined && config.drives.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['drives'], message: 'a cluster node keeps its shards on one drive for now; list at most one' });
    }
    if (config.httpPort !== undefined && config.httpPort === config.port) {
      ctx.addIssue({ code: 'custom', path: ['httpPort'], message: `must differ from port (${config.port})` });
    }
  });

/** The configuration as parsed, before run-time defaults (log.pretty) are resolved. */
export type ParsedConfig = z.output<typeof configSchema>;
/** What a YAML file or CLI may set: any subset of the fields, nested objects partial too. */
export type ConfigInput = z.input<typeof configSchema>;
