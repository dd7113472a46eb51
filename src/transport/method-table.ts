// A server's calls as a table: each exact wire method name maps to how its msgpack header is
// decoded into typed arguments and how the call is handled. An unknown name is refused before any
// handler runs (no dispatch by name prefix), and handlers get checked arguments instead of casting
// call.header. The field checkers below name the bad field in their BadRequest.
import { isTesseraError, TesseraError } from '../util/errors.js';
import type { HandlerReply, InboundCall } from './transport.js';

/** One method a server answers, with `Context` the thing it serves (a shard store, a metadata replica). */
export interface MethodEntry<Args, Context> {
  /** Checks the call's msgpack header and returns the arguments. Throws BadRequest (or the layer's own code, e.g. InvalidShardId) naming the bad field. */
  decode(header: unknown): Args;
  /** Runs the call on `context`; throws the layer's codes, which travel to the caller as themselves. */
  handle(args: Args, call: InboundCall, context: Context): Promise<HandlerReply>;
}

/** Method name -> entry, for `ArgsByMethod` mapping each wire method name to its decoded arguments. */
export type MethodTable<ArgsByMethod, Context> = { readonly [M in keyof ArgsByMethod & string]: MethodEntry<ArgsByMethod[M], Context> };

/** True when `table` has an entry for exactly `method` (own keys only: 'constructor' or '__proto__' never match). */
export function hasMethod<ArgsByMethod, Context>(table: MethodTable<ArgsByMethod, Context>, method: string): method is keyof ArgsByMethod & string {
  return Object.hasOwn(table, method);
}

/**
 * Serves `call` from `table`: decodes its header with the entry of exactly call.method, then
 * handles it on `context`. Throws UnknownMethod for a name the table lacks, the decoder's
 * BadRequest (its message prefixed with the method name) or layer code for a bad header, and
 * whatever the handler throws.
 */
export async function dispatch<ArgsByMethod, Context>(table: MethodTable<ArgsByMethod, Context>, call: InboundCall, context: Context): Promise<HandlerReply> {
  const method = call.method;
  if (!hasMethod(table, method)) throw new TesseraError('UnknownMethod', `no method ${method}`);
  const entry = table[method];
  let args: ArgsByMethod[typeof method];
  try {
    args = entry.decode(call.header);
  } catch (err) {
    throw isTesseraError(err, 'BadRequest') ? new TesseraError('BadRequest', `${method}: ${err.message}`, err.details) : err;
  }
  return entry.handle(args, call, context);
}

// ---- field checkers for decoders; `field` names the value in the BadRequest message ----

/** `value` as a plain object (a msgpack map). Throws BadRequest. */
export function objectField(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) throw new TesseraError('BadRequest', `${field} must be a map`);
  return value as Record<string, unknown>;
}

/** `value` as an array. Throws BadRequest. */
export function arrayField(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new TesseraError('BadRequest', `${field} must be an array`);
  return value;
}

/** `value` as a string. Throws BadRequest. */
export function stringField(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new TesseraError('BadRequest', `${field} must be a string`);
  return value;
}

/** `value` as a finite number (e.g. a time in ms). Throws BadRequest. */
export function numberField(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TesseraError('BadRequest', `${field} must be a number`);
  return value;
}

/** `value` as a whole number >= 0 (a count, an offset in bytes). Throws BadRequest. */
export function wholeNumberField(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new TesseraError('BadRequest', `${field} must be a whole number`);
  return value;
}

/** `value` as bytes (msgpack bin). Throws BadRequest. */
export function bytesField(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TesseraError('BadRequest', `${field} must be bytes`);
  return value;
}

/** `check(value)` when present; undefined when absent (undefined or nil). */
export function optionalField<T>(value: unknown, field: string, check: (value: unknown, field: string) => T): T | undefined {
  return value === undefined || value === null ? undefined : check(value, field);
}
