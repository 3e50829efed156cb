// The app (`node dist/server.js`): /health, and /notes from PostgreSQL.
'use strict';
const http = require('http');
const { connect } = require('./pg');

http.createServer(async (req, res) => {
  if (req.url === '/health') return res.end('ok\n');
  if (req.url === '/notes') {
    try {
      const db = await connect(process.env.DATABASE_URL);
      const rows = await db.query('SELECT id, body FROM notes ORDER BY id');
      db.close();
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify(rows) + '\n');
    } catch (e) {
      res.statusCode = 503;
      return res.end(e.message + '\n');
    }
  }
  res.statusCode = 404;
  res.end('not found\n');
}).listen(3000, '0.0.0.0', () => console.log('listening on 3000'));
