/**
 * The views' strong validator (viewEtag): what moves with the clock alone (the view's own build time,
 * ages) is left out, so polling an unchanged view costs a 304; data deeper in the view that happens to
 * be called `asOf` (a readiness row's candle time) is content and changes the tag.
 */
import { describe, expect, it } from 'vitest';
import { viewEtag } from '../../shared/pipeline/dashboard.js';

describe('viewEtag', () => {
  it('ignores the build time and ages, not nested data', () => {
    const view = (asOf: number, ageMs: number, rowAsOf: number) => ({ asOf, readiness: [{ symbol: 'BTCUSDT', asOf: rowAsOf, ageMs }] });
    expect(viewEtag(view(1, 10, 100))).toBe(viewEtag(view(2, 20, 100)));
    expect(viewEtag(view(1, 10, 100))).not.toBe(viewEtag(view(1, 10, 160)));
  });
});
