// AWS UriEncode and lenient percent-decoding for SigV4 canonicalisation. Invariant: encoding works
// on UTF-8 bytes, keeps only RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) and upper-cases hex.

const UNRESERVED_ONLY = /^[A-Za-z0-9\-._~]*$/;
const UNRESERVED_OR_SLASH_ONLY = /^[A-Za-z0-9\-._~/]*$/;
const HEX_UPPER = '0123456789ABCDEF';

function isUnreservedByte(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    (b >= 0x30 && b <= 0x39) || // 0-9
    b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e // - . _ ~
  );
}

/**
 * AWS `UriEncode` (Amazon S3 API reference, "Signature Calculations for the Authorization Header",
 * Task 1): every UTF-8 byte outside A-Za-z0-9-._~ becomes `%XX` with upper-case hex. '/' is kept
 * only when `encodeSlash` is false (canonical URI); query names and values pass `true`.
 */
export function uriEncode(value: string, encodeSlash: boolean): string {
  if ((encodeSlash ? UNRESERVED_ONLY : UNRESERVED_OR_SLASH_ONLY).test(value)) return value;
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (isUnreservedByte(b) || (b === 0x2f && !encodeSlash)) out += String.fromCharCode(b);
    else out += '%' + HEX_UPPER[b >> 4]! + HEX_UPPER[b & 0xf]!;
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Percent-decodes `value` to a string. Unlike decodeURIComponent it never throws: a '%' not
 * followed by two hex digits is kept literally (so it re-encodes as %25), and byte sequences that
 * are not valid UTF-8 decode to U+FFFD. `plusAsSpace` turns '+' into ' ' (form encoding).
 */
export function percentDecode(value: string, plusAsSpace = false): string {
  if (value.indexOf('%') === -1) return plusAsSpace ? value.replaceAll('+', ' ') : value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x25 && i + 2 < value.length) {
      const hi = hexValue(value.charCodeAt(i + 1));
      const lo = hexValue(value.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes.push((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    if (code === 0x2b && plusAsSpace) {
      bytes.push(0x20);
      continue;
    }
    if (code < 0x80) {
      bytes.push(code);
      continue;
    }
    // Non-ASCII characters sent raw: copy their UTF-8 bytes (handles surrogate pairs).
    const cp = value.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length - 1;
  }
  return Buffer.from(bytes).toString('utf8');
}
