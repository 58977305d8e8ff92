/**
 * The field limits of the forms and the one rule for typed text (hidden characters, length):
 * the server's own definitions (src/limits.ts), which its request schemas, operations and
 * columns use too. Imported from here, so the pages name one path.
 */
export { LIMITS, normalizeText, textProblem } from '../../src/limits';
