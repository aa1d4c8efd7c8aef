/**
 * The server-side product catalog: productId → what one unit of that product credits. A store
 * proves that a transaction for a productId happened; only this catalog says what it is worth, so
 * a client can never name its own amount.
 *
 * Format (a JSON file, or the same JSON inline in the option):
 *
 *     { "gems_100": { "currency": "hard", "amount": 100 }, "coins_500": { "currency": "soft", "amount": 500 } }
 */
import { readFileSync } from 'node:fs';
import { MAX_PURCHASE } from '../rules';
import type { CurrencyName } from './types';

export interface CatalogEntry {
  currency: CurrencyName;
  amount: number;
}

export type Catalog = ReadonlyMap<string, CatalogEntry>;

/** Product ids as the stores allow them (App Store: alphanumerics, `.` and `_`; Play: also `-`). */
export const PRODUCT_ID_RE = /^[A-Za-z0-9._-]{1,100}$/;
export const MAX_PRODUCTS = 1000;

/** What the development verifier prices with when no catalog is configured (`noon up`, tests). */
export const DEVELOPMENT_CATALOG: Catalog = new Map<string, CatalogEntry>([
  ['coins_100', { currency: 'soft', amount: 100 }],
  ['coins_250', { currency: 'soft', amount: 250 }],
  ['coins_500', { currency: 'soft', amount: 500 }],
  ['coins_2500', { currency: 'soft', amount: 2500 }],
  ['gems_20', { currency: 'hard', amount: 20 }],
  ['gems_50', { currency: 'hard', amount: 50 }],
  ['gems_100', { currency: 'hard', amount: 100 }],
  ['gems_500', { currency: 'hard', amount: 500 }],
]);

/** A catalog from parsed JSON; throws an Error naming the bad product and field. */
export function parseCatalog(json: unknown): Catalog {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error('the catalog is a JSON object { "<productId>": { "currency": "soft"|"hard", "amount": n } }');
  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length === 0) throw new Error('the catalog has no products');
  if (entries.length > MAX_PRODUCTS) throw new Error(`the catalog has more than ${MAX_PRODUCTS} products`);
  const out = new Map<string, CatalogEntry>();
  for (const [id, v] of entries) {
    if (!PRODUCT_ID_RE.test(id)) throw new Error(`product ${JSON.stringify(id)}: the id must match ${PRODUCT_ID_RE}`);
    const e = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    if (e.currency !== 'soft' && e.currency !== 'hard')
      throw new Error(`product ${id}: currency must be "soft" or "hard"`);
    const amount = e.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1 || amount > MAX_PURCHASE)
      throw new Error(`product ${id}: amount must be an integer in 1..${MAX_PURCHASE}`);
    out.set(id, { currency: e.currency, amount });
  }
  return out;
}

/** The option's value: inline JSON when it starts with `{`, else the path of a JSON file. */
export function loadCatalog(value: string): Catalog {
  const text = value.trimStart().startsWith('{') ? value : readFileSync(value, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
  return parseCatalog(json);
}
