// What every S3 operation handler receives and returns.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { ObjectLayer } from '../object/object-layer.js';
import type { AuthContext } from './auth/sigv4.js';

/** Gateway-wide settings the handlers need. */
export interface GatewaySettings {
  region: string;
  /** Canonical owner reported in listings and ACL-shaped responses. */
  owner: { id: string; displayName: string };
  /** Stripe block size for new objects, bytes. */
  blockSizeBytes: number;
}

/** One request, after routing and authentication. */
export interface RequestContext {
  /** x-amz-request-id: 16 upper-case hex chars. */
  id: string;
  req: IncomingMessage;
  method: string;
  /** Path as sent, percent-encoded, without the query. */
  rawPath: string;
  query: URLSearchParams;
  bucket: string | undefined;
  key: string | undefined;
  operation: string;
  auth: AuthContext;
  objects: ObjectLayer;
  settings: GatewaySettings;
  log: Logger;
  /** Decoded request body bytes consumed so far (for the access log). */
  bytesIn: number;
  /**
   * Called once before the body is first read: sends `100 Continue` when the client asked for it
   * (`Expect: 100-continue`, RFC 9110 section 10.1.1), so a request refused earlier never makes the
   * client send its body. Idempotent.
   */
  startBody(): void;
}

/** A handler's answer; bodies may stream. */
export interface S3Response {
  status: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer | AsyncIterable<Buffer>;
  /** Runs once the response finished or failed (releases pinned data). */
  done?: () => void;
}

export type Handler = (ctx: RequestContext) => Promise<S3Response>;
