import 'dotenv/config';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from './client.js';

try {
  const config = loadConfig();
  const database = await openDatabase(config.databaseUrl);
  await database.migrate();
  await database.close();
  console.log('migrations applied');
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
