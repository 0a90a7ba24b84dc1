export * from './vector-clock.js';
export * from './hlc.js';
export { assertNodeId, NODE_ID_PATTERN } from './node-ids.js';
