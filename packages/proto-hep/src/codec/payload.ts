/** A named part of a trace payload (OpenSIPS `add_payload_part`), in insertion order. */
export type PayloadParts = ReadonlyArray<readonly [key: string, value: string]>;

/** HOMER5 (homer5_on=1): the values only, joined by the delimiter; keys dropped. */
export function buildHomer5Payload(parts: PayloadParts, delim = ':'): Buffer {
  return Buffer.from(parts.map(([, v]) => v).join(delim), 'utf8');
}

/** cJSON's string escaping: the short escapes, other control bytes as \u00XX, the rest as is. */
function cjsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += s[i];
  }
  return out + '"';
}

/** cJSON_Print of a flat string object: `{\n\t"k":\t"v",\n...}` (formatted, tab-indented). */
export function cjsonPrint(parts: PayloadParts): string {
  if (parts.length === 0) return '{\n}';
  let out = '{\n';
  parts.forEach(([k, v], i) => {
    out += `\t${cjsonString(k)}:\t${cjsonString(v)}${i < parts.length - 1 ? ',' : ''}\n`;
  });
  return out + '}';
}

/** HOMER6 (homer5_on=0): the parts as a cJSON pretty-printed object. */
export function buildHomer6Payload(parts: PayloadParts): Buffer {
  return Buffer.from(cjsonPrint(parts), 'utf8');
}

/**
 * Correlations as OpenSIPS writes them: HOMER5 keeps the first whose name starts with "sip"
 * (chunk 0x0011); HOMER6 prints them all as JSON (chunk 101).
 */
export function buildCorrelation(
  correlations: PayloadParts,
  homer5: boolean,
): { correlationId?: string; extraCorrelation?: string } {
  if (homer5) {
    const sip = correlations.find(([k]) => k.startsWith('sip'));
    return sip ? { correlationId: sip[1] } : {};
  }
  return correlations.length ? { extraCorrelation: cjsonPrint(correlations) } : {};
}
