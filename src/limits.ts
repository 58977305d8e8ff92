/**
 * The length limits of what people type, in characters: one definition for the request schemas,
 * the operations that validate, the database columns and the pages' forms.
 */
export const LIMITS = {
  /** A visitor's, a companion's or a host's name. */
  personName: 32,
  /** The visitor's company (`come_from`). */
  company: 64,
  /** The free-text remark of an application. */
  remark: 200,
  /** Companions of one application (`retinues`). */
  companions: 20,
  /** A phone number as typed (spaces, dashes and +86 are removed before it is checked). */
  phoneInput: 32,
} as const;
