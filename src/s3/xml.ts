// XML in and out of the S3 API with fast-xml-parser. Documents carry the S3 namespace
// (http://s3.amazonaws.com/doc/2006-03-01/) as AWS's responses do; request bodies are
// validated first so malformed input is a MalformedXML error, never an exception elsewhere.
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { s3Error } from './errors.js';

export const s3Namespace = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, processEntities: true });

/** A value tree: strings/numbers/booleans, nested objects, arrays for repeated elements. */
export type XmlValue = string | number | boolean | undefined | XmlTree | XmlValue[];
export interface XmlTree {
  [name: string]: XmlValue;
}

/** Serialises `{ [root]: body }` with an XML declaration and the S3 namespace on the root. */
export function xmlDocument(root: string, body: XmlTree | string): string {
  const content = typeof body === 'string' ? { '#text': body } : body;
  const tree = { [root]: { '@_xmlns': s3Namespace, ...stripUndefined(content) } };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(tree) as string}`;
}

/** Serialises a tree without namespace (error documents have none). */
export function xmlPlain(root: string, body: XmlTree): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: stripUndefined(body) }) as string}`;
}

function stripUndefined(tree: XmlTree): XmlTree {
  const out: XmlTree = {};
  for (const [name, value] of Object.entries(tree)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) out[name] = value.map((v) => (isTree(v) ? stripUndefined(v) : v));
    else out[name] = isTree(value) ? stripUndefined(value) : value;
  }
  return out;
}

function isTree(value: XmlValue): value is XmlTree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a request body. `arrays` names elements that may repeat (always returned as arrays).
 * Throws MalformedXML for anything not well-formed or whose root is not `root`.
 */
export function parseXmlBody(text: string, root: string, arrays: string[]): XmlTree {
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw s3Error('MalformedXML');
  const parser = new XMLParser({
    ignoreAttributes: true,
    removeNSPrefix: true,
    parseTagValue: false,
    // Keys may begin or end with spaces: text is kept exactly; callers trim numbers and flags.
    trimValues: false,
    isArray: (name) => arrays.includes(name),
  });
  const doc = parser.parse(text) as XmlTree;
  const body = doc[root];
  if (body === undefined) throw s3Error('MalformedXML');
  return isTree(body) ? body : {};
}

/** A child element's text, or undefined. */
export function xmlText(tree: XmlTree, name: string): string | undefined {
  const value = tree[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (isTree(value) && Object.keys(value).every((k) => k === '#text') && typeof value['#text'] === 'string') return value['#text'];
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isTree(value) && Object.keys(value).length === 0) return '';
  throw s3Error('MalformedXML');
}

/** Repeated child elements as trees. */
export function xmlChildren(tree: XmlTree, name: string): XmlTree[] {
  const value = tree[name];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    if (isTree(v)) return v;
    // An element with only whitespace inside (e.g. <Object> </Object>) has no children.
    if (typeof v === 'string' && v.trim() === '') return {};
    throw s3Error('MalformedXML');
  });
}
