// x-amz-meta-* values and non-ASCII text, as the S3 user guide ("Working with object metadata",
// user-defined metadata) describes: values are RFC 2047-decoded before they are stored and
// RFC 2047-encoded on the way out when they hold anything but printable US-ASCII. Stored values
// are UTF-8 bytes held in a latin1 string (one char per byte), which is how Node hands header
// bytes over and writes them back.
import libmime from 'libmime';
import { headerText } from './auth/canonical.js';

/** Printable US-ASCII, space and tab: returned as is (AWS returns such values unencoded, '=?' included). */
const plainValue = /^[\x20-\x7e\t]*$/;
/**
 * Bytes AWS leaves as they are inside a Q encoded-word; every other byte becomes =XX and a space
 * becomes '_' (RFC 2047 section 4.2). Seen in AWS's answers: '_', '=' and '?' are escaped.
 */
const qSafeBytes = new Set(Buffer.from('!"#$%&\'()*+,-./0123456789:;<>@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^`abcdefghijklmnopqrstuvwxyz{|}~\t', 'latin1'));
const space = 0x20;
/** Unicode "Other" (controls, format, surrogates, private use, unassigned) and the replacement char: AWS answers these in B (base64). */
const needsBase64 = /[\p{C}\uFFFD]/u;

/**
 * The value to store for one x-amz-meta-* header as received (a latin1 string of its bytes):
 * RFC 2047 encoded-words (B or Q, any charset Node or iconv-lite knows) decoded, the result as
 * UTF-8 bytes in a latin1 string. Raw non-ASCII bytes are read as UTF-8 when valid, else latin1.
 */
export function storedMetadataValue(received: string): string {
  let text = headerText(received);
  if (text.includes('=?')) text = libmime.decodeWords(text);
  return Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * The header value to answer for a stored x-amz-meta-* value: as is when it is printable ASCII,
 * else one RFC 2047 encoded-word, `=?UTF-8?Q?...?=`, or `=?UTF-8?B?...?=` when the text holds
 * control or unprintable characters (what AWS answers; see the user guide page above).
 */
export function metadataResponseValue(stored: string): string {
  if (plainValue.test(stored)) return stored;
  const bytes = Buffer.from(headerText(stored), 'utf8');
  if (needsBase64.test(bytes.toString('utf8'))) return `=?UTF-8?B?${bytes.toString('base64')}?=`;
  let encoded = '';
  for (const byte of bytes) {
    if (byte === space) encoded += '_';
    else if (qSafeBytes.has(byte)) encoded += String.fromCharCode(byte);
    else encoded += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `=?UTF-8?Q?${encoded}?=`;
}
