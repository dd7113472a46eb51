// XML in and out of the S3 API. Request bodies are read with saxes, a streaming parser that checks
// XML 1.0 well-formedness (W3C Recommendation, 5th edition): character references, the five
// predefined entities, CDATA sections and line-end normalisation are decoded there; any DOCTYPE is
// refused, so no entity is ever defined or expanded, and nesting is bounded (xmlNestingDepthMax).
// Responses carry the S3 namespace (http://s3.amazonaws.com/doc/2006-03-01/) as AWS's do; every
// text and attribute value is escaped once, here, following AWS "XML related object key constraints".
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { xmlNestingDepthMax } from '../util/limits.js';
import { s3Error, type S3Error } from './errors.js';

export const s3Namespace = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A value tree: strings/numbers/booleans, nested objects, arrays for repeated elements. */
export type XmlValue = string | number | boolean | undefined | XmlTree | XmlValue[];
export interface XmlTree {
  [name: string]: XmlValue;
}

// ---- writing ----

/** Characters that never go out raw: markup, quotes, and line ends/tabs a reader would normalise. */
const namedEscapes: Readonly<Record<string, string>> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;', '\n': '&#10;', '\t': '&#9;',
};
// C0 controls, DEL, U+FFFE/U+FFFF and lone surrogates (the /u flag matches only unpaired ones).
const escapedCharacters = /[&<>"'\u0000-\u001f\u007f\ufffe\uffff]|[\ud800-\udfff]/gu;

/**
 * Escapes text for element content or a double-quoted attribute value. `& < > " '` become the
 * predefined entities; CR, LF and TAB become character references (`&#13;` as AWS's "XML related
 * object key constraints" asks) so that no reader's end-of-line or attribute normalisation alters
 * them. Other C0 controls and DEL become `&#xN;` as AWS writes them: XML 1.0 has no well-formed form
 * for U+0001-U+0008, U+000B, U+000C, U+000E-U+001F, so clients that must read such keys ask for
 * `encoding-type=url` (botocore and the aws cli always do for listings).
 */
export function escapeXmlText(text: string): string {
  return text.replace(escapedCharacters, (c) => namedEscapes[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

function renderScalar(value: string | number | boolean): string {
  return escapeXmlText(String(value));
}

function renderElement(name: string, value: XmlValue, out: string[]): void {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) renderElement(name, item, out);
    return;
  }
  if (!isXmlTree(value)) {
    out.push(`<${name}>${renderScalar(value)}</${name}>`);
    return;
  }
  let attributes = '';
  const content: string[] = [];
  for (const [child, childValue] of Object.entries(value)) {
    if (childValue === undefined) continue;
    if (child.startsWith('@_')) {
      if (isXmlTree(childValue) || Array.isArray(childValue)) throw new TypeError(`attribute ${child} must be a scalar`);
      attributes += ` ${child.slice(2)}="${renderScalar(childValue)}"`;
    } else if (child === '#text') {
      if (isXmlTree(childValue) || Array.isArray(childValue)) throw new TypeError('#text must be a scalar');
      content.push(renderScalar(childValue));
    } else {
      renderElement(child, childValue, content);
    }
  }
  out.push(`<${name}${attributes}>${content.join('')}</${name}>`);
}

const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * Serialises `{ [root]: body }` with an XML declaration and the S3 namespace on the root.
 * Keys starting `@_` are attributes, `#text` is the element's text, arrays repeat an element,
 * undefined values are left out; every value is escaped by escapeXmlText.
 */
export function xmlDocument(root: string, body: XmlTree | string): string {
  const content = typeof body === 'string' ? { '#text': body } : body;
  const out: string[] = [];
  renderElement(root, { '@_xmlns': s3Namespace, ...content }, out);
  return declaration + out.join('');
}

/** Serialises a tree without namespace (error documents have none). */
export function xmlPlain(root: string, body: XmlTree): string {
  const out: string[] = [];
  renderElement(root, body, out);
  return declaration + out.join('');
}

/** True when `value` is an element with child elements (a tree), not text, a scalar or a list. */
export function isXmlTree(value: XmlValue): value is XmlTree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---- reading ----

interface OpenElement {
  name: string;
  /** Child elements by local name; null prototype, so names like `__proto__` are plain keys. */
  children: XmlTree;
  hasChildren: boolean;
  text: string[];
}

function malformed(): S3Error {
  return s3Error('MalformedXML');
}

function isXmlWhitespace(text: string): boolean {
  return /^[\x20\t\r\n]*$/.test(text);
}

/** The value an element closes with: its exact text, or its children (no mixed content in S3's schemas). */
function closedValue(element: OpenElement): XmlValue {
  const text = element.text.join('');
  if (!element.hasChildren) return text;
  if (!isXmlWhitespace(text)) throw malformed();
  return element.children;
}

function addChild(parent: OpenElement, name: string, value: XmlValue, arrays: readonly string[]): void {
  parent.hasChildren = true;
  const existing = parent.children[name];
  if (existing === undefined) parent.children[name] = arrays.includes(name) ? [value] : value;
  else if (Array.isArray(existing) && arrays.includes(name)) existing.push(value);
  // A repeated element the schema allows once stays detectable: xmlText refuses arrays.
  else parent.children[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
}

/**
 * Parses a request body (AWS S3 request XML, e.g. CompleteMultipartUpload, Delete,
 * CreateBucketConfiguration). Element names are matched by local name (namespace prefixes dropped);
 * `arrays` names elements that may repeat (always returned as arrays). An element without child
 * elements yields its text exactly as decoded (no trimming: keys may start or end with spaces);
 * one with children yields a tree. Attributes, comments and processing instructions are ignored.
 * Throws MalformedXML for a body that is empty, not well-formed XML 1.0 (with namespaces), has a
 * DOCTYPE (so no entity is defined or expanded), nests deeper than xmlNestingDepthMax, mixes text
 * with child elements, or whose root is not `root`.
 */
export function parseXmlBody(text: string, root: string, arrays: string[]): XmlTree {
  if (isXmlWhitespace(text)) throw malformed();
  const parser = new SaxesParser({ xmlns: true, position: false });
  const stack: OpenElement[] = [];
  let result: XmlValue;
  let rootName: string | undefined;
  parser.on('error', () => {
    throw malformed();
  });
  parser.on('doctype', () => {
    throw malformed();
  });
  parser.on('opentagstart', () => {
    if (stack.length >= xmlNestingDepthMax) throw malformed();
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    stack.push({ name: tag.local, children: Object.create(null) as XmlTree, hasChildren: false, text: [] });
  });
  const onText = (chunk: string): void => {
    stack.at(-1)?.text.push(chunk);
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    const element = stack.pop();
    if (element === undefined) throw malformed();
    const value = closedValue(element);
    const parent = stack.at(-1);
    if (parent === undefined) {
      rootName = element.name;
      result = value;
    } else {
      addChild(parent, element.name, value, arrays);
    }
  });
  // Errors the parser reports reach the handler above and leave as MalformedXML; anything else is a bug.
  parser.write(text).close();
  if (rootName !== root) throw malformed();
  return isXmlTree(result) ? result : {};
}

/** A child element's text, or undefined. Throws MalformedXML when it has children or repeats. */
export function xmlText(tree: XmlTree, name: string): string | undefined {
  const value = tree[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  throw malformed();
}

/** Repeated child elements as trees (an element with no children, or only whitespace, is `{}`). */
export function xmlChildren(tree: XmlTree, name: string): XmlTree[] {
  const value = tree[name];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    if (isXmlTree(v)) return v;
    if (typeof v === 'string' && isXmlWhitespace(v)) return {};
    throw malformed();
  });
}
