/**
 * One GameError across copies of the generated code. A studio's `noon gen` output has its own
 * copy of noon's types (src/gen/noon), so its Processor's `err instanceof GameError` would refuse
 * noon's GameError (what `ctx.services.player` throws) and answer TApplicationException UNKNOWN
 * instead of the declared exception; and noon's Processors would refuse the studio's copy. Every
 * copy is branded with one registered symbol and answers `instanceof` by the brand: noon's own
 * here, a studio's by the lines `noon gen` appends to its generated GameError.
 */
const BRAND = Symbol.for('noon.GameError');

function hasBrand(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
}

export function shareGameErrorType(cls: abstract new (...args: never[]) => object): void {
  Object.defineProperty(cls.prototype, BRAND, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, { value: hasBrand });
}

/** What `noon gen` appends to a project's generated `noon/GameError.ts`: the same brand, inline. */
export const SHARE_GAME_ERROR_TS = `
// Added by noon gen: every copy of noon's generated GameError (noon's own, this project's) is one
// type to \`instanceof\`, so a GameError from any service is written as the declared exception.
Object.defineProperty(GameError.prototype, Symbol.for("noon.GameError"), { value: true });
Object.defineProperty(GameError, Symbol.hasInstance, {
    value: (v: unknown): boolean =>
        typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[Symbol.for("noon.GameError")] === true,
});
`;
