/**
 * Just enough DER to list the extension OIDs of an X.509 certificate (node:crypto's
 * X509Certificate verifies signatures and issuers, but does not expose arbitrary extensions).
 * Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ..., [3] EXPLICIT Extensions }, ... };
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN OPTIONAL, extnValue OCTET STRING }.
 * Anything malformed throws.
 */

interface Tlv {
  tag: number;
  /** first byte of the contents */
  start: number;
  /** one past the last byte of the contents */
  end: number;
}

function readTlv(buf: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new Error('DER: truncated');
  const tag = buf[pos] as number;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported');
  let len = buf[pos + 1] as number;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new Error('DER: length beyond the data');
  return { tag, start, end };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.start; pos < parent.end;) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

function oidOf(buf: Buffer, t: Tlv): string {
  if (t.tag !== 0x06 || t.end <= t.start) throw new Error('DER: expected an OID');
  const values: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    const b = buf[i] as number;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      values.push(v);
      v = 0;
    }
  }
  if (v !== 0 || values.length === 0) throw new Error('DER: truncated OID');
  const first = values[0] as number;
  const top = first < 80 ? Math.floor(first / 40) : 2;
  return [top, first - 40 * top, ...values.slice(1)].join('.');
}

/** The OIDs of the certificate's extensions (empty when it has none). */
export function extensionOids(der: Buffer): string[] {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30) throw new Error('DER: a certificate is a SEQUENCE');
  const tbs = children(der, cert)[0];
  if (tbs?.tag !== 0x30) throw new Error('DER: tbsCertificate is a SEQUENCE');
  const ext = children(der, tbs).find((t) => t.tag === 0xa3);
  if (ext === undefined) return [];
  const list = children(der, ext)[0];
  if (list?.tag !== 0x30) throw new Error('DER: Extensions is a SEQUENCE');
  return children(der, list).map((e) => {
    const id = children(der, e)[0];
    if (id === undefined) throw new Error('DER: empty extension');
    return oidOf(der, id);
  });
}
