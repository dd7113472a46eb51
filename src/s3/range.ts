// Byte ranges (RFC 9110 section 14; GetObject "Range" supports one range per request). A
// satisfiable range is served as 206 even when it covers the whole object, as AWS does.

/** An inclusive byte range [first, last]. */
export interface ByteRange {
  first: number;
  last: number;
}

/**
 * Parses a Range header against an object of `size` bytes.
 * Returns undefined when the header is absent, not a single bytes range, or syntactically
 * invalid (the whole object is served, per RFC 9110); 'unsatisfiable' for a 416.
 */
export function parseRange(value: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (!match) return undefined;
  const [, startText = '', endText = ''] = match;
  if (startText === '' && endText === '') return undefined;
  if (startText === '') {
    const suffix = Number(endText);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { first: Math.max(0, size - suffix), last: size - 1 };
  }
  const first = Number(startText);
  const last = endText === '' ? size - 1 : Math.min(Number(endText), size - 1);
  if (endText !== '' && Number(endText) < first) return undefined;
  if (first >= size) return 'unsatisfiable';
  return { first, last };
}
