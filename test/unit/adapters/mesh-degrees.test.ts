import { describe, expect, it } from 'vitest';
import { meshDegrees } from '../../../src/adapters/libp2p/options.js';

describe('meshDegrees (gossipsub mesh bounds from gossipMeshDegree)', () => {
  it('keeps gossipsub constraints for every degree: Dlo <= D <= Dhi, Dout < Dlo, Dout <= D/2, Dscore <= D', () => {
    for (let d = 1; d <= 12; d++) {
      const m = meshDegrees(d);
      expect(m.D).toBe(d);
      expect(m.Dlo).toBeGreaterThanOrEqual(1);
      expect(m.Dlo).toBeLessThanOrEqual(d);
      expect(m.Dhi).toBeGreaterThanOrEqual(d);
      expect(m.Dout).toBeLessThan(m.Dlo);
      expect(m.Dout).toBeLessThanOrEqual(d / 2);
      expect(m.Dscore).toBeLessThanOrEqual(d);
    }
  });

  it('gives the default mesh of 2 peers, and libp2p-like bounds for 6', () => {
    expect(meshDegrees(2)).toEqual({ D: 2, Dlo: 1, Dhi: 4, Dscore: 1, Dout: 0 });
    expect(meshDegrees(6)).toEqual({ D: 6, Dlo: 5, Dhi: 12, Dscore: 5, Dout: 3 });
  });

  it('refuses a degree that is not a positive integer, naming the option', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => meshDegrees(bad)).toThrow(/gossipMeshDegree must be an integer >= 1/);
  });
});
