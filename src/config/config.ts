// Loads a node's configuration: YAML file, then CLI overrides, then S3D_ACCESS_KEY / S3D_SECRET_KEY,
// validated by the one schema in schema.ts. The result is deeply frozen; every failure is a
// TesseraError 'InvalidConfig' naming the field, the problem, the offending value and its source.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDocument } from 'yaml';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import { configSchema, type ConfigInput, type LogLevel, type ParsedConfig } from './schema.js';

export { logLevels, transportKinds, type LogLevel, type TransportKind } from './schema.js';

/** A node's configuration, fully defaulted and deeply frozen. Field docs: src/config/schema.ts. */
export type Config = DeepReadonly<
  Omit<ParsedConfig, 'log'> & {
    log: { level: LogLevel; pretty: boolean };
  }
>;

/** Any subset of the configuration fields (nested objects partial too); `undefined` = not set. */
export type PartialConfig = DeepPartial<ConfigInput>;

type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
type DeepPartial<T> = T extends unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Environment variables that override `credentials` (they win over file and CLI). */
export const accessKeyEnvVar = 'S3D_ACCESS_KEY';
export const secretKeyEnvVar = 'S3D_SECRET_KEY';

export interface LoadConfigOptions {
  /** YAML config file path; omitted = defaults only. */
  file?: string;
  /** Values from the command line, applied on top of the file. `undefined` leaves a field alone. */
  overrides?: PartialConfig;
  /** Environment to read S3D_ACCESS_KEY / S3D_SECRET_KEY from. Default: none (pass process.env). */
  env?: NodeJS.ProcessEnv;
  /** Whether stdout is a TTY, for the log.pretty default. Default: process.stdout.isTTY. */
  stdoutIsTty?: boolean;
}

/**
 * Builds the configuration: YAML `file` (if given) <- `overrides` <- env credentials; then
 * validates with `configSchema` and deep-freezes the result.
 * @throws TesseraError 'InvalidConfig' when the file cannot be read, has a YAML syntax error (message
 *   names file, line and column), is not a mapping, has an unknown field, or any field is invalid:
 *   `config field "port": must be between 1 and 65535 (got 70000), in file x.yaml`.
 *   details: { field, source } of the first problem; the message lists all of them, one per line.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const sources: ConfigSource[] = [];
  if (options.file !== undefined) sources.push({ name: `file ${options.file}`, values: readYamlFile(options.file) });
  if (options.overrides !== undefined) sources.push({ name: 'command line', values: stripUndefined(options.overrides) });
  const envCredentials = credentialsFromEnv(options.env ?? {});
  if (envCredentials !== undefined) sources.push({ name: 'environment', values: { credentials: envCredentials } });

  let merged: Record<string, unknown> = {};
  for (const source of sources) merged = deepMerge(merged, source.values);

  const result = configSchema.safeParse(merged);
  if (!result.success) throw configError(result.error.issues, merged, sources);

  const parsed = result.data;
  const config = {
    ...parsed,
    log: { level: parsed.log.level, pretty: parsed.log.pretty ?? options.stdoutIsTty ?? process.stdout.isTTY === true },
  };
  return deepFreeze(config);
}

interface ConfigSource {
  /** 'file <path>', 'command line' or 'environment'. */
  name: string;
  values: Record<string, unknown>;
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = errorCodeOf(err) ?? String(err);
    throw new TesseraError('InvalidConfig', `config file ${file}: cannot read (${reason})`, { file }, { cause: err });
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const [first] = document.errors;
  if (first !== undefined) {
    const position = first.linePos?.[0];
    const where = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`;
    // prettyErrors appends " at line L, column C:" and a source excerpt; keep the reason only.
    const reason = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new TesseraError('InvalidConfig', `config file ${file}: YAML syntax error${where}: ${reason}`, {
      file,
      line: position?.line ?? 0,
    });
  }
  const values: unknown = document.toJS();
  if (values === null || values === undefined) return {};
  if (!isPlainObject(values)) {
    throw new TesseraError('InvalidConfig', `config file ${file}: must be a YAML mapping of fields (got ${describeValue(values)})`, { file });
  }
  return dropEmptySections(values);
}

/** Sections that may appear in YAML with every field commented out (`tls:` alone parses as null). */
const sectionFields = ['tls', 'credentials', 'log'];

function dropEmptySections(values: Record<string, unknown>): Record<string, unknown> {
  const out = { ...values };
  for (const field of sectionFields) if (out[field] === null) delete out[field];
  return out;
}

function credentialsFromEnv(env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  const credentials: Record<string, string> = {};
  const accessKey = env[accessKeyEnvVar];
  const secretKey = env[secretKeyEnvVar];
  if (accessKey !== undefined && accessKey !== '') credentials['accessKey'] = accessKey;
  if (secretKey !== undefined && secretKey !== '') credentials['secretKey'] = secretKey;
  return Object.keys(credentials).length === 0 ? undefined : credentials;
}

/** One issue's field path, e.g. 'log.level' or 'domains[1]'. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function configError(issues: readonly z.core.$ZodIssue[], merged: Record<string, unknown>, sources: ConfigSource[]): TesseraError {
  const problems = issues.flatMap((issue) => describeIssue(issue, merged, sources));
  const [first] = problems;
  // One value can fail several checks with the same message (e.g. min and multipleOf): say it once.
  const messages = [...new Set(problems.map((p) => p.message))];
  return new TesseraError('InvalidConfig', messages.join('\n'), {
    field: first?.field ?? '',
    source: first?.source ?? 'defaults',
  });
}

interface Problem {
  field: string;
  source: string;
  message: string;
}

function describeIssue(issue: z.core.$ZodIssue, merged: Record<string, unknown>, sources: ConfigSource[]): Problem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      const source = sourceOf(path, sources);
      return { field: fieldPath(path), source, message: `config field "${fieldPath(path)}": unknown field, ${source}` };
    });
  }
  const value = valueAt(merged, issue.path);
  const source = sourceOf(issue.path, sources);
  const problem = issue.code === 'invalid_type' ? `must be ${article(issue.expected)}` : issue.message;
  const got = value === undefined ? '' : ` (got ${describeValue(value)})`;
  const field = fieldPath(issue.path);
  return [{ field, source, message: `config field "${field}": ${problem}${got}, ${source}` }];
}

function article(expected: string): string {
  const nouns: Record<string, string> = { object: 'mapping', array: 'list', int: 'integer' };
  const noun = nouns[expected] ?? expected;
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** The last source (in precedence order) that sets `path` or one of its parents. */
function sourceOf(path: readonly PropertyKey[], sources: ConfigSource[]): string {
  for (let depth = path.length; depth >= 1; depth--) {
    for (let i = sources.length - 1; i >= 0; i--) {
      const source = sources[i];
      if (source !== undefined && valueAt(source.values, path.slice(0, depth)) !== undefined) return `in ${source.name}`;
    }
  }
  return sources.length === 0 ? 'in defaults' : `in ${sources.map((s) => s.name).join(' / ')}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stripUndefined(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    out[key] = isPlainObject(field) ? stripUndefined(field) : field;
  }
  return out;
}

/** Objects merge key by key; anything else (scalars, lists) in `top` replaces `base`. */
function deepMerge(base: Record<string, unknown>, top: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(top)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const field of Object.values(value)) deepFreeze(field);
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}
