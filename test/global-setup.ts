// Prepared by the database layer: a migrated template that each test file clones.
export default async function setup(): Promise<void> {}
