// The release (`node dist/migrate.js`): migrations/*.sql in order, once each.
'use strict';
const fs = require('fs');
const path = require('path');
const { connect } = require('./pg');

(async () => {
  const db = await connect(process.env.DATABASE_URL);
  await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY)');
  const done = new Set((await db.query('SELECT version FROM schema_migrations')).map((r) => r[0]));
  const dir = path.join(__dirname, '..', 'migrations');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const version = file.slice(0, -4);
    if (done.has(version)) continue;
    console.log('migrating', version);
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    await db.query(`BEGIN; ${sql}; INSERT INTO schema_migrations VALUES ('${version}'); COMMIT`);
  }
  db.close();
})().catch((e) => { console.error('migration failed:', e.message); process.exit(1); });
