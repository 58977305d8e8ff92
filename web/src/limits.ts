/**
 * The field limits of the forms: the server's own definition (src/limits.ts), which its request
 * schemas, operations and columns use too. Imported from here, so the pages name one path.
 */
export { LIMITS } from '../../src/limits';
