/**
 * A short, safe rendering of an untrusted value for error messages: never throws (unlike
 * `JSON.stringify` on a BigInt), never dumps a whole object, and shows NaN and Infinity as such (where
 * `JSON.stringify` would print `null`).
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (value === null) return 'null';
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      return 'an object';
  }
}
