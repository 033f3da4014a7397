// Test harness: parse XML with saxes, a strict XML 1.0 well-formedness parser written by others, so
// junit.xml and the report's SVG are not checked with the same understanding of XML that wrote them.
import { SaxesParser } from 'saxes';

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** the element's own text content (entities decoded), children's text excluded */
  text: string;
}

/** The root element of a well-formed XML document; throws on the first well-formedness error. */
export function parseXml(xml: string): XmlNode {
  const parser = new SaxesParser({ position: true });
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  let error: Error | undefined;
  parser.on('error', (e) => {
    error ??= e;
  });
  parser.on('opentag', (t) => {
    const n: XmlNode = { name: t.name, attrs: { ...(t.attributes as Record<string, string>) }, children: [], text: '' };
    if (stack.length) stack[stack.length - 1].children.push(n);
    else root = n;
    stack.push(n);
  });
  parser.on('text', (t) => {
    if (stack.length) stack[stack.length - 1].text += t;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.write(xml).close();
  if (error) throw error;
  if (!root) throw new Error('no root element');
  return root;
}

/** Every element named name, depth first. */
export function findAll(n: XmlNode, name: string): XmlNode[] {
  return [...(n.name === name ? [n] : []), ...n.children.flatMap((c) => findAll(c, name))];
}
