import { defineSweep } from './sweep-support.js';

// Split over two files so that vitest runs them on both cores (see sweep-2.test.ts).
defineSweep(['partition-heal', 'split-brain', 'flapping-links']);
