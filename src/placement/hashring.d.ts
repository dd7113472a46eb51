// Minimal types for `hashring` 3.2.0 (pinned; ships no declarations): only the surface that
// src/placement/ring.ts uses, checked against node_modules/hashring/index.js.

declare module 'hashring' {
  /** Per-server options; an explicit `vnodes` replaces the weight-derived count (index.js `continuum`). */
  interface HashRingServerOptions {
    weight?: number;
    vnodes?: number;
  }

  interface HashRingOptions {
    /** Virtual nodes per server when none is given per server (default 40); each makes `replicas` points. */
    'vnode count'?: number;
    /** Ring points per virtual node, one per 4-byte slice of the md5 digest (default 4, ketama). */
    replicas?: number;
    /** Entries of the LRU cache used by `get` only (default 5000). */
    'max cache size'?: number;
  }

  class HashRing {
    constructor(
      servers: string | readonly string[] | Readonly<Record<string, number | HashRingServerOptions>>,
      algorithm?: string,
      options?: HashRingOptions,
    );
    /** Number of points on the ring. */
    readonly size: number;
    /** Server owning the first point at or after md5(key). */
    get(key: string): string | undefined;
    /** Up to `size` servers met walking clockwise from md5(key); distinct when `unique` (default true). */
    range(key: string, size?: number, unique?: boolean): string[];
    /** Ring points (32-bit values) of each server. */
    points(servers?: readonly string[]): Record<string, number[]>;
  }

  export = HashRing;
}
