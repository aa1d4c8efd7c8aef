/**
 * A channel message's attributes (the IDL's map<string, ChannelValue>) as the record a filter
 * reads: text as a string, integer and real as numbers, flag as a boolean. Checked once, where a
 * message is published, so the brokers that evaluate filters read only well-formed values.
 */
import type { ChannelValue } from '../protocol';
import type { Row } from '../query';

export const MAX_ATTRIBUTES = 32;
export const MAX_ATTRIBUTE_TEXT = 1024;
export const MAX_CHANNEL_PAYLOAD = 64 * 1024;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.]{0,63}$/;

export type AttributeValue = string | number | boolean;

function valueOf(v: ChannelValue): AttributeValue | undefined {
  if (v.text != null) return v.text;
  if (v.integer != null) return v.integer.toNumber(true);
  if (v.real != null) return v.real;
  if (v.flag != null) return v.flag;
  return undefined;
}

function countSet(v: ChannelValue): number {
  return [v.text, v.integer, v.real, v.flag].filter((x) => x != null).length;
}

/** Why these attributes cannot be published, or undefined when they can. */
export function attributesProblem(attributes: ReadonlyMap<string, ChannelValue>): string | undefined {
  if (attributes.size > MAX_ATTRIBUTES) return `at most ${MAX_ATTRIBUTES} attributes, got ${attributes.size}`;
  for (const [name, v] of attributes) {
    if (!NAME_RE.test(name))
      return `attribute name ${JSON.stringify(name.slice(0, 80))} is not a letter or _ then up to 63 letters, digits, _ or .`;
    if (countSet(v) !== 1) return `attribute ${name} must set exactly one of text, integer, real, flag`;
    if (v.text != null && v.text.length > MAX_ATTRIBUTE_TEXT)
      return `attribute ${name} is longer than ${MAX_ATTRIBUTE_TEXT} characters`;
    if (v.real != null && !Number.isFinite(v.real)) return `attribute ${name} is not a finite number`;
  }
  return undefined;
}

/** The record a filter reads; a prototype-free object, so `__proto__` is just a name. */
export function attributeRow(attributes: ReadonlyMap<string, ChannelValue> | undefined): Row {
  const row: Record<string, AttributeValue> = Object.create(null) as Record<string, AttributeValue>;
  for (const [name, v] of attributes ?? []) {
    const value = valueOf(v);
    if (value !== undefined) row[name] = value;
  }
  return row;
}
