// The XML reader and writer of the S3 layer against XML 1.0 (5th edition): character and entity
// references, CDATA, line-end and whitespace rules, DOCTYPE refusal (internal, external and parameter
// entities, billion laughs), bounded nesting, and escaping that round-trips through the reader.
import { describe, expect, it } from 'vitest';
import { escapeXmlText, parseXmlBody, xmlChildren, xmlDocument, xmlText } from '../../../src/s3/xml.js';
import { xmlNestingDepthMax } from '../../../src/util/limits.js';
import { s3CodeOf } from '../../helpers/error-code.js';

/** The keys of a DeleteObjects body. */
function deleteKeys(body: string): Array<string | undefined> {
  return xmlChildren(parseXmlBody(body, 'Delete', ['Object']), 'Object').map((o) => xmlText(o, 'Key'));
}

const deleteOf = (...keys: string[]): string => `<Delete>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`;

describe('XML reader: references', () => {
  it('decodes decimal and hexadecimal character references (Go clients quote ETags as &#34;)', () => {
    const body = parseXmlBody('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&#34;0a1b&#34;</ETag></Part></CompleteMultipartUpload>', 'CompleteMultipartUpload', ['Part']);
    expect(xmlText(xmlChildren(body, 'Part')[0]!, 'ETag')).toBe('"0a1b"');
    expect(deleteKeys(deleteOf('Bob&#39;s.txt', '&#x22;q&#x22;', '&#x1F600;', '&#233;t&#xe9;'))).toEqual(['Bob\'s.txt', '"q"', '\u{1F600}', 'été']);
  });

  it('decodes the five predefined entities, and no others', () => {
    expect(deleteKeys(deleteOf('&amp;&lt;&gt;&apos;&quot;', 'a&amp;amp;b'))).toEqual(['&<>\'"', 'a&amp;b']);
    for (const bad of ['&nbsp;', '&copy;', '&foo;', 'a & b', '&#;', '&#xZZ;', '&#X22;', '&amp']) {
      expect(s3CodeOf(() => deleteKeys(deleteOf(bad))), bad).toBe('MalformedXML');
    }
  });

  it('refuses references to characters XML 1.0 does not allow (as AWS does for DeleteObjects)', () => {
    for (const bad of ['&#0;', '&#1;', '&#x1;', '&#x1F;', '&#xFFFE;', '&#xD800;', '&#x110000;']) {
      expect(s3CodeOf(() => deleteKeys(deleteOf(bad))), bad).toBe('MalformedXML');
    }
    expect(s3CodeOf(() => deleteKeys(deleteOf('a\u0001b')))).toBe('MalformedXML');
  });
});

