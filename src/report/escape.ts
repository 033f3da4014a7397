// Escaping for the text that reports embed in XML and HTML (junit.xml, report.html, inline SVG).

/**
 * Characters XML 1.0 cannot carry at all, even as character references: C0 controls other than tab,
 * newline and carriage return, lone surrogates, U+FFFE and U+FFFF.
 */
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text safe as XML/HTML element content and as a quoted attribute value: the five markup characters
 * become entities, characters XML cannot hold become a visible `\uXXXX`. Anything not a string is
 * converted with String() first.
 */
export function escapeXml(text: unknown): string {
  return String(text)
    .replace(NOT_XML_CHAR, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/[&<>"']/g, (c) => ENTITY[c]);
}

/** escapeXml for element content only: quotes stay as they are (readable bodies in junit.xml). */
export function escapeXmlText(text: unknown): string {
  return escapeXml(text).replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}

/** escapeXml, and line breaks as character references: for attributes whose newlines must survive parsing. */
export function escapeXmlAttr(text: unknown): string {
  return escapeXml(text).replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}
