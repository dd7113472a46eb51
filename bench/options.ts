// The bench's options after parsing (run.ts parseOptions): what the scenario, cell and section
// runners read. Types only, so every runner can depend on it without depending on the CLI.
import type { BenchOp } from './report.js';

/** What parseOptions made of argv, the defaults of a full run or --quick filled in. */
export interface Options {
  quick: boolean;
  windowMs: number;
  warmupMs: number;
  sizes: number[];
  concurrency: number[];
  ops: BenchOp[];
  listObjects: number;
  endpoint: string | undefined;
  accessKey: string;
  secretKey: string;
  region: string;
  ca: string | undefined;
  serverPid: number | undefined;
  dataDirParent: string | undefined;
  keepData: boolean;
  serverBin: string | undefined;
  resultsDir: string | undefined;
  scenarios: string[];
  limits: boolean;
  codec: boolean;
  transport: boolean;
  repair: boolean;
  clusterClients: ClusterClients;
  /** `--workers N` for every s3d started (single node: the flag; clusters: cluster init's); undefined: the server's default (one per core). */
  workers: number | undefined;
}

/** Where cluster cells send requests: every node's S3 endpoint in turn, or node 1 only. */
export type ClusterClients = 'round-robin' | 'node-1';