describe('XML reader: text, CDATA and whitespace', () => {
  it('keeps element text exactly: leading and trailing spaces, tabs, inner whitespace', () => {
    expect(deleteKeys(deleteOf(' lead', 'trail ', '  ', 'a\tb', 'a  b', '&#32;both&#x20;'))).toEqual([' lead', 'trail ', '  ', 'a\tb', 'a  b', ' both ']);
  });

  it('normalises raw line ends to LF but keeps &#13; and &#10; (AWS "XML related object key constraints")', () => {
    expect(deleteKeys(deleteOf('a\r\nb', 'a\rb', 'a\nb', 'a&#13;b', 'a&#xD;&#xA;b', 'a&#10;b'))).toEqual(['a\nb', 'a\nb', 'a\nb', 'a\rb', 'a\r\nb', 'a\nb']);
  });

  it('reads CDATA sections as literal text, joined with the text around them', () => {
    expect(deleteKeys(deleteOf('<![CDATA[<&>]]>', 'x<![CDATA[&amp;]]>y&amp;', '<![CDATA[]]>', '<![CDATA[a\r\nb]]>'))).toEqual(['<&>', 'x&amp;y&', '', 'a\nb']);
    expect(s3CodeOf(() => deleteKeys(deleteOf('a]]>b')))).toBe('MalformedXML');
  });

  it('ignores whitespace between elements, comments, processing instructions, attributes and prefixes', () => {
    const body = '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- c -->\n<s3:Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/" a="1">\n' +
      '  <s3:Quiet>true</s3:Quiet>\n  <s3:Object>\n    <?pi x?><!-- k --><s3:Key>k</s3:Key>\n  </s3:Object>\n</s3:Delete>\n';
    const tree = parseXmlBody(body, 'Delete', ['Object']);
    expect(xmlText(tree, 'Quiet')).toBe('true');
    expect(xmlChildren(tree, 'Object').map((o) => xmlText(o, 'Key'))).toEqual(['k']);
    expect(deleteKeys(deleteOf('a<!-- c -->b', 'a<?pi x?>b'))).toEqual(['ab', 'ab']);
    expect(xmlChildren(parseXmlBody('<Delete><Object> </Object><Object/></Delete>', 'Delete', ['Object']), 'Object')).toEqual([{}, {}]);
  });

  it('refuses mixed content, repeated single elements, and a wrong root', () => {
    expect(s3CodeOf(() => parseXmlBody('<Delete>x<Object><Key>a</Key></Object></Delete>', 'Delete', ['Object']))).toBe('MalformedXML');
    expect(s3CodeOf(() => deleteKeys('<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>'))).toBe('MalformedXML');
    expect(s3CodeOf(() => xmlText(parseXmlBody('<Delete><Object><Key>a</Key></Object></Delete>', 'Delete', []), 'Object'))).toBe('MalformedXML');
    expect(s3CodeOf(() => parseXmlBody('<Other/>', 'Delete', []))).toBe('MalformedXML');
  });

  it('treats element names like __proto__ as plain names', () => {
    const tree = parseXmlBody('<Delete><__proto__>x</__proto__><constructor>y</constructor></Delete>', 'Delete', []);
    expect(xmlText(tree, '__proto__')).toBe('x');
    expect(xmlText(tree, 'constructor')).toBe('y');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('refuses what is not well-formed', () => {
    const bad = [
      '', '   ', 'not xml', '<Delete>', '<Delete></Other>', '<Delete><Object></Delete>', '<Delete/><Delete/>', '<Delete/>junk',
      '<Delete a="1" a="2"/>', '<Delete a=1/>', '<p:Delete/>', '<Delete><Key>a<b</Key></Delete>', '<?xml version="2.0"?><Delete/>',
    ];
    for (const text of bad) expect(s3CodeOf(() => parseXmlBody(text, 'Delete', ['Object'])), JSON.stringify(text)).toBe('MalformedXML');
  });
});

describe('XML reader: DOCTYPE, entities and nesting are refused', () => {
  const refused = (text: string): void => {
    expect(s3CodeOf(() => parseXmlBody(text, 'Delete', ['Object'])), text.slice(0, 80)).toBe('MalformedXML');
  };

  it('refuses any DOCTYPE, with or without entities', () => {
    refused('<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>');
    refused('<!DOCTYPE Delete [<!ENTITY k "secret">]><Delete><Object><Key>&k;</Key></Object></Delete>');
    refused('<!DOCTYPE Delete SYSTEM "file:///etc/passwd"><Delete><Object><Key>k</Key></Object></Delete>');
    refused('<!DOCTYPE Delete [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&xxe;</Key></Object></Delete>');
    refused('<!DOCTYPE Delete [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]><Delete><Object><Key>k</Key></Object></Delete>');
  });

  it('refuses a billion-laughs document and an oversized entity without expanding them', () => {
    const levels = ['<!ENTITY lol0 "lol">'];
    for (let i = 1; i <= 9; i++) levels.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
    const laughs = `<?xml version="1.0"?><!DOCTYPE Delete [${levels.join('')}]><Delete><Object><Key>&lol9;</Key></Object></Delete>`;
    const heapBefore = process.memoryUsage().heapUsed;
    refused(laughs);
    // 10^9 expansions would need gigabytes; refusing it costs next to nothing.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    refused(`<!DOCTYPE Delete [<!ENTITY big "${'x'.repeat(1024 * 1024)}">]><Delete><Object><Key>&big;&big;&big;</Key></Object></Delete>`);
  });

  it(`accepts nesting up to xmlNestingDepthMax (${xmlNestingDepthMax}) and refuses deeper, even 290,000 levels`, () => {
    const nested = (depth: number): string => `<Delete>${'<a>'.repeat(depth - 1)}${'</a>'.repeat(depth - 1)}</Delete>`;
    expect(s3CodeOf(() => parseXmlBody(nested(xmlNestingDepthMax), 'Delete', []))).toBeUndefined();
    refused(nested(xmlNestingDepthMax + 1));
    refused(nested(290_000));
    refused(`<Delete>${'<a>'.repeat(290_000)}`);
  });
});

describe('XML writer', () => {
  it('escapes markup, quotes, CR/LF/TAB and control characters exactly once', () => {
    expect(escapeXmlText('Bob\'s "x" & <y> a&amp;b &#39;')).toBe('Bob&apos;s &quot;x&quot; &amp; &lt;y&gt; a&amp;amp;b &amp;#39;');
    expect(escapeXmlText('a\rb\nc\td')).toBe('a&#13;b&#10;c&#9;d');
    expect(escapeXmlText('\u0001\u001f\u007f\ufffe')).toBe('&#x1;&#x1F;&#x7F;&#xFFFE;');
    expect(escapeXmlText('é \u{1F600} \u0085')).toBe('é \u{1F600} \u0085');
  });

  it('round-trips every key XML 1.0 can carry through the reader', () => {
    const keys = ['Bob\'s.txt', 'q"uote', 'a&b', '<tag>', ' lead', 'trail ', 'cr\rlf\n', 'tab\t', 'del\u007f', '&amp;', '&#39;', 'é/\u{1F600}'];
    const doc = xmlDocument('Delete', { Object: keys.map((Key) => ({ Key })) });
    expect(deleteKeys(doc)).toEqual(keys);
  });

  it('writes attributes (TAB and LF kept as references), repeated elements, numbers, booleans and empty elements', () => {
    const xml = xmlDocument('R', { A: [{ K: 'x' }, { K: 'y' }], N: 3, B: false, E: '', G: { '@_t': 'a"b\tc\nd', ID: 'i' }, U: undefined });
    expect(xml).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      '<A><K>x</K></A><A><K>y</K></A><N>3</N><B>false</B><E></E><G t="a&quot;b&#9;c&#10;d"><ID>i</ID></G></R>');
  });
});
