// Configuration loading: defaults, precedence (file < CLI < env), strictness, error messages that
// name field, problem, value and source, YAML syntax errors with line numbers, deep freezing, and
// that configs/single-node.yaml shows every schema field with its default.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../src/config/config.js';
import { configSchema } from '../../../src/config/schema.js';
import { blockSizeDefaultBytes, gatewayWorkersMax } from '../../../src/util/limits.js';
import { TesseraError } from '../../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function yamlFile(text: string): string {
  const file = join(dir, `config-${fileCounter++}.yaml`);
  writeFileSync(file, text);
  return file;
}

function configErrorOf(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('InvalidConfig');
    return err as TesseraError;
  }
  throw new Error('expected InvalidConfig');
}

const defaults: Config = {
  dataDir: './data',
  address: '0.0.0.0',
  port: 8443,
  tls: {},
  credentials: {},
  region: 'us-east-1',
  domains: ['localhost', 's3.localhost'],
  blockSizeBytes: blockSizeDefaultBytes,
  inlineObjectMaxBytes: 131_072,
  scrubIntervalHours: 24,
  scanIntervalHours: 6,
  workers: Math.min(availableParallelism(), gatewayWorkersMax),
  log: { level: 'info', pretty: false },
};

describe('loadConfig', () => {
  it('gives the documented defaults with no file', () => {
    expect(loadConfig({ stdoutIsTty: false })).toEqual(defaults);
    expect(loadConfig({ stdoutIsTty: true }).log.pretty).toBe(true);
  });

  it('configs/single-node.yaml loads to exactly the defaults', () => {
    expect(loadConfig({ file: 'configs/single-node.yaml', stdoutIsTty: false })).toEqual(defaults);
  });

  it('configs/single-node.yaml mentions every schema field', () => {
    const text = readFileSync('configs/single-node.yaml', 'utf8');
    const walk = (shape: Record<string, unknown>, prefix: string): string[] =>
      Object.entries(shape).flatMap(([key, schema]) => {
        const inner = unwrapObjectShape(schema);
        return inner === undefined ? [prefix + key] : [prefix + key, ...walk(inner, `${prefix}${key}.`)];
      });
    const fields = walk(configSchema.shape as Record<string, unknown>, '');
    expect(fields.length).toBeGreaterThan(15);
    // The cluster section's fields are shown in configs/cluster-6-nodes.yaml (checked below).
    for (const field of fields.filter((f) => !f.startsWith('cluster.'))) {
      const leaf = field.split('.').pop()!;
      expect(text, field).toMatch(new RegExp(`^\\s*(# )?${leaf}:`, 'm'));
    }
    const clusterText = readFileSync('configs/cluster-6-nodes.yaml', 'utf8');
    for (const field of fields.filter((f) => f.startsWith('cluster.'))) {
      const leaf = field.split('.').pop()!;
      expect(clusterText, field).toMatch(new RegExp(`^\\s*(# )?(- )?${leaf}:`, 'm'));
    }
  });

  it('configs/cluster-3-nodes.yaml and cluster-6-nodes.yaml load (4+2 and 2+1 over QUIC)', () => {
    const six = loadConfig({ file: 'configs/cluster-6-nodes.yaml', stdoutIsTty: false });
    expect([six.cluster?.nodes.length, six.cluster?.dataShards, six.cluster?.parityShards, six.cluster?.transport]).toEqual([6, 4, 2, 'quic']);
    const three = loadConfig({ file: 'configs/cluster-3-nodes.yaml', stdoutIsTty: false });
    expect([three.cluster?.nodes.length, three.cluster?.parityShards]).toEqual([3, 1]);
  });

  it('names the bad cluster field: unknown nodeId, duplicate node, too much parity', () => {
    const base = readFileSync('configs/cluster-3-nodes.yaml', 'utf8');
    expect(() => loadConfig({ file: yamlFile(base.replace('nodeId: node-1', 'nodeId: node-9')) })).toThrow(/"cluster\.nodeId": must be one of nodes\[\]\.id/);
    expect(() => loadConfig({ file: yamlFile(base.replace('- id: node-2', '- id: node-1')) })).toThrow(/"cluster\.nodes\[1\]\.id": node id "node-1" is listed twice/);
    expect(() => loadConfig({ file: yamlFile(base.replace('parityShards: 1', 'parityShards: 2')) })).toThrow(/"cluster\.parityShards"/);
  });

  it('takes transport quic, tls or tcp, and names the field for anything else', () => {
    const base = readFileSync('configs/cluster-3-nodes.yaml', 'utf8');
    for (const kind of ['tls', 'tcp']) expect(loadConfig({ file: yamlFile(base.replace('transport: quic', `transport: ${kind}`)) }).cluster?.transport).toBe(kind);
    expect(() => loadConfig({ file: yamlFile(base.replace('transport: quic', 'transport: udp')) })).toThrow(/"cluster\.transport": must be quic, tls or tcp/);
  });

  it('reads a file, applies CLI overrides on top, then env credentials', () => {
    const file = yamlFile(`
port: 9000
httpPort: 9080
domains: [s3.example.com, LOCALHOST]
credentials: { accessKey: fileaccess, secretKey: filesecret1 }
log: { level: debug }
`);
    const config = loadConfig({
      file,
      overrides: { port: 9443, dataDir: undefined, log: { pretty: true } },
      env: { S3D_SECRET_KEY: 'envsecret12' },
    });
    expect(config.port).toBe(9443);
    expect(config.httpPort).toBe(9080);
    expect(config.dataDir).toBe('./data');
    expect(config.domains).toEqual(['s3.example.com', 'localhost']);
    expect(config.log).toEqual({ level: 'debug', pretty: true });
    expect(config.credentials).toEqual({ accessKey: 'fileaccess', secretKey: 'envsecret12' });
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ overrides: { tls: { certFile: 'c.pem', keyFile: 'k.pem' } } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.tls)).toBe(true);
    expect(Object.isFrozen(config.domains)).toBe(true);
    expect(Object.isFrozen(config.log)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('names field, problem, value and file for an out-of-range port', () => {
    const file = yamlFile('port: 70000\n');
    const err = configErrorOf(() => loadConfig({ file }));
    expect(err.message).toBe(`config field "port": must be between 1 and 65535 (got 70000), in file ${file}`);
    expect(err.details).toEqual({ field: 'port', source: `in file ${file}` });
  });

  it('attributes a bad value to the command line or the environment when it came from there', () => {
    const file = yamlFile('port: 9000\n');
    expect(configErrorOf(() => loadConfig({ file, overrides: { port: 0 } })).message).toBe(
      'config field "port": must be between 1 and 65535 (got 0), in command line',
    );
    expect(configErrorOf(() => loadConfig({ env: { S3D_ACCESS_KEY: 'ab', S3D_SECRET_KEY: 'longenough' } })).message).toBe(
      'config field "credentials.accessKey": must be 3 to 128 characters (got "ab"), in environment',
    );
  });

  it('rejects unknown fields at every level', () => {
    const file = yamlFile('prot: 8443\nlog:\n  levle: info\n');
    const err = configErrorOf(() => loadConfig({ file }));
    expect(err.message).toContain(`config field "prot": unknown field, in file ${file}`);
    expect(err.message).toContain(`config field "log.levle": unknown field, in file ${file}`);
  });

  it.each([
    ['port: "8443"', 'port', 'must be a number (got "8443")'],
    ['port: 80.5', 'port', 'must be an integer (got 80.5)'],
    ['httpPort: 8443', 'httpPort', 'must differ from port (8443) (got 8443)'],
    ['blockSizeBytes: 1000000', 'blockSizeBytes', 'must be a multiple of 4096 between 65536 and 16777216 (got 1000000)'],
    ['blockSizeBytes: 32768', 'blockSizeBytes', 'must be a multiple of 4096'],
    ['blockSizeBytes: 33554432', 'blockSizeBytes', 'must be a multiple of 4096'],
    ['log: { level: verbose }', 'log.level', 'must be one of trace, debug, info, warn, error (got "verbose")'],
    ['log: { pretty: "yes" }', 'log.pretty', 'must be a boolean (got "yes")'],
    ['domains: localhost', 'domains', 'must be a list (got "localhost")'],
    ['domains: [ok.example, "bad domain"]', 'domains[1]', 'must be a DNS host name'],
    ['region: US_EAST', 'region', 'must be 1 to 64 lower-case letters'],
    ['tls: { certFile: cert.pem }', 'tls.keyFile', 'is required when tls.certFile is set'],
    ['credentials: { accessKey: abcdef }', 'credentials.secretKey', 'is required when credentials.accessKey is set'],
    ['credentials: { accessKey: abc, secretKey: short }', 'credentials.secretKey', 'must be 8 to 128 characters (got "short")'],
    ['dataDir: ""', 'dataDir', 'must not be empty'],
    ['tls: 5', 'tls', 'must be a mapping (got 5)'],
    ['scrubIntervalHours: -1', 'scrubIntervalHours', 'must be between 0 and 8760 (got -1)'],
    ['scanIntervalHours: 9000', 'scanIntervalHours', 'must be between 0 and 8760 (got 9000)'],
  ])('rejects %s', (yaml, field, problem) => {
    const err = configErrorOf(() => loadConfig({ file: yamlFile(`${yaml}\n`) }));
    expect(err.message).toContain(`config field "${field}": ${problem}`);
    expect(err.details['field']).toBe(field);
  });

  it('accepts the boundaries', () => {
    const config = loadConfig({ overrides: { port: 65535, httpPort: 1, blockSizeBytes: 65536 } });
    expect([config.port, config.httpPort, config.blockSizeBytes]).toEqual([65535, 1, 65536]);
    expect(loadConfig({ overrides: { blockSizeBytes: 16 * 1024 * 1024 } }).blockSizeBytes).toBe(16 * 1024 * 1024);
  });

  it('reports YAML syntax errors with file and line', () => {
    const file = yamlFile('port: 8443\ndomains: [a, b\nregion: x\n');
    const err = configErrorOf(() => loadConfig({ file }));
    expect(err.message).toMatch(new RegExp(`^config file ${escape(file)}: YAML syntax error at line 3, column 1`));
    expect(err.details['line']).toBe(3);
  });

  it('reports duplicate keys, non-mapping documents and unreadable files', () => {
    expect(configErrorOf(() => loadConfig({ file: yamlFile('port: 1\nport: 2\n') })).message).toMatch(/line 2.*unique/s);
    expect(configErrorOf(() => loadConfig({ file: yamlFile('- a\n- b\n') })).message).toMatch(/must be a YAML mapping/);
    expect(configErrorOf(() => loadConfig({ file: join(dir, 'missing.yaml') })).message).toMatch(/cannot read \(ENOENT\)/);
  });

  it('treats an empty file and empty sections as defaults', () => {
    expect(loadConfig({ file: yamlFile(''), stdoutIsTty: false })).toEqual(defaults);
    expect(loadConfig({ file: yamlFile('tls:\ncredentials:\nlog:\n'), stdoutIsTty: false })).toEqual(defaults);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The shape of an object schema, looking through default/prefault/optional/pipe wrappers. */
function unwrapObjectShape(schema: unknown): Record<string, unknown> | undefined {
  let node = schema as { shape?: Record<string, unknown>; def?: { innerType?: unknown; in?: unknown } } | undefined;
  for (let i = 0; i < 10 && node !== undefined; i++) {
    if (node.shape !== undefined) return node.shape;
    node = (node.def?.innerType ?? node.def?.in) as typeof node;
  }
  return undefined;
}

describe('config workers', () => {
  it('defaults to one per core and takes 1..gatewayWorkersMax from the command line', () => {
    expect(loadConfig({}).workers).toBe(Math.min(availableParallelism(), gatewayWorkersMax));
    expect(loadConfig({ overrides: { workers: 3 } }).workers).toBe(3);
  });

  it('refuses 0, fractions and more than gatewayWorkersMax, naming the field', () => {
    for (const workers of [0, 1.5, gatewayWorkersMax + 1]) {
      const err = configErrorOf(() => loadConfig({ overrides: { workers } }));
      expect(err.message).toContain('workers');
    }
  });
});
