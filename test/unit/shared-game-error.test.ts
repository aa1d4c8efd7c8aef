/**
 * One GameError across copies of the generated code: noon's own (branded at import) and a
 * project's copy (branded by the lines `noon gen` appends) pass each other's `instanceof`, so a
 * Processor writes either as the declared exception; anything else still does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transformSync } from 'esbuild';
import { GameError, ErrorCode } from '../../shared/protocol';
import { NoonError } from '../../shared/errors';
import { SHARE_GAME_ERROR_TS, shareGameErrorType } from '../../shared/protocol/shared-game-error';

/** A project's generated GameError class with noon gen's appended lines, compiled and evaluated. */
function projectCopy(): new (args?: { code?: number; message?: string }) => object {
  const source = `class GameError { constructor(a) { Object.assign(this, a); } }\n${SHARE_GAME_ERROR_TS}\nreturn GameError;`;
  const js = transformSync(source, { loader: 'ts' }).code;
  return new Function(js)() as new (args?: { code?: number; message?: string }) => object;
}

test("noon's GameError and a project's copy are one type to instanceof, both ways", () => {
  const Copy = projectCopy();
  const ours = new GameError({ code: ErrorCode.INSUFFICIENT_FUNDS, message: 'not enough soft' });
  const theirs = new Copy({ code: ErrorCode.BAD_REQUEST, message: 'bad' });
  assert.ok(ours instanceof Copy, "noon's GameError passes the project's Processor");
  assert.ok(theirs instanceof GameError, "the project's GameError passes noon's Processors");
  assert.ok(ours instanceof GameError && theirs instanceof Copy);
});

test('other errors and look-alike objects are not GameErrors', () => {
  const Copy = projectCopy();
  for (const v of [new NoonError('INTERNAL', 'x'), new Error('x'), { code: 7, message: 'x' }, null, 7]) {
    assert.equal(v instanceof GameError, false, String(v));
    assert.equal(v instanceof Copy, false, String(v));
  }
});

test('a class branded by shareGameErrorType joins the same type', () => {
  class Another {
    code = 1;
  }
  shareGameErrorType(Another);
  assert.ok(new Another() instanceof GameError);
  assert.ok(new GameError({}) instanceof Another);
});
