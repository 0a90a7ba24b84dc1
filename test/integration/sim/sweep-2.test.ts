import { defineSweep } from './sweep-support.js';

// The other half of the sweep (see sweep.test.ts).
defineSweep(['clock-skew', 'crash-restart', 'majorities-ring', 'no-majority-2-2']);
