// The one schema of an `s3d` node's configuration: every field with its unit, default and bounds.
// configs/single-node.yaml shows the same fields annotated; keep the two in step. Unknown fields
// are rejected at every level (strict objects) so a typo never silently falls back to a default.

import { z } from 'zod';
import {
  blockSizeDefaultBytes, blockSizeMaxBytes, blockSizeMinBytes, drivesMax, inlineObjectLimitBytes, inlineObjectMaxBytesDefault,
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
    /** Logging. */
    log: logSchema.prefault({}).describe('logging'),
  })
  .superRefine((config, ctx) => {
    if (config.httpPort !== undefined && config.httpPort === config.port) {
      ctx.addIssue({ code: 'custom', path: ['httpPort'], message: `must differ from port (${config.port})` });
    }
  });

/** The configuration as parsed, before run-time defaults (log.pretty) are resolved. */
export type ParsedConfig = z.output<typeof configSchema>;
/** What a YAML file or CLI may set: any subset of the fields, nested objects partial too. */
export type ConfigInput = z.input<typeof configSchema>;
