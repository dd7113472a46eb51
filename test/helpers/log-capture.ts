// A pino logger that keeps what it logs in memory, for tests that assert a component's log lines.
import { pino, type Logger } from 'pino';

/** One logged line as pino writes it: numeric level (30 info, 40 warn, 50 error), msg and the other fields. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger at level info whose lines are kept; `messages(level)` lists the msg of each line at `level`, in order. */
export function captureLog(): { log: Logger; lines: LogLine[]; messages: (level: number) => string[] } {
  const lines: LogLine[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }) as Logger;
  return { log, lines, messages: (level) => lines.filter((l) => l.level === level).map((l) => l.msg) };
}
